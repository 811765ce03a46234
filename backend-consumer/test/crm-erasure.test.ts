/**
 * Erasure through the CRM destinations (privacy), on real parts: leads made by the real drain, destinations in
 * MariaDB through the admin API, a delivery worker, and the local HubSpot, HighLevel and Standard Webhooks stand-ins.
 * A lead is delivered everywhere, then erased as the privacy API does (the lead document and its lead_keys go, with
 * the person's events and sessions, and `enqueueErasedLead` is called): each CRM forgets the contact, the receiver
 * forgets the lead's deliveries, and no MongoDB collection of the test database holds the person any more.
 */
import { randomBytes } from "node:crypto";
import type { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { createApi } from "../src/api/app.ts";
import { ConnectionStore } from "../src/crm/connections.ts";
import { loadConnectors } from "../src/crm/connectors/index.ts";
import { DestinationDirectory } from "../src/crm/directory.ts";
import type { ErasureOutcome } from "../src/crm/erasure.ts";
import { enqueueDeletedLead, enqueueErasedLead, LEAD_OUTBOX, pendingErasures, type OutboxEntry } from "../src/crm/outbox.ts";
import { SecretBox } from "../src/crm/secret-box.ts";
import { DELIVERY_STATUS, DeliveryWorker, type DeliveryStatusDocument } from "../src/crm/worker.ts";
import { fieldMappings, fields, forms, locations, sites, tenants } from "../src/config/schema.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import type { LeadDocument } from "../src/store/leads.ts";
import { startHighLevelFake, type HighLevelFake } from "../../scripts/testing/fake-crm/highlevel.ts";
import { startHubSpotFake, type HubSpotFake } from "../../scripts/testing/fake-crm/hubspot.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const JWT = randomBytes(32).toString("base64url");
const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
const HUBSPOT_TOKEN = `pat-na1-${randomBytes(12).toString("hex")}`;
const HL = { clientId: "hl-client-id", clientSecret: "hl-client-secret-" + randomBytes(8).toString("hex"), company: "hl-company-e", location: "hl-location-e" };
const T = crypto.randomUUID();
const ids = { loc: crypto.randomUUID(), site: crypto.randomUUID(), form: crypto.randomUUID() };

let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
let worker: DeliveryWorker;
let receiver: WebhookReceiver;
let hubspot: HubSpotFake;
let highlevel: HighLevelFake;
let agency: MadeUser;
const logs: string[] = [];
const outcomes: ErasureOutcome[] = [];
const dest: Record<string, string> = {};

/** A person: what must be nowhere once erased. */
interface Person {
  email: string;
  first: string;
  last: string;
  tel: string;
  /** Forms of the values as stored or sent somewhere (lowercased email, E.164 and bare digits of the phone). */
  traces: string[];
}

function person(first: string, last: string, phone: string): Person {
  const email = `${first}.${last}@Example.com`;
  const digits = phone.replace(/\D/g, "");
  return { email, first, last, tel: phone, traces: [email.toLowerCase(), first.toLowerCase(), last.toLowerCase(), digits, `+1${digits}`, phone.toLowerCase()] };
}

async function call(user: MadeUser | null, method: string, path: string, body?: unknown) {
  const res = await app.request(path, {
    method,
    headers: { ...(user ? { authorization: `Bearer ${user.token}` } : {}), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown> };
}

let seq = 0;
/** A form submission (or partial lead) through the real drain. */
async function submit(p: Person, opts: { type?: "form_submission" | "form_interaction" } = {}): Promise<LeadDocument> {
  const visitor = `v-erase-${++seq}`;
  const event: TrackerEvent = {
    id: crypto.randomUUID(),
    type: opts.type ?? "form_submission",
    ts: Date.now(),
    sessionId: `s-${visitor}`,
    visitorId: visitor,
    page: { url: "https://shop.example/contact", path: "/contact" },
    form: { formId: "contact", fields: opts.type === "form_interaction" ? { email: p.email } : { email: p.email, name: `${p.first} ${p.last}`, tel: p.tel } },
  };
  const message: QueueMessage = { v: 1, siteId: ids.site, receivedAt: Date.now(), geo: {}, ip: null, ua: null, events: [event] };
  const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: mongo.db });
  expect(outcome).toMatchObject({ action: "ack" });
  return (await mongo.db.collection<LeadDocument>(COLLECTIONS.leads).findOne({ siteId: ids.site, email: p.email.toLowerCase() }))!;
}

const statuses = () => mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS);
const outbox = () => mongo.db.collection<OutboxEntry>(LEAD_OUTBOX);
const statusOf = (leadId: string, destinationId: string) => statuses().findOne({ _id: `${leadId}|${destinationId}` });
const deliveredEverywhere = (leadId: string) =>
  eventually(async () => {
    const all = await statuses().find({ leadId }).toArray();
    return all.length === 3 && all.every((s) => s.status === "delivered") ? all : undefined;
  }, 20_000, `lead ${leadId} delivered to all three`);

