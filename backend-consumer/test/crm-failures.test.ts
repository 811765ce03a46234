/**
 * CRM delivery under failure, with the backend as its own process (as in production) delivering to a local
 * Standard Webhooks receiver and the Salesforce and Zoho CRM stand-ins (the same site's three destinations):
 * - SIGKILLed 10 times while delivering 5,000 leads: every lead reaches the receiver, each webhook-id's effect once
 *   after the receiver's deduplication, and each CRM holds exactly one record per lead (upserts by external id /
 *   duplicate check field); the redeliveries (sent again because a kill came between sending and recording) are
 *   counted and reported;
 * - the destinations down for five minutes, then back: every lead is delivered everywhere, none dead-lettered.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { SecretBox } from "../src/crm/secret-box.ts";
import { DELIVERY_STATUS, type DeliveryStatusDocument } from "../src/crm/worker.ts";
import { LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { destinations, locations, sites, tenants } from "../src/config/schema.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import type { LeadDocument } from "../src/store/leads.ts";
import { ROOT, toolEnv } from "../../scripts/lib/paths.ts";
import { startSalesforceFake, type SalesforceFake } from "../../scripts/testing/fake-crm/salesforce.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { startZohoFake, type ZohoFake } from "../../scripts/testing/fake-crm/zoho.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { testPort } from "../../scripts/testing/ports.ts";

const KEY = randomBytes(32).toString("base64");
const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let receiver: WebhookReceiver;
let salesforce: SalesforceFake;
let zoho: ZohoFake;
const T = crypto.randomUUID();
const L = crypto.randomUUID();
const SF_KEYS = generateKeyPairSync("rsa", { modulusLength: 2048 });
const SF = { clientId: "3MVG9fail.consumer", user: "integration@agency.example" };
const ZOHO = { clientId: "1000.FAILCLIENT", clientSecret: randomBytes(8).toString("hex"), refreshToken: `1000.${randomBytes(8).toString("hex")}` };

/** A site with a webhook destination named `hook` on the receiver, and Salesforce and Zoho destinations on their stand-ins. */
async function siteWithHook(hook: string): Promise<string> {
  const siteId = crypto.randomUUID();
  await maria.db.insert(sites).values({ id: siteId, tenantId: T, locationId: L, name: hook, domain: `${hook}.example`, siteKey: `k_${siteId}` });
  const [hookId, sfId, zohoId] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  const box = new SecretBox(KEY);
  const sfSecret = JSON.stringify({ flow: "jwt", clientId: SF.clientId, username: SF.user, privateKey: SF_KEYS.privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
  await maria.db.insert(destinations).values([
    { id: hookId, tenantId: T, siteId, kind: "webhook", name: hook, config: { url: receiver.hookUrl(hook), maxPerSecond: 1000 }, secretEnc: box.seal(WHSEC, hookId) },
    { id: sfId, tenantId: T, siteId, kind: "salesforce", name: `${hook} Salesforce`, config: { loginUrl: salesforce.url }, secretEnc: box.seal(sfSecret, sfId) },
    { id: zohoId, tenantId: T, siteId, kind: "zoho", name: `${hook} Zoho`, config: { accountsUrl: zoho.url, apiUrl: zoho.url }, secretEnc: box.seal(JSON.stringify(ZOHO), zohoId) },
  ]);
  return siteId;
}

/** Leads of the site whose record is in each CRM: Salesforce by external id (our lead id), Zoho by email. */
async function inCrms(siteId: string): Promise<{ leads: number; salesforce: number; zoho: number; sfRecordsPerLead: number; zohoRecordsPerLead: number }> {
  const leads = await mongo.db.collection<LeadDocument>(COLLECTIONS.leads).find({ siteId }, { projection: { _id: 1, email: 1 } }).toArray();
  const ids = new Set(leads.map((l) => l._id));
  const emails = new Set(leads.map((l) => l.email));
  const sfRecords = salesforce.records("Lead").filter((r) => ids.has(r.fields.Lead_Tracker_Id__c!));
  const zohoRecords = zoho.records("com", "Leads").filter((r) => emails.has(r.fields.Email!));
  return {
    leads: leads.length,
    salesforce: new Set(sfRecords.map((r) => r.fields.Lead_Tracker_Id__c)).size,
    zoho: new Set(zohoRecords.map((r) => r.fields.Email)).size,
    sfRecordsPerLead: sfRecords.length / Math.max(1, leads.length),
    zohoRecordsPerLead: zohoRecords.length / Math.max(1, leads.length),
  };
}

/** Records sent to a CRM more than once (a kill between sending and recording), from the stand-ins' request logs. */
function resent(siteLeadIds: Set<string>): { salesforce: number; zoho: number } {
  const sfSent = salesforce.requests().filter((r) => r.method === "PATCH" && r.status === 200).flatMap((r) => ((r.body as { records?: { Lead_Tracker_Id__c?: string }[] }).records ?? []).map((x) => x.Lead_Tracker_Id__c!)).filter((id) => siteLeadIds.has(id));
  const zohoSent = zoho.requests().filter((r) => r.path.endsWith("/upsert") && r.status === 200).flatMap((r) => ((r.body as { data?: { Email?: string }[] }).data ?? []).map((x) => x.Email!));
  return { salesforce: sfSent.length - new Set(sfSent).size, zoho: zohoSent.length - new Set(zohoSent).size };
}

/** `count` leads on `siteId`, made by the real drain, 50 submissions a message. */
async function makeLeads(siteId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    const events: TrackerEvent[] = Array.from({ length: Math.min(50, count - i) }, (_, j) => ({
      id: crypto.randomUUID(),
      type: "form_submission",
      ts: Date.now(),
      sessionId: `s-${siteId}-${i + j}`,
      visitorId: `v-${siteId}-${i + j}`,
      form: { formId: "contact", fields: { email: `person${i + j}@${siteId.slice(0, 8)}.example`, name: `Person ${i + j}` } },
    }));
    const message: QueueMessage = { v: 1, siteId, receivedAt: Date.now(), geo: {}, ip: null, ua: null, events };
    const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: mongo.db });
    expect(outcome).toMatchObject({ action: "ack" });
  }
}

