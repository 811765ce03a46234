/**
 * Salesforce and Zoho CRM destinations and the delivery policy, on real parts: leads made by the real drain,
 * destinations and mappings in MariaDB through the admin API, a delivery worker, and the local stand-ins of a
 * Salesforce org (JWT bearer flow, sObject Collections upsert) and of Zoho CRM's data centres (one server; the EU
 * domains are routed to it by the worker's fetch with the host they were meant for, which the stand-in reads).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../src/api/app.ts";
import { ConnectionStore } from "../src/crm/connections.ts";
import { loadConnectors } from "../src/crm/connectors/index.ts";
import { salesforceTokens } from "../src/crm/connectors/salesforce.ts";
import { zohoTokens } from "../src/crm/connectors/zoho.ts";
import { DestinationDirectory } from "../src/crm/directory.ts";
import { enqueueErasedLead, LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { SecretBox } from "../src/crm/secret-box.ts";
import { DELIVERY_STATUS, DeliveryWorker, type DeliveryStatusDocument } from "../src/crm/worker.ts";
import { fieldMappings, fields, forms, locations, sites, tenants } from "../src/config/schema.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import type { LeadDocument } from "../src/store/leads.ts";
import { STANDARD_FIELDS, startSalesforceFake, type SalesforceFake } from "../../scripts/testing/fake-crm/salesforce.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { startZohoFake, type ZohoFake } from "../../scripts/testing/fake-crm/zoho.ts";
import { crmLeads } from "../../scripts/testing/crm-leads.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const JWT = randomBytes(32).toString("base64url");
const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const SF = { clientId: "3MVG9test.consumer", user: "integration@agency.example" };
const SF_SECRET = JSON.stringify({ flow: "jwt", clientId: SF.clientId, username: SF.user, privateKey: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
const Z = { clientId: "1000.TESTCLIENT", clientSecret: randomBytes(8).toString("hex"), us: `1000.${randomBytes(8).toString("hex")}`, eu: `1000.${randomBytes(8).toString("hex")}` };
const zohoSecret = (refreshToken: string) => JSON.stringify({ clientId: Z.clientId, clientSecret: Z.clientSecret, refreshToken });
const T = crypto.randomUUID();
const ids = { loc: crypto.randomUUID(), locEu: crypto.randomUUID(), locPolicy: crypto.randomUUID(), site: crypto.randomUUID(), siteEu: crypto.randomUUID(), sitePolicy: crypto.randomUUID(), form: crypto.randomUUID() };

let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
let worker: DeliveryWorker;
let sf: SalesforceFake;
let zoho: ZohoFake;
let receiver: WebhookReceiver;
let agency: MadeUser;
const logs: string[] = [];
const dest: Record<string, string> = {};

async function call(method: string, path: string, body?: unknown) {
  const res = await app.request(path, { method, headers: { authorization: `Bearer ${agency.token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const { submit, statusOf, statusWhere, deliveredTo } = crmLeads(() => mongo.db);
const sfRecord = (leadId: string) => sf.records("Lead").find((r) => r.fields.Lead_Tracker_Id__c === leadId);
const zohoRecord = (email: string, dc: "com" | "eu" = "com") => zoho.records(dc, "Leads").find((r) => r.fields.Email === email);

/** The worker's fetch: Zoho's EU domains go to the stand-in, saying which host they were meant for. */
const routed: typeof fetch = (input, init) => {
  const url = new URL(String(input));
  if (url.hostname !== "accounts.zoho.eu" && url.hostname !== "www.zohoapis.eu") return fetch(input, init);
  return fetch(`${zoho.url}${url.pathname}${url.search}`, { ...init, headers: { ...(init?.headers as Record<string, string>), "x-forwarded-host": url.hostname } });
};