/** What the privacy API does before it hands the CRMs to the worker (its own part, done here so the dump can be checked). */
async function eraseAsThePrivacyApiDoes(lead: LeadDocument): Promise<void> {
  const db = mongo.db;
  await db.collection<LeadDocument>(COLLECTIONS.leads).deleteOne({ _id: lead._id });
  await db.collection(COLLECTIONS.leadKeys).deleteMany({ leadId: lead._id });
  await db.collection(COLLECTIONS.events).deleteMany({ visitorId: { $in: lead.visitorIds } });
  await db.collection(COLLECTIONS.sessions).deleteMany({ visitorId: { $in: lead.visitorIds } });
  await enqueueErasedLead(db, lead);
}

const settled = (leadId: string) =>
  eventually(async () => {
    const [entries, docs] = await Promise.all([outbox().countDocuments({ _id: leadId }), statuses().countDocuments({ leadId })]);
    return entries === 0 && docs === 0 ? true : undefined;
  }, 20_000, `the erasure of ${leadId} to settle`);

/** Every collection of the test database, as one lowercased JSON text. */
async function dump(): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const { name } of await mongo.db.listCollections().toArray()) out[name] = await mongo.db.collection(name).find().toArray();
  return JSON.stringify(out).toLowerCase();
}

const leadIdOf = (body: unknown) => (body as { data?: { lead?: { id?: string } } }).data?.lead?.id;
/** What the three stand-ins hold: contacts, kept deliveries, honoured erasures, and their request logs. */
const heldByFakes = () =>
  JSON.stringify([hubspot.contacts(), highlevel.contacts(HL.location), receiver.deliveries(), receiver.erasures(), hubspot.requests(), highlevel.requests(), receiver.requests()]).toLowerCase();

function expectNowhere(text: string, p: Person, where: string) {
  for (const trace of p.traces) expect(text.includes(trace), `${where} still holds "${trace}"`).toBe(false);
}

