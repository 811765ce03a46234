/**
 * CRM delivery under failure, with the backend as its own process (as in production) delivering to a local
 * Standard Webhooks receiver:
 * - SIGKILLed 10 times while delivering 5,000 leads: every lead reaches the receiver, each webhook-id's effect once
 *   after the receiver's deduplication; the redeliveries (sent again because a kill came between sending and
 *   recording) are counted and reported;
 * - the destination down for five minutes, then back: every lead is delivered, none dead-lettered.
 */
import { randomBytes } from "node:crypto";
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
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { testPort } from "../../scripts/testing/ports.ts";

const KEY = randomBytes(32).toString("base64");
const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let receiver: WebhookReceiver;
const T = crypto.randomUUID();
const L = crypto.randomUUID();

/** A site with one webhook destination named `hook` on the receiver. */
async function siteWithHook(hook: string): Promise<string> {
  const siteId = crypto.randomUUID();
  await maria.db.insert(sites).values({ id: siteId, tenantId: T, locationId: L, name: hook, domain: `${hook}.example`, siteKey: `k_${siteId}` });
  const id = crypto.randomUUID();
  await maria.db.insert(destinations).values({
    id,
    tenantId: T,
    siteId,
    kind: "webhook",
    name: hook,
    config: { url: receiver.hookUrl(hook), maxPerSecond: 1000 },
    secretEnc: new SecretBox(KEY).seal(WHSEC, id),
  });
  return siteId;
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
  await maria.db.insert(tenants).values({ id: T, name: "T" });
  await maria.db.insert(locations).values({ id: L, tenantId: T, name: "L" });
});
afterAll(async () => {
  await receiver?.stop();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

describe("CRM delivery under failure", () => {
  it("SIGKILLed 10 times while delivering 5,000 leads: every lead arrives, each webhook-id once after deduplication", async () => {
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
    expect(statuses.filter((s) => s.status === "delivered").length).toBe(5000);
    console.log(`crm kill test: 10 SIGKILLs, ${all.length} deliveries for 5000 leads: ${all.length - unique.length} redeliveries, deduplicated by webhook-id`);
  }, 300_000);

  it("a destination down for five minutes, then back: every lead delivered, none dead-lettered", async () => {
    const siteId = await siteWithHook("outage");
    const before = receiver.requests().length;
    receiver.faults.down();
    // production backoff, capped at a minute; 30 attempts outlast far longer outages than this one
    const backend = startBackend(testPort(61), { DELIVERY_BACKOFF_CAP_MS: "60000", DELIVERY_MAX_ATTEMPTS: "30" });
    try {
      await makeLeads(siteId, 200);
      await new Promise((r) => setTimeout(r, 5 * 60_000));
      const refused = receiver.requests().slice(before).filter((r) => r.status === 503).length;
      expect(refused).toBeGreaterThan(0);
      receiver.faults.up();
      const upAt = Date.now();
      await eventually(async () => (uniqueLeads("outage").size === 200 ? true : undefined), 120_000, "all 200 leads after the outage");
      const statuses = await mongo.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).find({ siteId }).toArray();
      expect(statuses.filter((s) => s.status === "dead")).toEqual([]);
      expect(statuses.filter((s) => s.status === "delivered").length).toBe(200);
      const lastAt = Math.max(...receiver.unique("outage").map((d) => d.receivedAt));
      console.log(`crm outage test: ${refused} attempts refused during 5 minutes down; the last of 200 leads arrived ${((lastAt - upAt) / 1000).toFixed(1)} s after the destination came back`);
    } finally {
      backend.child.kill("SIGTERM");
      await backend.exited;
    }
  }, 480_000);
});