beforeAll(async () => {
  maria = await testMariadb("crmsfz");
  mongo = await testMongo("crmsfz");
  await ensureIndexes(mongo.db);
  sf = await startSalesforceFake({
    clientId: SF.clientId,
    publicKey: keys.publicKey.export({ type: "spki", format: "pem" }).toString(),
    users: [SF.user],
    fields: { Lead: [...STANDARD_FIELDS.Lead!, "Plan__c"] },
    picklists: { Plan__c: ["pro", "team"] },
  });
  zoho = await startZohoFake({ clientId: Z.clientId, clientSecret: Z.clientSecret, refreshTokens: [{ token: Z.us }, { token: Z.eu, dc: "eu" }], picklists: { Plan__c: ["pro", "team"] } });
  receiver = await startWebhookReceiver({ secret: WHSEC });

  await maria.db.insert(tenants).values({ id: T, name: "T" });
  await maria.db.insert(locations).values([
    { id: ids.loc, tenantId: T, name: "Shop" },
    { id: ids.locEu, tenantId: T, name: "Shop EU" },
    { id: ids.locPolicy, tenantId: T, name: "Policies" },
  ]);
  await maria.db.insert(sites).values([
    { id: ids.site, tenantId: T, locationId: ids.loc, name: "shop", domain: "shop.example", siteKey: `k_${ids.site}` },
    { id: ids.siteEu, tenantId: T, locationId: ids.locEu, name: "eu", domain: "shop.example.eu", siteKey: `k_${ids.siteEu}` },
    { id: ids.sitePolicy, tenantId: T, locationId: ids.locPolicy, name: "policy", domain: "policy.example", siteKey: `k_${ids.sitePolicy}` },
  ]);
  await maria.db.insert(forms).values({ id: ids.form, siteId: ids.site, name: "Contact", selector: "#contact", pageUrlPattern: "" });
  const field = (name: string) => ({ id: crypto.randomUUID(), formId: ids.form, name, selector: `[name=${name}]`, type: "text", label: name });
  const [tel, plan, company] = [field("tel"), field("plan"), field("company_name")];
  await maria.db.insert(fields).values([tel, plan, company]);
  await maria.db.insert(fieldMappings).values([
    { id: crypto.randomUUID(), fieldId: tel.id, targetEntity: "contact", targetField: "phone", transform: "e164", required: false },
    { id: crypto.randomUUID(), fieldId: plan.id, targetEntity: "contact", targetField: "custom.Plan__c", transform: "trim|lower", required: false },
    { id: crypto.randomUUID(), fieldId: company.id, targetEntity: "contact", targetField: "company", transform: "trim", required: false },
  ]);
  agency = await makeUser(maria.db, JWT, { tenantId: T, role: "agency" });

  const box = new SecretBox(randomBytes(32).toString("base64"));
  const connectors = await loadConnectors();
  const log = (msg: string, f: Record<string, unknown> = {}) => logs.push(JSON.stringify({ msg, ...f }));
  const directory = new DestinationDirectory(maria.db, box, connectors, log);
  app = createApi({ db: mongo.db, configDb: maria.db, internalToken: randomBytes(32).toString("hex"), auth: { hs256Secret: JWT }, log, metrics: createMetrics(mongo.db), crm: { box, connectors, directory, connections: new ConnectionStore(maria.db, box, {}) } });
  worker = new DeliveryWorker({ db: mongo.db, directory, log }, { pollMs: 50, backoffBaseMs: 100, backoffCapMs: 1_000, maxAttempts: 4, timeoutMs: 2_000, fetch: routed });

  for (const [key, body] of Object.entries({
    salesforce: { kind: "salesforce", name: "Salesforce", locationId: ids.loc, config: { loginUrl: sf.url, limitRetrySeconds: 1 }, secret: SF_SECRET },
    zoho: { kind: "zoho", name: "Zoho", locationId: ids.loc, config: { accountsUrl: zoho.url, apiUrl: zoho.url, rateLimitRetrySeconds: 1 }, secret: zohoSecret(Z.us) },
    zohoEu: { kind: "zoho", name: "Zoho EU", locationId: ids.locEu, config: { location: "eu" }, secret: zohoSecret(Z.eu) },
    // the policy site: one destination left at the default, one taking partial leads (qualified from medium)
    policyDefault: { kind: "webhook", name: "Default policy", locationId: ids.locPolicy, config: { url: receiver.hookUrl("default") }, secret: WHSEC },
    policyPartial: { kind: "webhook", name: "Partial too", locationId: ids.locPolicy, config: { url: receiver.hookUrl("partial") }, secret: WHSEC, deliveryPolicy: "qualified", minQuality: "medium" },
  })) {
    const res = await call("POST", "/v1/destinations", body);
    expect(res.status, res.text).toBe(201);
    dest[key] = res.body.id as string;
  }
  worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([sf?.stop(), zoho?.stop(), receiver?.stop()]);
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

beforeEach(() => {
  sf.faults.reset();
  zoho.faults.reset();
  sf.setUsage(0);
});

describe("Salesforce and Zoho CRM destinations", () => {
  it("lists both kinds with their settings", async () => {
    const kinds = ((await call("GET", "/v1/destination-kinds")).body.items as { kind: string; secret: { required: boolean } }[]).map((k) => [k.kind, k.secret.required]);
    expect(kinds).toEqual(expect.arrayContaining([["salesforce", true], ["zoho", true]]));
    const bad = await call("POST", "/v1/destinations", { kind: "zoho", name: "x", locationId: ids.loc, config: { location: "mars" }, secret: "{}" });
    expect(bad.status).toBe(400);
    expect((bad.body.issues as { path: string }[]).map((i) => i.path)).toEqual(expect.arrayContaining(["config.location"]));
  });

  it("delivers a submission to Salesforce and Zoho with the mapped fields, and the lead shows both CRM ids", async () => {
    const lead = await submit(ids.site, { email: "Ada@Example.com", name: "Ada Lovelace", tel: "(415) 555-2671", plan: " PRO ", company_name: " Analytical Engines " });
    const [s, z] = await Promise.all([deliveredTo(lead._id, dest.salesforce!), deliveredTo(lead._id, dest.zoho!)]).catch(async (err: unknown) => {
      console.error(JSON.stringify(await mongo.db.collection(DELIVERY_STATUS).find({ leadId: lead._id }).toArray()), logs.slice(-5));
      throw err;
    });
    const sfLead = sfRecord(lead._id)!;
    expect(sfLead.fields).toMatchObject({ Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Phone: "+14155552671", Company: "Analytical Engines", Plan__c: "pro" });
    expect(s.externalId).toBe(sfLead.Id);
    const zLead = zohoRecord("ada@example.com")!;
    expect(zLead.fields).toMatchObject({ First_Name: "Ada", Last_Name: "Lovelace", Phone: "+14155552671", Company: "Analytical Engines", Plan__c: "pro" });
    expect(z.externalId).toBe(zLead.id);
    // the JWT bearer flow was used, and the upsert went by the external id field with allOrNone false
    expect(sf.tokensIssued().every((t) => t.flow === "jwt")).toBe(true);
    const upsert = sf.requests().find((r) => r.method === "PATCH" && r.status === 200)!;
    expect(upsert.path).toBe("/services/data/v62.0/composite/sobjects/Lead/Lead_Tracker_Id__c");
    expect(upsert.body).toMatchObject({ allOrNone: false });
    const shown = await call("GET", `/v1/leads/${lead._id}`);
    expect(shown.body.sync).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ destinationId: dest.salesforce, kind: "salesforce", status: "delivered", externalId: sfLead.Id }),
        expect.objectContaining({ destinationId: dest.zoho, kind: "zoho", status: "delivered", externalId: zLead.id }),
      ]),
    );
  });

  it("redelivers idempotently: the same lead delivered again (and updated) stays one record in each CRM", async () => {
    const lead = await submit(ids.site, { email: "grace@example.com", name: "Grace Hopper" }, { visitor: "grace" });
    const first = await deliveredTo(lead._id, dest.salesforce!);
    await deliveredTo(lead._id, dest.zoho!);
    // as after a crash between sending and recording: the delivery is forgotten and made again
    await mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).updateMany({ leadId: lead._id }, { $set: { done: 0, status: "pending" } });
    expect((await call("POST", `/v1/leads/${lead._id}/sync`)).status).toBe(202);
    await deliveredTo(lead._id, dest.salesforce!);
    await deliveredTo(lead._id, dest.zoho!);
    const updated = await submit(ids.site, { email: "grace@example.com", company_name: "Navy" }, { visitor: "grace" });
    const again = await deliveredTo(lead._id, dest.salesforce!, (updated as { v?: number }).v);
    await deliveredTo(lead._id, dest.zoho!, (updated as { v?: number }).v);
    expect(again.externalId).toBe(first.externalId);
    expect(sf.records("Lead").filter((r) => r.fields.Lead_Tracker_Id__c === lead._id)).toHaveLength(1);
    expect(sfRecord(lead._id)!.fields.Company).toBe("Navy");
    expect(zoho.records("com").filter((r) => r.fields.Email === "grace@example.com")).toHaveLength(1);
    const upserts = sf.requests().filter((r) => r.method === "PATCH" && JSON.stringify(r.body).includes(lead._id));
    expect(upserts.length).toBeGreaterThanOrEqual(3);
  });

  it("renews an expired session once after the 401 (INVALID_SESSION_ID / INVALID_TOKEN) and delivers", async () => {
    const [sfBefore, zBefore] = [salesforceTokens.requests, zohoTokens.requests];
    sf.expireAllTokens();
    zoho.expireAllTokens();
    const lead = await submit(ids.site, { email: "expired@example.com", name: "Ex Pired" });
    await deliveredTo(lead._id, dest.salesforce!);
    await deliveredTo(lead._id, dest.zoho!);
    expect(salesforceTokens.requests).toBe(sfBefore + 1);
    expect(zohoTokens.requests).toBe(zBefore + 1);
    expect(sf.requests().filter((r) => r.status === 401).length).toBe(1);
    expect(zoho.requests().filter((r) => r.status === 401).length).toBe(1);
  });

  it("waits out REQUEST_LIMIT_EXCEEDED and Zoho's 429, and retries 5xx", async () => {
    sf.setUsage(100_000);
    zoho.faults.failNext(1, 429);
    const lead = await submit(ids.site, { email: "busy@example.com", name: "Busy Bee" });
    const limited = await statusWhere(lead._id, dest.salesforce!, (s) => s.status === "failed" && /REQUEST_LIMIT_EXCEEDED/.test(s.lastError ?? ""), "the request limit");
    expect(limited).toMatchObject({ retryable: true });
    expect(limited.nextAt!.getTime() - limited.updatedAt.getTime()).toBeGreaterThanOrEqual(900);
    sf.setUsage(0);
    await deliveredTo(lead._id, dest.salesforce!);
    await deliveredTo(lead._id, dest.zoho!);
    const z = zoho.requests().filter((r) => r.path === "/crm/v6/Leads/upsert" && JSON.stringify(r.body).includes("busy@example.com"));
    expect(z.map((r) => r.status)).toEqual([429, 200]);
    expect(z[1]!.at - z[0]!.at).toBeGreaterThanOrEqual(900);

    sf.faults.failNext(2, 503, { path: "/services/data" });
    zoho.faults.failNext(1, 500, { path: "/crm" });
    const other = await submit(ids.site, { email: "flaky@example.com", name: "Flaky Server" });
    const s = await deliveredTo(other._id, dest.salesforce!);
    await deliveredTo(other._id, dest.zoho!);
    expect(s.attempts).toBe(0);
    expect(sf.requests().filter((r) => r.fault === "failNext" && r.status === 503)).toHaveLength(2);
  });

  it("fails a lead refused for a field at once, naming the field on the lead, and delivers the others in the batch", async () => {
    await worker.stop();
    const bad = await submit(ids.site, { email: "picky@example.com", name: "Picky Plan", plan: "Enterprise" });
    const good = await submit(ids.site, { email: "fine@example.com", name: "Fine Plan", plan: "team" });
    worker.start();
    await deliveredTo(good._id, dest.salesforce!);
    await deliveredTo(good._id, dest.zoho!);
    const s = await statusWhere(bad._id, dest.salesforce!, (x) => x.status === "failed", "the Salesforce refusal");
    const z = await statusWhere(bad._id, dest.zoho!, (x) => x.status === "failed", "the Zoho refusal");
    for (const x of [s, z]) expect(x).toMatchObject({ retryable: false, nextAt: null, attempts: 1 });
    expect(s.lastError).toMatch(/INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST on field Plan__c/);
    expect(z.lastError).toMatch(/INVALID_DATA on field Plan__c/);
    // both went in one batch with the good lead
    const batch = sf.requests().find((r) => r.method === "PATCH" && JSON.stringify(r.body).includes(bad._id))!;
    expect(JSON.stringify(batch.body)).toContain(good._id);
    const shown = await call("GET", `/v1/leads/${bad._id}`);
    expect(shown.body.sync).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "salesforce", status: "failed", error: expect.stringContaining("Plan__c") })]));
    await new Promise((r) => setTimeout(r, 500));
    expect(sf.requests().filter((r) => r.method === "PATCH" && JSON.stringify(r.body).includes(bad._id))).toHaveLength(1);
  });

  it("sends an EU Zoho location to the EU domains (accounts.zoho.eu, www.zohoapis.eu)", async () => {
    const lead = await submit(ids.siteEu, { email: "marie@example.eu", name: "Marie Curie" });
    const s = await deliveredTo(lead._id, dest.zohoEu!);
    const record = zohoRecord("marie@example.eu", "eu")!;
    expect(s.externalId).toBe(record.id);
    expect(zohoRecord("marie@example.eu", "com")).toBeUndefined();
    const mine = zoho.requests().filter((r) => r.headers["x-forwarded-host"]);
    expect(mine.map((r) => [r.headers["x-forwarded-host"], r.path])).toEqual([
      ["accounts.zoho.eu", "/oauth/v2/token"],
      ["www.zohoapis.eu", "/crm/v6/Leads/upsert"],
    ]);
  });

  it("erases the person from Salesforce (DELETE the record) and Zoho (DELETE ?ids=)", async () => {
    const lead = await submit(ids.site, { email: "forget@example.com", name: "Forget Me" });
    const s = await deliveredTo(lead._id, dest.salesforce!);
    const z = await deliveredTo(lead._id, dest.zoho!);
    await mongo.db.collection<LeadDocument>(COLLECTIONS.leads).deleteOne({ _id: lead._id });
    await enqueueErasedLead(mongo.db, lead);
    await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments({ _id: lead._id as never })) === 0 ? true : undefined), 20_000, "the erasure to settle");
    expect(sf.deleted()).toContain(s.externalId);
    expect(zoho.deleted()).toContain(z.externalId);
    expect(sfRecord(lead._id)).toBeUndefined();
    expect(zohoRecord("forget@example.com")).toBeUndefined();
  });
});