beforeAll(async () => {
  maria = await testMariadb("crm_erasure");
  mongo = await testMongo("crm_erasure");
  await ensureIndexes(mongo.db);
  receiver = await startWebhookReceiver({ secret: WHSEC });
  hubspot = await startHubSpotFake({ tokens: [HUBSPOT_TOKEN] });
  highlevel = await startHighLevelFake({ clientId: HL.clientId, clientSecret: HL.clientSecret });

  await maria.db.insert(tenants).values({ id: T, name: "T", externalId: HL.company });
  await maria.db.insert(locations).values({ id: ids.loc, tenantId: T, name: "Shop", externalId: HL.location });
  await maria.db.insert(sites).values({ id: ids.site, tenantId: T, locationId: ids.loc, name: "shop", domain: "shop.example", siteKey: `k_${ids.site}` });
  await maria.db.insert(forms).values({ id: ids.form, siteId: ids.site, name: "Contact", selector: "#contact", pageUrlPattern: "" });
  const tel = { id: crypto.randomUUID(), formId: ids.form, name: "tel", selector: "[name=tel]", type: "text", label: "tel" };
  await maria.db.insert(fields).values(tel);
  await maria.db.insert(fieldMappings).values({ id: crypto.randomUUID(), fieldId: tel.id, targetEntity: "contact", targetField: "phone", transform: "e164", required: false });
  agency = await makeUser(maria.db, JWT, { tenantId: T, role: "agency" });

  const box = new SecretBox(randomBytes(32).toString("base64"));
  const connectors = await loadConnectors();
  const log = (msg: string, f: Record<string, unknown> = {}) => logs.push(JSON.stringify({ msg, ...f }));
  const directory = new DestinationDirectory(maria.db, box, connectors, log);
  const connections = new ConnectionStore(maria.db, box, { highlevel: { apiUrl: highlevel.url, clientId: HL.clientId, clientSecret: HL.clientSecret } });
  app = createApi({
    db: mongo.db,
    configDb: maria.db,
    internalToken: randomBytes(32).toString("hex"),
    auth: { hs256Secret: JWT },
    log,
    metrics: createMetrics(mongo.db),
    crm: { box, connectors, directory, connections },
  });
  worker = new DeliveryWorker(
    { db: mongo.db, directory, connections, log, onErased: (o) => void outcomes.push(o) },
    { pollMs: 50, backoffBaseMs: 100, backoffCapMs: 400, maxAttempts: 6, timeoutMs: 1_000 },
  );

  const callback = await call(null, "GET", `/v1/integrations/highlevel/oauth/callback?code=${highlevel.issueAuthCode({ locationId: HL.location, companyId: HL.company })}`);
  expect(callback.status).toBe(200);
  for (const [key, body] of Object.entries({
    webhook: { kind: "webhook", name: "Hook", locationId: ids.loc, config: { url: receiver.hookUrl("shop") }, secret: WHSEC },
    hubspot: { kind: "hubspot", name: "HubSpot", locationId: ids.loc, config: { baseUrl: hubspot.url }, secret: HUBSPOT_TOKEN },
    highlevel: { kind: "highlevel", name: "HighLevel", locationId: ids.loc, config: { baseUrl: highlevel.url } },
  })) {
    const res = await call(agency, "POST", "/v1/destinations", body);
    expect(res.status, res.text).toBe(201);
    dest[key] = res.body.id as string;
  }
  worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([receiver?.stop(), hubspot?.stop(), highlevel?.stop()]);
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

beforeEach(() => {
  receiver.faults.reset();
  hubspot.faults.reset();
  highlevel.faults.reset();
});

describe("erasure through the CRM destinations", () => {
  it("removes the person from HubSpot, HighLevel and the webhook receiver, and leaves no trace in MongoDB", async () => {
    const p = person("Zebulon", "Quartermaine", "(415) 555-2671");
    const lead = await submit(p);
    const delivered = await deliveredEverywhere(lead._id);
    const hsId = delivered.find((s) => s.destinationId === dest.hubspot)!.externalId!;
    const hlId = delivered.find((s) => s.destinationId === dest.highlevel)!.externalId!;
    // what the checks below look for is there before the erasure (so they can fail)
    expect(hubspot.contacts().find((c) => c.id === hsId)?.properties).toMatchObject({ email: p.email.toLowerCase(), firstname: p.first, phone: "+14155552671" });
    expect(highlevel.contacts(HL.location).find((c) => c.id === hlId)).toMatchObject({ email: p.email.toLowerCase(), lastName: p.last });
    expect(receiver.deliveries("shop").filter((d) => leadIdOf(d.body) === lead._id)).toHaveLength(1);
    const before = await dump();
    expect(before).toContain(p.email.toLowerCase());
    expect(before).toContain(p.tel);
    expect(heldByFakes()).toContain(p.email.toLowerCase());

    await eraseAsThePrivacyApiDoes(lead);
    await settled(lead._id);

    // HubSpot: the documented GDPR delete by the contact's id, answered 204; the contact is gone
    expect(hubspot.contacts().some((c) => c.id === hsId)).toBe(false);
    expect(hubspot.purged()).toContain(hsId);
    const gdpr = hubspot.requests().filter((r) => r.path === "/crm/v3/objects/contacts/gdpr-delete");
    expect(gdpr.map((r) => [r.method, r.body, r.status])).toEqual([["POST", { objectId: hsId }, 204]]);
    // HighLevel: Delete Contact with the location's token and Version header
    expect(highlevel.contacts(HL.location).some((c) => c.id === hlId)).toBe(false);
    const hlDelete = highlevel.requests().filter((r) => r.method === "DELETE");
    expect(hlDelete.map((r) => [r.path, r.headers.version, r.status])).toEqual([[`/contacts/${hlId}`, "2021-07-28", 200]]);
    // the receiver: the signed lead.deleted (verified by it with the standardwebhooks package) without the email,
    // and it dropped the lead's deliveries
    const [erasure] = receiver.erasures().filter((e) => e.leadId === lead._id);
    expect(erasure).toMatchObject({ id: `${lead._id}.erased`, dropped: 1, body: { type: "lead.deleted", data: { lead: { id: lead._id, deleted: true, erased: true } } } });
    expect(Object.keys((erasure!.body as { data: { lead: object } }).data.lead).sort()).toEqual(["deleted", "erased", "id"]);
    expect(receiver.deliveries().filter((d) => leadIdOf(d.body) === lead._id)).toEqual([]);

    // MongoDB: nothing of the lead in delivery_status or lead_outbox, and the person nowhere in any collection
    expect(await statuses().countDocuments({ leadId: lead._id })).toBe(0);
    expect(await outbox().countDocuments({ _id: lead._id })).toBe(0);
    expectNowhere(await dump(), p, "MongoDB");
    expectNowhere(heldByFakes(), p, "the CRM stand-ins");
    expectNowhere(JSON.stringify(logs).toLowerCase(), p, "the worker's log");

    // the receipt's part: ids and counts
    const outcome = outcomes.find((o) => o.leadId === lead._id)!;
    expect(outcome.counts).toMatchObject({ erased: 3, dead: 0, refused: 0, unreachable: 0 });
    expect(outcome.destinations.map((d) => [d.kind, d.outcome]).sort()).toEqual([
      ["highlevel", "erased"],
      ["hubspot", "erased"],
      ["webhook", "erased"],
    ]);
    expectNowhere(JSON.stringify(outcome).toLowerCase(), p, "the outcome");
    expect(await pendingErasures(mongo.db, [lead._id])).toEqual([]);
  });

  it("retries an erasure to a CRM that is down, with a generic error, and completes when it is back", async () => {
    const p = person("Philippa", "Thistlewood", "(202) 555-0143");
    const lead = await submit(p);
    const delivered = await deliveredEverywhere(lead._id);
    const hsId = delivered.find((s) => s.destinationId === dest.hubspot)!.externalId!;
    hubspot.faults.down();
    // a CRM's earlier error text may hold the contact's values: the erasure blanks it at once
    await statuses().updateOne({ _id: `${lead._id}|${dest.hubspot}` }, { $set: { lastError: `400 Email address ${p.email} is invalid` } });
    await eraseAsThePrivacyApiDoes(lead);

    const entry = await outbox().findOne({ _id: lead._id });
    expect(entry?.deleted).toEqual({ erased: true, at: expect.any(Date) });
    expectNowhere(JSON.stringify(entry).toLowerCase(), p, "the outbox entry");
    const retrying = await eventually(async () => {
      const s = await statusOf(lead._id, dest.hubspot!);
      return s?.erasure && s.erasure.attempts >= 2 ? s : undefined;
    }, 10_000, "HubSpot's erasure to be retried");
    expect(retrying.erasure).toMatchObject({ state: "pending", lastError: "erasure failed: HTTP 503" });
    expect(retrying.lastError).toBeNull();
    expect(await pendingErasures(mongo.db, [lead._id])).toEqual([lead._id]);
    // the others are done meanwhile, and the contact is still in HubSpot
    expect((await statusOf(lead._id, dest.highlevel!))?.erasure).toMatchObject({ state: "settled", outcome: "erased" });
    expect((await statusOf(lead._id, dest.webhook!))?.erasure).toMatchObject({ state: "settled", outcome: "erased" });
    expect(hubspot.contacts().some((c) => c.id === hsId)).toBe(true);
    expectNowhere(await dump(), p, "MongoDB while the erasure waits");

    hubspot.faults.up();
    await settled(lead._id);
    expect(hubspot.contacts().some((c) => c.id === hsId)).toBe(false);
    expect(hubspot.requests().filter((r) => r.path.endsWith("/gdpr-delete")).map((r) => r.status)).toEqual(expect.arrayContaining([503, 204]));
    expect(outcomes.find((o) => o.leadId === lead._id)?.counts).toMatchObject({ erased: 3, dead: 0 });
    expectNowhere(await dump(), p, "MongoDB");
    expectNowhere(heldByFakes(), p, "the CRM stand-ins");
  });

  it("dead-letters an erasure whose destination stays down, reports it, and still removes every trace", async () => {
    const p = person("Octavian", "Brackenbury", "(303) 555-0188");
    const lead = await submit(p);
    await deliveredEverywhere(lead._id);
    receiver.faults.down();
    await eraseAsThePrivacyApiDoes(lead);
    await settled(lead._id);
    const outcome = outcomes.find((o) => o.leadId === lead._id)!;
    expect(outcome.destinations.find((d) => d.destinationId === dest.webhook)).toMatchObject({ outcome: "dead" });
    expect(outcome.counts).toMatchObject({ erased: 2, dead: 1 });
    expect(receiver.requests().filter((r) => r.headers["webhook-id"] === `${lead._id}.erased`)).toHaveLength(6);
    expect(logs.some((l) => l.includes("crm: erasure dead-lettered") && l.includes(lead._id) && l.includes("erasure failed: HTTP 503"))).toBe(true);
    expectNowhere(await dump(), p, "MongoDB");
    expectNowhere(JSON.stringify(logs).toLowerCase(), p, "the worker's log");
  });

  it("tells only the webhook about a lead no CRM ever had (a partial lead held back)", async () => {
    const p = person("Isadora", "Wimbleton", "(646) 555-0199");
    const lead = await submit(p, { type: "form_interaction" });
    expect(lead.status).toBe("partial");
    await eventually(async () => ((await outbox().countDocuments({ _id: lead._id })) === 0 ? true : undefined), 10_000, "the partial lead's entry to settle");
    const [hs, hl] = [hubspot.requests().length, highlevel.requests().length];
    await eraseAsThePrivacyApiDoes(lead);
    await settled(lead._id);
    expect(hubspot.requests().length).toBe(hs);
    expect(highlevel.requests().length).toBe(hl);
    expect(receiver.erasures().filter((e) => e.leadId === lead._id)).toEqual([expect.objectContaining({ id: `${lead._id}.erased`, dropped: 0 })]);
    expect(outcomes.find((o) => o.leadId === lead._id)?.destinations).toEqual([{ destinationId: dest.webhook, kind: "webhook", outcome: "erased" }]);
    expectNowhere(await dump(), p, "MongoDB");
  });

  it("asked for before the lead is removed (as the erase's crm step does): the CRMs forget at once, a change meanwhile is not delivered, and it settles once the lead is gone", async () => {
    const p = person("Hortensia", "Blackwater", "(718) 555-0175");
    const lead = await submit(p);
    const delivered = await deliveredEverywhere(lead._id);
    const hsId = delivered.find((s) => s.destinationId === dest.hubspot)!.externalId!;
    await enqueueErasedLead(mongo.db, lead);
    await eventually(async () => (hubspot.purged().includes(hsId) && receiver.erasures().some((e) => e.leadId === lead._id) ? true : undefined), 10_000, "the CRMs to be told");
    // the drain changes the lead before the erase removes it (a queued event): merged into the erasure, not delivered
    const changed = await submit(p);
    expect((changed as { v?: number }).v).toBeGreaterThan((lead as { v?: number }).v ?? 1);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await pendingErasures(mongo.db, [lead._id])).toEqual([lead._id]);
    expect((await outbox().findOne({ _id: lead._id }))?.deleted).toEqual({ erased: true, at: expect.any(Date) });
    expect(hubspot.contacts().some((c) => c.properties.email === p.email.toLowerCase())).toBe(false);
    expect(highlevel.contacts(HL.location).some((c) => c.email === p.email.toLowerCase())).toBe(false);
    expect(receiver.deliveries().filter((d) => leadIdOf(d.body) === lead._id)).toEqual([]);
    expect(outcomes.some((o) => o.leadId === lead._id)).toBe(false);

    await eraseAsThePrivacyApiDoes(changed);
    await settled(lead._id);
    expect(outcomes.filter((o) => o.leadId === lead._id)).toHaveLength(1);
    expectNowhere(await dump(), p, "MongoDB");
    expectNowhere(heldByFakes(), p, "the CRM stand-ins");
  });

  it("is idempotent, and a plain delete racing it cannot bring the email back", async () => {
    const p = person("Cornelius", "Fairweather", "(512) 555-0100");
    const lead = await submit(p);
    await deliveredEverywhere(lead._id);
    await worker.stop();
    try {
      // a DELETE /v1/leads/:id that read the lead before the erase removed it, writing before and after it
      await enqueueDeletedLead(mongo.db, lead);
      await eraseAsThePrivacyApiDoes(lead);
      await enqueueErasedLead(mongo.db, lead);
      await enqueueDeletedLead(mongo.db, lead);
      const entry = await outbox().findOne({ _id: lead._id });
      expect(entry?.deleted).toEqual({ erased: true, at: expect.any(Date) });
      expectNowhere(JSON.stringify(entry).toLowerCase(), p, "the outbox entry");
    } finally {
      worker.start();
    }
    await settled(lead._id);
    const sent = receiver.requests().filter((r) => String(r.headers["webhook-id"]).startsWith(`${lead._id}.`) && r.status === 204);
    expect(sent.map((r) => r.headers["webhook-id"])).toEqual([`${lead._id}.v${(lead as { v?: number }).v ?? 1}`, `${lead._id}.erased`]);
    // an erasure asked for again after it settled finds nothing left in the CRMs: only the webhook hears it again
    const [hs, hl] = [hubspot.requests().length, highlevel.requests().length];
    await enqueueErasedLead(mongo.db, lead);
    await settled(lead._id);
    await eventually(async () => (receiver.erasures().filter((e) => e.leadId === lead._id).length === 2 ? true : undefined), 10_000, "the second erasure");
    expect([hubspot.requests().length, highlevel.requests().length]).toEqual([hs, hl]);
    expectNowhere(await dump(), p, "MongoDB");
  });
});
