/**
 * CRM delivery on real parts: leads made by the real drain (MongoDB-compatible server), destinations and mappings
 * in MariaDB through the admin API, a delivery worker, and local servers that follow the webhook (Standard
 * Webhooks), HubSpot and HighLevel APIs, errors included. Signatures are checked by the receiver with the
 * `standardwebhooks` package's verifier, not with the code that signed them.
 */
import { randomBytes } from "node:crypto";
import type { Hono } from "hono";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../src/api/app.ts";
import { ConnectionStore } from "../src/crm/connections.ts";
import { loadConnectors } from "../src/crm/connectors/index.ts";
import { DestinationDirectory } from "../src/crm/directory.ts";
import { LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { SecretBox } from "../src/crm/secret-box.ts";
import { DELIVERY_STATUS, DeliveryWorker, type DeliveryStatusDocument } from "../src/crm/worker.ts";
import { fieldMappings, fields, forms, locations, sites, tenants } from "../src/config/schema.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { ensureIndexes } from "../src/store/mongo.ts";
import { startHighLevelFake, type HighLevelFake } from "../../scripts/testing/fake-crm/highlevel.ts";
import { DEFAULT_CONTACT_PROPERTIES, startHubSpotFake, type HubSpotFake } from "../../scripts/testing/fake-crm/hubspot.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { crmLeads } from "../../scripts/testing/crm-leads.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const JWT = randomBytes(32).toString("base64url");
const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
const HUBSPOT_TOKEN = `pat-na1-${randomBytes(12).toString("hex")}`;
const HL = { clientId: "hl-client-id", clientSecret: "hl-client-secret-" + randomBytes(8).toString("hex"), company: "hl-company-1", location: "hl-location-1" };
const T = crypto.randomUUID();
const ids = { loc: crypto.randomUUID(), loc2: crypto.randomUUID(), site: crypto.randomUUID(), site2: crypto.randomUUID(), form: crypto.randomUUID() };

let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
let worker: DeliveryWorker;
let receiver: WebhookReceiver;
let hubspot: HubSpotFake;
let highlevel: HighLevelFake;
let connections: ConnectionStore;
let agency: MadeUser;
let locationUser: MadeUser;
const logs: string[] = [];
const dest: Record<string, string> = {};

async function call(user: MadeUser | null, method: string, path: string, body?: unknown) {
  const res = await app.request(path, {
    method,
    headers: { ...(user ? { authorization: `Bearer ${user.token}` } : {}), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown> & { items?: Record<string, unknown>[] } };
}

const { submit, statusOf, deliveredTo } = crmLeads(() => mongo.db);

beforeAll(async () => {
  maria = await testMariadb("crm");
  mongo = await testMongo("crm");
  await ensureIndexes(mongo.db);
  receiver = await startWebhookReceiver({ secret: WHSEC });
  // the tenant created the custom property "plan" in HubSpot (HubSpot refuses unknown properties)
  hubspot = await startHubSpotFake({ tokens: [HUBSPOT_TOKEN], knownProperties: [...DEFAULT_CONTACT_PROPERTIES, "plan"] });
  highlevel = await startHighLevelFake({ clientId: HL.clientId, clientSecret: HL.clientSecret });

  await maria.db.insert(tenants).values({ id: T, name: "T", externalId: HL.company });
  await maria.db.insert(locations).values([
    { id: ids.loc, tenantId: T, name: "Shop", externalId: HL.location },
    { id: ids.loc2, tenantId: T, name: "Other" },
  ]);
  await maria.db.insert(sites).values([
    { id: ids.site, tenantId: T, locationId: ids.loc, name: "shop", domain: "shop.example", siteKey: `k_${ids.site}` },
    { id: ids.site2, tenantId: T, locationId: ids.loc2, name: "other", domain: "other.example", siteKey: `k_${ids.site2}` },
  ]);
  await maria.db.insert(forms).values({ id: ids.form, siteId: ids.site, name: "Contact", selector: "#contact", pageUrlPattern: "" });
  const field = (name: string) => ({ id: crypto.randomUUID(), formId: ids.form, name, selector: `[name=${name}]`, type: "text", label: name });
  const [tel, plan, company] = [field("tel"), field("plan"), field("company_name")];
  await maria.db.insert(fields).values([tel, plan, company]);
  await maria.db.insert(fieldMappings).values([
    { id: crypto.randomUUID(), fieldId: tel.id, targetEntity: "contact", targetField: "phone", transform: "e164", required: false },
    { id: crypto.randomUUID(), fieldId: plan.id, targetEntity: "contact", targetField: "custom.plan", transform: "trim|lower", required: false },
    { id: crypto.randomUUID(), fieldId: company.id, targetEntity: "contact", targetField: "company", transform: "trim", required: false },
  ]);
  agency = await makeUser(maria.db, JWT, { tenantId: T, role: "agency" });
  locationUser = await makeUser(maria.db, JWT, { tenantId: T, role: "location", locationIds: [ids.loc2] });

  const box = new SecretBox(randomBytes(32).toString("base64"));
  const connectors = await loadConnectors();
  const log = (msg: string, f: Record<string, unknown> = {}) => logs.push(JSON.stringify({ msg, ...f }));
  const directory = new DestinationDirectory(maria.db, box, connectors, log);
  connections = new ConnectionStore(maria.db, box, { highlevel: { apiUrl: highlevel.url, clientId: HL.clientId, clientSecret: HL.clientSecret } });
  app = createApi({
    db: mongo.db,
    configDb: maria.db,
    internalToken: randomBytes(32).toString("hex"),
    auth: { hs256Secret: JWT },
    log,
    metrics: createMetrics(mongo.db),
    crm: { box, connectors, directory, connections },
  });
  worker = new DeliveryWorker({ db: mongo.db, directory, connections, log }, { pollMs: 50, backoffBaseMs: 100, backoffCapMs: 1_000, maxAttempts: 4, timeoutMs: 1_000 });

  // HighLevel: the location installs the app; HighLevel redirects to our callback with a code
  const callback = await call(null, "GET", `/v1/integrations/highlevel/oauth/callback?code=${highlevel.issueAuthCode({ locationId: HL.location, companyId: HL.company })}`);
  expect(callback.status).toBe(200);
  expect(callback.text).toContain("Connected");

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

describe("delivery to the CRM", () => {
  it("delivers a submission to the signed webhook, HubSpot and HighLevel with the mapped fields, and the lead shows the CRM ids", async () => {
    const lead = await submit(ids.site, { email: "Ada@Example.com", name: "Ada Lovelace", tel: "(415) 555-2671", plan: " PRO ", company_name: " Analytical Engines " });
    const [hook, hs, hl] = await Promise.all([deliveredTo(lead._id, dest.webhook!), deliveredTo(lead._id, dest.hubspot!), deliveredTo(lead._id, dest.highlevel!)]).catch(async (err: unknown) => {
      console.error(JSON.stringify(await mongo.db.collection(DELIVERY_STATUS).find({ leadId: lead._id }).toArray()), logs.slice(-5));
      throw err;
    });

    const [delivery] = receiver.unique("shop").filter((d) => (d.body as { data: { lead: { id: string } } }).data.lead.id === lead._id);
    expect(delivery).toMatchObject({ id: `${lead._id}.v${hook.done}`, type: "lead.created" });
    expect((delivery!.body as { data: unknown }).data).toMatchObject({
      lead: { id: lead._id, email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", fields: { plan: " PRO " } },
      contact: { email: "ada@example.com", phone: "+14155552671", "custom.plan": "pro", company: "Analytical Engines" },
    });

    const hsContact = hubspot.contacts().find((c) => c.properties.email === "ada@example.com");
    expect(hsContact?.properties).toMatchObject({ firstname: "Ada", lastname: "Lovelace", phone: "+14155552671", company: "Analytical Engines" });
    expect(hs.externalId).toBe(hsContact!.id);

    const hlContact = highlevel.contacts(HL.location).find((c) => c.email === "ada@example.com");
    expect(hlContact).toMatchObject({ firstName: "Ada", lastName: "Lovelace", phone: "+14155552671", companyName: "Analytical Engines" });
    expect(hl.externalId).toBe(hlContact!.id);

    const shown = await call(agency, "GET", `/v1/leads/${lead._id}`);
    expect(shown.body.sync).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ destinationId: dest.webhook, kind: "webhook", status: "delivered" }),
        expect.objectContaining({ destinationId: dest.hubspot, kind: "hubspot", status: "delivered", externalId: hsContact!.id }),
        expect.objectContaining({ destinationId: dest.highlevel, kind: "highlevel", status: "delivered", externalId: hlContact!.id }),
      ]),
    );
  });

  it("sends a changed lead as lead.updated under a new webhook-id, and coalesces versions still pending", async () => {
    const lead = await submit(ids.site, { email: "grace@example.com", name: "Grace Hopper" }, { visitor: "grace" });
    const first = await deliveredTo(lead._id, dest.webhook!);
    await worker.stop();
    // three more versions while no worker runs: one delivery of the last
    await submit(ids.site, { email: "grace@example.com", tel: "+1 202 555 0143" }, { visitor: "grace" });
    await submit(ids.site, { email: "grace@example.com", company_name: "Navy" }, { visitor: "grace" });
    const last = await submit(ids.site, { email: "grace@example.com", plan: "Team" }, { visitor: "grace" });
    worker.start();
    const version = (last as { v?: number }).v!;
    expect(version).toBeGreaterThan(first.done);
    await deliveredTo(lead._id, dest.webhook!, version);
    const mine = receiver.deliveries("shop").filter((d) => (d.body as { data: { lead: { id: string } } }).data.lead.id === lead._id);
    expect(mine.map((d) => [d.type, d.id])).toEqual([
      ["lead.created", `${lead._id}.v${first.done}`],
      ["lead.updated", `${lead._id}.v${version}`],
    ]);
    expect((mine[1]!.body as { data: { contact: Record<string, string> } }).data.contact).toMatchObject({ phone: "+12025550143", company: "Navy", "custom.plan": "team" });
  });

  it("holds partial leads back unless a destination takes them", async () => {
    const partial = await submit(ids.site, { email: "maybe@example.com" }, { type: "form_interaction" });
    await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments({ _id: partial._id as never })) === 0 ? true : undefined), 10_000, "the partial lead's outbox entry to settle");
    expect(await statusOf(partial._id, dest.webhook!)).toBeNull();
    const shown = await call(agency, "GET", `/v1/leads/${partial._id}`);
    expect((shown.body.sync as { status: string }[]).map((s) => s.status)).toEqual(["held", "held", "held"]);
    // once submitted, it goes
    await submit(ids.site, { email: "maybe@example.com", name: "May Be" });
    await deliveredTo(partial._id, dest.webhook!);
  });

  it("fails a lead whose required mapping has no value, with the reason on the lead, and delivers the others", async () => {
    const site3 = crypto.randomUUID();
    const form3 = crypto.randomUUID();
    await maria.db.insert(sites).values({ id: site3, tenantId: T, locationId: ids.loc2, name: "req", domain: "req.example", siteKey: `k_${site3}` });
    await maria.db.insert(forms).values({ id: form3, siteId: site3, name: "F", selector: "#f", pageUrlPattern: "" });
    const budget = { id: crypto.randomUUID(), formId: form3, name: "budget", selector: "[name=budget]", type: "text", label: "Budget" };
    await maria.db.insert(fields).values(budget);
    await maria.db.insert(fieldMappings).values({ id: crypto.randomUUID(), fieldId: budget.id, targetEntity: "contact", targetField: "custom.budget", transform: null, required: true });
    const hook = await call(agency, "POST", "/v1/destinations", { kind: "webhook", name: "Req hook", siteId: site3, config: { url: receiver.hookUrl("req") }, secret: WHSEC });
    const without = await submit(site3, { email: "nobudget@example.com", name: "No Budget" });
    const withIt = await submit(site3, { email: "budget@example.com", budget: "5000" });
    await deliveredTo(withIt._id, hook.body.id as string);
    const failed = await eventually(async () => {
      const s = await statusOf(without._id, hook.body.id as string);
      return s?.status === "failed" ? s : undefined;
    }, 10_000, "the failure");
    expect(failed).toMatchObject({ retryable: false, nextAt: null });
    expect(failed.lastError).toMatch(/budget → custom.budget is required/);
    const shown = await call(agency, "GET", `/v1/leads/${without._id}`);
    expect(shown.body.sync).toEqual([expect.objectContaining({ status: "failed", error: expect.stringMatching(/required/) })]);
  });

  it("honours 429 + Retry-After, retries 5xx and slow answers, and never lets one destination hold the others", async () => {
    receiver.faults.failNext(1, 429, { retryAfterSeconds: 1 });
    hubspot.faults.failNext(2, 502);
    highlevel.faults.slow(1_500); // over the worker's 1 s timeout
    const lead = await submit(ids.site, { email: "busy@example.com", name: "Busy Bee" });
    await deliveredTo(lead._id, dest.webhook!);
    await deliveredTo(lead._id, dest.hubspot!);
    const hook = receiver.requests().filter((r) => r.path === "/hooks/shop");
    const limited = hook.findIndex((r) => r.status === 429);
    const accepted = hook.findIndex((r, i) => i > limited && r.status >= 200 && r.status < 300);
    expect(limited).toBeGreaterThanOrEqual(0);
    // the retry waited out the Retry-After
    expect(hook[accepted]!.at - hook[limited]!.at).toBeGreaterThanOrEqual(900);
    highlevel.faults.slow(0);
    const hl = await deliveredTo(lead._id, dest.highlevel!);
    expect(hl.attempts).toBe(0);
  });

  it("shows a wrong token's failures on the lead, delivers elsewhere meanwhile, and continues once the token is fixed", async () => {
    const bad = `pat-na1-${randomBytes(12).toString("hex")}`;
    expect((await call(agency, "PATCH", `/v1/destinations/${dest.hubspot}`, { secret: bad })).status).toBe(200);
    const lead = await submit(ids.site, { email: "token@example.com", name: "Token Test" });
    await deliveredTo(lead._id, dest.webhook!);
    const failing = await eventually(async () => {
      const s = await statusOf(lead._id, dest.hubspot!);
      return s && s.status === "failed" && s.attempts >= 1 ? s : undefined;
    }, 10_000, "the HubSpot failure");
    expect(failing.lastError).toMatch(/^401/);
    expect(failing.nextAt).not.toBeNull();
    expect((await call(agency, "PATCH", `/v1/destinations/${dest.hubspot}`, { secret: HUBSPOT_TOKEN })).status).toBe(200);
    await deliveredTo(lead._id, dest.hubspot!);
  });

  it("refreshes an expired HighLevel token once and delivers", async () => {
    const before = connections.refreshes;
    highlevel.expireAllTokens();
    const lead = await submit(ids.site, { email: "expired@example.com", name: "Ex Pired" });
    await deliveredTo(lead._id, dest.highlevel!);
    expect(connections.refreshes).toBe(before + 1);
  });

  it("dead-letters after the last attempt with its error, and an agency's replay delivers", async () => {
    receiver.faults.down();
    const lead = await submit(ids.site, { email: "dead@example.com", name: "Dead Letter" });
    const dead = await eventually(async () => {
      const s = await statusOf(lead._id, dest.webhook!);
      return s?.status === "dead" ? s : undefined;
    }, 20_000, "the dead letter");
    expect(dead).toMatchObject({ attempts: 4, nextAt: null });
    expect(dead.lastError).toMatch(/^503/);
    receiver.faults.up();
    expect((await call(locationUser, "POST", `/v1/destinations/${dest.webhook}/replay`)).status).toBe(403);
    const replay = await call(agency, "POST", `/v1/destinations/${dest.webhook}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body.replayed).toBeGreaterThanOrEqual(1);
    await deliveredTo(lead._id, dest.webhook!);
  });

  it("re-queues one lead with POST /v1/leads/:id/sync", async () => {
    const lead = await submit(ids.site, { email: "again@example.com", name: "Once Again" });
    await deliveredTo(lead._id, dest.webhook!);
    await mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).updateOne({ _id: `${lead._id}|${dest.webhook}` }, { $set: { done: 0, status: "dead" } });
    const before = receiver.deliveries("shop").length;
    const res = await call(agency, "POST", `/v1/leads/${lead._id}/sync`);
    expect(res.status).toBe(202);
    await deliveredTo(lead._id, dest.webhook!);
    await eventually(async () => (receiver.deliveries("shop").length > before ? true : undefined), 10_000, "the redelivery");
  });

  it("tells the webhook of a deleted lead, and not the CRMs", async () => {
    const lead = await submit(ids.site, { email: "gone@example.com", name: "Gone Soon" });
    await deliveredTo(lead._id, dest.webhook!);
    const hsRequests = hubspot.requests().length;
    expect((await call(agency, "DELETE", `/v1/leads/${lead._id}`)).status).toBe(200);
    const deleted = await eventually(async () => receiver.unique("shop").find((d) => d.id === `${lead._id}.deleted`), 10_000, "lead.deleted");
    expect(deleted).toMatchObject({ type: "lead.deleted", body: { data: { lead: { id: lead._id, email: "gone@example.com", deleted: true } } } });
    expect(hubspot.requests().length).toBe(hsRequests);
  });

  it("keeps secrets out of answers and logs, and destinations inside their scope", async () => {
    const list = await call(agency, "GET", "/v1/destinations");
    expect(list.body.items?.length).toBeGreaterThanOrEqual(3);
    const everything = JSON.stringify([list.body, (await call(agency, "GET", `/v1/destinations/${dest.hubspot}`)).body, logs]);
    for (const secret of [WHSEC, HUBSPOT_TOKEN, HL.clientSecret, ...highlevel.tokens().flatMap((t) => [t.accessToken, t.refreshToken])]) expect(everything).not.toContain(secret);
    expect(list.body.items!.find((d) => d.id === dest.hubspot)).toMatchObject({ hasSecret: true, config: { baseUrl: hubspot.url } });
    // a generated webhook secret is shown once, at creation, and verifies what we send
    const made = await call(agency, "POST", "/v1/destinations", { kind: "webhook", name: "Gen", locationId: ids.loc2, config: { url: receiver.hookUrl("gen") } });
    expect(made.body.secret).toMatch(/^whsec_/);
    expect(() => new Webhook(made.body.secret as string)).not.toThrow();
    expect((await call(agency, "GET", `/v1/destinations/${made.body.id as string}`)).body.secret).toBeUndefined();
    // a location user sees its own location's destinations only, and changes none
    const theirs = await call(locationUser, "GET", "/v1/destinations");
    expect(theirs.body.items!.map((d) => d.locationId ?? "site")).not.toContain(ids.loc);
    expect((await call(locationUser, "GET", `/v1/destinations/${dest.hubspot}`)).status).toBe(404);
    expect((await call(locationUser, "POST", "/v1/destinations", { kind: "webhook", name: "x", locationId: ids.loc2, config: { url: "https://x.example" } })).status).toBe(403);
    // bad input is a 400 naming the field
    const bad = await call(agency, "POST", "/v1/destinations", { kind: "hubspot", name: "x", locationId: ids.loc, config: { baseUrl: "ftp://x" }, secret: "nope" });
    expect(bad.status).toBe(400);
    expect((bad.body.issues as { path: string }[]).map((i) => i.path)).toEqual(expect.arrayContaining(["config.baseUrl"]));
  });
});