describe("delivery policy", () => {
  const hookLeads = (hook: string) => receiver.unique(hook).map((d) => (d.body as { data: { lead: { id: string } } }).data.lead.id);

  it("A partial lead reaches no destination under the default policy, and reaches the one set to include partial leads; submitted later, it reaches the default one with everything gathered", async () => {
    const made = await call("GET", `/v1/destinations/${dest.policyDefault}`);
    expect(made.body).toMatchObject({ deliveryPolicy: "submitted", minQuality: "medium" });
    const partial = await submit(ids.sitePolicy, { email: "maybe@example.com", company_name: "Maybe Inc" }, { type: "form_interaction", visitor: "maybe" });
    await eventually(async () => (hookLeads("partial").includes(partial._id) ? true : undefined), 10_000, "the partial lead at the destination taking partial leads");
    await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments({ _id: partial._id as never })) === 0 ? true : undefined), 10_000, "the outbox entry to settle");
    expect(hookLeads("default")).not.toContain(partial._id);
    expect(await statusOf(partial._id, dest.policyDefault!)).toBeNull();
    const shown = await call("GET", `/v1/leads/${partial._id}`);
    expect(Object.fromEntries((shown.body.sync as { destinationId: string; status: string }[]).map((s) => [s.destinationId, s.status]))).toEqual({ [dest.policyDefault!]: "held", [dest.policyPartial!]: "delivered" });

    await submit(ids.sitePolicy, { email: "maybe@example.com", name: "May Be" }, { visitor: "maybe" });
    await deliveredTo(partial._id, dest.policyDefault!);
    const [delivery] = receiver.unique("default").filter((d) => (d.body as { data: { lead: { id: string } } }).data.lead.id === partial._id);
    expect(delivery!.type).toBe("lead.created");
    expect((delivery!.body as { data: { lead: Record<string, unknown> } }).data.lead).toMatchObject({ status: "submitted", fields: { company_name: "Maybe Inc", name: "May Be" } });
  });

  it("keeps the old behaviour for a request with sendPartial only, and a policy change applies to pending deliveries at their next attempt", async () => {
    const old = await call("POST", "/v1/destinations", { kind: "webhook", name: "Old client", siteId: ids.sitePolicy, config: { url: receiver.hookUrl("old") }, secret: WHSEC, sendPartial: false });
    expect(old.body).toMatchObject({ deliveryPolicy: "all", sendPartial: false });
    // the site's own destination now replaces its location's: an identified-by-form partial lead is held by "all" without sendPartial
    const partial = await submit(ids.sitePolicy, { email: "later@example.com" }, { type: "form_interaction" });
    await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments({ _id: partial._id as never })) === 0 ? true : undefined), 10_000, "held");
    expect(hookLeads("old")).not.toContain(partial._id);
    // the receiver refuses for a while: the next partial lead waits for its retry, and the policy changes meanwhile
    receiver.faults.down();
    const patched = await call("PATCH", `/v1/destinations/${old.body.id as string}`, { deliveryPolicy: "submitted" });
    expect(patched.body).toMatchObject({ deliveryPolicy: "submitted" });
    const changed = await call("PATCH", `/v1/destinations/${old.body.id as string}`, { deliveryPolicy: "all", sendPartial: true });
    expect(changed.status).toBe(200);
    const pending = await submit(ids.sitePolicy, { email: "pending@example.com" }, { type: "form_interaction" });
    await statusWhere(pending._id, old.body.id as string, (s) => s.status === "failed" && s.retryable, "a failed attempt");
    expect((await call("PATCH", `/v1/destinations/${old.body.id as string}`, { deliveryPolicy: "submitted" })).status).toBe(200);
    receiver.faults.up();
    // decided again at its next attempt: the partial lead is now held, not sent
    await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments({ _id: pending._id as never })) === 0 ? true : undefined), 15_000, "the pending delivery to be decided again");
    expect(hookLeads("old")).not.toContain(pending._id);
    expect((await call("PATCH", `/v1/destinations/${old.body.id as string}`, { deliveryPolicy: "sometimes" })).status).toBe(400);
    expect((await call("DELETE", `/v1/destinations/${old.body.id as string}`)).status).toBe(200);
  });
});