function startBackend(port: number, extra: Record<string, string>): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "backend-consumer/src/main.ts")], {
    env: toolEnv({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      MARIADB_URL: maria.url,
      KV_SYNC: "off",
      INTERNAL_TOKEN: randomBytes(32).toString("hex"),
      JWT_SECRET: randomBytes(32).toString("hex"),
      BACKEND_PORT: String(port),
      DESTINATION_SECRET_KEY: KEY,
      VISIT_FINALIZE_INTERVAL_MS: "600000",
      ...extra,
    }),
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { child, exited: new Promise((resolve) => child.once("exit", resolve)) };
}

const uniqueLeads = (hook: string) => new Set(receiver.unique(hook).map((d) => (d.body as { data: { lead: { id: string } } }).data.lead.id));

beforeAll(async () => {
  maria = await testMariadb("crmfail");
  mongo = await testMongo("crmfail");
  await ensureIndexes(mongo.db);
  receiver = await startWebhookReceiver({ secret: WHSEC });
  salesforce = await startSalesforceFake({ clientId: SF.clientId, publicKey: SF_KEYS.publicKey.export({ type: "spki", format: "pem" }).toString(), users: [SF.user] });
  zoho = await startZohoFake({ clientId: ZOHO.clientId, clientSecret: ZOHO.clientSecret, refreshTokens: [{ token: ZOHO.refreshToken }] });
  await maria.db.insert(tenants).values({ id: T, name: "T" });
  await maria.db.insert(locations).values({ id: L, tenantId: T, name: "L" });
});
afterAll(async () => {
  await Promise.all([receiver?.stop(), salesforce?.stop(), zoho?.stop()]);
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

describe("CRM delivery under failure", () => {
  it("SIGKILLed 10 times while delivering 5,000 leads: every lead arrives, each webhook-id once after deduplication, one record per lead in Salesforce and Zoho", async () => {
    const siteId = await siteWithHook("kill");
    await makeLeads(siteId, 5000);
    const env = { DELIVERY_LEASE_MS: "2000" };
    let kills = 0;
    while (kills < 10) {
      const before = uniqueLeads("kill").size;
      const backend = startBackend(testPort(60), env);
      // kill it mid-delivery: once it has made some progress (or after a while, if it has not started yet)
      await eventually(async () => (uniqueLeads("kill").size >= before + 150 ? true : undefined), 30_000, "delivery progress").catch(() => undefined);
      backend.child.kill("SIGKILL");
      await backend.exited;
      kills++;
      if (uniqueLeads("kill").size >= 5000) break;
    }
    expect(kills).toBe(10);
    expect(uniqueLeads("kill").size).toBeLessThan(5000);
    const last = startBackend(testPort(60), env);
    try {
      await eventually(async () => (uniqueLeads("kill").size === 5000 ? true : undefined), 120_000, "all 5,000 leads at the receiver");
      await eventually(async () => {
        const crm = await inCrms(siteId);
        return crm.salesforce === 5000 && crm.zoho === 5000 ? true : undefined;
      }, 120_000, "all 5,000 leads in Salesforce and Zoho");
      await eventually(async () => ((await mongo.db.collection(LEAD_OUTBOX).countDocuments()) === 0 ? true : undefined), 30_000, "the outbox to empty");
    } finally {
      last.child.kill("SIGTERM");
      await last.exited;
    }
    const all = receiver.deliveries("kill");
    const unique = receiver.unique("kill");
    // each lead once after deduplication, and under its own version's id
    expect(unique.length).toBe(5000);
    const leads = await mongo.db.collection<LeadDocument>(COLLECTIONS.leads).find({ siteId }, { projection: { _id: 1, v: 1 } }).toArray();
    expect(new Set(unique.map((d) => d.id))).toEqual(new Set(leads.map((l) => `${l._id}.v${(l as { v?: number }).v ?? 1}`)));
    const statuses = await mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).find({ siteId }).toArray();
    expect(statuses.filter((s) => s.status === "delivered").length).toBe(3 * 5000);
    // one record per lead in each CRM: a redelivery updated the record it had made
    expect(await inCrms(siteId)).toEqual({ leads: 5000, salesforce: 5000, zoho: 5000, sfRecordsPerLead: 1, zohoRecordsPerLead: 1 });
    const byLead = new Map(statuses.filter((s) => s.kind !== "webhook").map((s) => [`${s.kind}|${s.leadId}`, s.externalId]));
    for (const r of salesforce.records("Lead")) if (byLead.has(`salesforce|${r.fields.Lead_Tracker_Id__c}`)) expect(byLead.get(`salesforce|${r.fields.Lead_Tracker_Id__c}`)).toBe(r.Id);
    const again = resent(new Set(leads.map((l) => l._id)));
    console.log(
      `crm kill test: 10 SIGKILLs, ${all.length} deliveries for 5000 leads: ${all.length - unique.length} redeliveries, deduplicated by webhook-id; ` +
        `records upserted again: Salesforce ${again.salesforce}, Zoho ${again.zoho} (one record per lead in each)`,
    );
  }, 300_000);

  it("destinations down for five minutes, then back: every lead delivered everywhere, none dead-lettered", async () => {
    const siteId = await siteWithHook("outage");
    const before = receiver.requests().length;
    const [sfBefore, zohoBefore] = [salesforce.requests().length, zoho.requests().length];
    receiver.faults.down();
    salesforce.faults.down();
    zoho.faults.down();
    // production backoff, capped at a minute; 30 attempts outlast far longer outages than this one
    const backend = startBackend(testPort(61), { DELIVERY_BACKOFF_CAP_MS: "60000", DELIVERY_MAX_ATTEMPTS: "30" });
    try {
      await makeLeads(siteId, 200);
      await new Promise((r) => setTimeout(r, 5 * 60_000));
      const refused = receiver.requests().slice(before).filter((r) => r.status === 503).length;
      expect(refused).toBeGreaterThan(0);
      expect(salesforce.requests().slice(sfBefore).filter((r) => r.status === 503).length).toBeGreaterThan(0);
      expect(zoho.requests().slice(zohoBefore).filter((r) => r.status === 503).length).toBeGreaterThan(0);
      receiver.faults.up();
      salesforce.faults.up();
      zoho.faults.up();
      const upAt = Date.now();
      await eventually(async () => (uniqueLeads("outage").size === 200 ? true : undefined), 120_000, "all 200 leads after the outage");
      await eventually(async () => {
        const crm = await inCrms(siteId);
        return crm.salesforce === 200 && crm.zoho === 200 ? true : undefined;
      }, 120_000, "all 200 leads in Salesforce and Zoho after the outage");
      const statuses = await eventually(async () => {
        const all = await mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).find({ siteId }).toArray();
        return all.filter((s) => s.status === "delivered").length === 3 * 200 ? all : undefined;
      }, 30_000, "every delivery recorded");
      expect(statuses.filter((s) => s.status === "dead")).toEqual([]);
      expect(await inCrms(siteId)).toEqual({ leads: 200, salesforce: 200, zoho: 200, sfRecordsPerLead: 1, zohoRecordsPerLead: 1 });
      const lastAt = Math.max(...receiver.unique("outage").map((d) => d.receivedAt));
      console.log(`crm outage test: ${refused} attempts refused during 5 minutes down; the last of 200 leads arrived ${((lastAt - upAt) / 1000).toFixed(1)} s after the destination came back`);
    } finally {
      backend.child.kill("SIGTERM");
      await backend.exited;
    }
  }, 480_000);
});
