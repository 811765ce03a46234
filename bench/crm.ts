/**
 * CRM delivery to the local Standard Webhooks receiver (signatures checked on every request), with a delivery
 * worker and the drain in one process, as the backend runs them:
 * - latency: the drain gets the lead's queue message (it stores the lead and writes the outbox entry) → the
 *   receiver has the signed lead.created, over N leads made at a steady 50 a second;
 * - throughput: M leads already in the outbox, delivered by a fresh worker, against raw signed POSTs of the same
 *   bodies to the same receiver with the same concurrency (8), in the same run.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import type { QueueMessage } from "#contracts";
import { connectMariadb, migrateMariadb } from "../backend-consumer/src/config/db.ts";
import { destinations, locations, sites, tenants } from "../backend-consumer/src/config/schema.ts";
import { loadConnectors } from "../backend-consumer/src/crm/connectors/index.ts";
import { DestinationDirectory } from "../backend-consumer/src/crm/directory.ts";
import { SecretBox } from "../backend-consumer/src/crm/secret-box.ts";
import { DeliveryWorker } from "../backend-consumer/src/crm/worker.ts";
import { processBatch } from "../backend-consumer/src/drain/process-batch.ts";
import { connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { createDatabase } from "../scripts/lib/mariadb.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { startServices } from "../scripts/lib/services.ts";
import { startWebhookReceiver } from "../scripts/testing/fake-crm/webhook-receiver.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const CONCURRENCY = 8;

export async function crmDelivery(latencyLeads = Number(process.env.BENCH_CRM_LEADS ?? 1000), throughputLeads = Number(process.env.BENCH_CRM_THROUGHPUT_LEADS ?? 2000)): Promise<BenchResult> {
  const services = await startServices({ dataDir: join(DATA_DIR, "bench"), ports: BENCH_PORTS, mongoMemory: true });
  const whsec = `whsec_${randomBytes(32).toString("base64")}`;
  const receiver = await startWebhookReceiver({ secret: whsec });
  const mariaUrl = await createDatabase(services.mariadb.url, uniqueDbName("bench_crm"));
  await migrateMariadb(mariaUrl);
  const maria = connectMariadb(mariaUrl, { connectionLimit: 4 });
  const mongo = await connectMongo(services.mongo.url, uniqueDbName("bench_crm"));
  const key = randomBytes(32).toString("base64");
  const box = new SecretBox(key);
  const connectors = await loadConnectors();
  const directory = new DestinationDirectory(maria.db, box, connectors);
  const log = (msg: string, f?: Record<string, unknown>) => console.error(msg, f ?? {});
  try {
    await ensureIndexes(mongo.db);
    const [T, L] = [crypto.randomUUID(), crypto.randomUUID()];
    await maria.db.insert(tenants).values({ id: T, name: "bench" });
    await maria.db.insert(locations).values({ id: L, tenantId: T, name: "bench" });
    const site = async (hook: string) => {
      const siteId = crypto.randomUUID();
      const id = crypto.randomUUID();
      await maria.db.insert(sites).values({ id: siteId, tenantId: T, locationId: L, name: hook, domain: `${hook}.example`, siteKey: `k_${siteId}` });
      await maria.db.insert(destinations).values({ id, tenantId: T, siteId, kind: "webhook", name: hook, config: { url: receiver.hookUrl(hook), maxPerSecond: 10_000 }, secretEnc: box.seal(whsec, id) });
      return siteId;
    };
    const lead = (siteId: string, i: number): QueueMessage => ({
      v: 1,
      siteId,
      receivedAt: Date.now(),
      geo: {},
      ip: null,
      ua: null,
      events: [{ id: crypto.randomUUID(), type: "form_submission", ts: Date.now(), sessionId: `s${i}`, visitorId: `v${i}`, form: { formId: "contact", fields: { email: `p${i}@${siteId.slice(0, 6)}.example`, name: `Person ${i}` } } }],
    });

    // latency: a worker running, leads arriving at 50 a second
    const latencySite = await site("latency");
    const worker = new DeliveryWorker({ db: mongo.db, directory, log });
    worker.start();
    const storedAt = new Map<string, number>();
    for (let i = 0; i < latencyLeads; i++) {
      const t = performance.now();
      // from the drain receiving the message (the lead is stored inside processBatch, and the worker may finish
      // delivering before processBatch returns): an upper bound on "stored → delivered"
      storedAt.set(`p${i}@${latencySite.slice(0, 6)}.example`, Date.now());
      await processBatch([{ id: crypto.randomUUID(), body: lead(latencySite, i), attempts: 1 }], { db: mongo.db });
      const wait = 20 - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const deadline = Date.now() + 60_000;
    while (receiver.unique("latency").length < latencyLeads && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await worker.stop();
    const latencies = receiver
      .unique("latency")
      .map((d) => d.receivedAt - storedAt.get((d.body as { data: { lead: { email: string } } }).data.lead.email)!)
      .sort((a, b) => a - b);

    // throughput: leads waiting in the outbox, then a worker; vs the same bodies POSTed raw. A raw warm-up round
    // first (discarded), then rounds alternating worker and raw, each on fresh leads; median ratio and spread.
    const bodies = receiver.unique("latency");
    const signer = new Webhook(whsec);
    const raw = async (round: string, count: number): Promise<number> => {
      let next = 0;
      const t = performance.now();
      const lane = async () => {
        while (next < count) {
          const i = next++;
          const at = new Date();
          // a body the worker sent in the latency phase: same shape and size
          const body = JSON.stringify(bodies[i % bodies.length]!.body);
          const id = `raw-${round}-${i}`;
          const res = await fetch(receiver.hookUrl(`raw-${round}`), {
            method: "POST",
            headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signer.sign(id, at, body) },
            body,
          });
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, lane));
      return count / ((performance.now() - t) / 1000);
    };
    const viaWorker = async (round: string, count: number): Promise<number> => {
      const siteId = await site(`tp-${round}`);
      for (let i = 0; i < count; i += 50) {
        await processBatch(
          Array.from({ length: Math.min(50, count - i) }, (_, j) => ({ id: crypto.randomUUID(), body: lead(siteId, i + j), attempts: 1 })),
          { db: mongo.db },
        );
      }
      const tpWorker = new DeliveryWorker({ db: mongo.db, directory, log }, { perDestinationConcurrency: CONCURRENCY });
      const t = performance.now();
      tpWorker.start();
      while (receiver.unique(`tp-${round}`).length < count) await new Promise((r) => setTimeout(r, 10));
      const rate = count / ((performance.now() - t) / 1000);
      await tpWorker.stop();
      return rate;
    };
    await raw("warm", 500);
    const rounds: { worker: number; raw: number }[] = [];
    for (let r = 0; r < 3; r++) rounds.push({ worker: await viaWorker(String(r), throughputLeads), raw: await raw(String(r), throughputLeads) });
    const ratios = rounds.map((r) => r.worker / r.raw).sort((a, b) => a - b);
    const median = ratios[1]!;

    return {
      name: "CRM delivery: lead stored → signed webhook received, and delivery throughput vs raw POSTs (local receiver)",
      lines: [
        `latency (queue message reaches the drain → signed webhook received) over ${latencies.length} leads at 50/s: p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${latencies.at(-1)} ms (goal p95 ≤ 1000 ms)`,
        `throughput, ${throughputLeads} leads a round, concurrency ${CONCURRENCY}, 3 rounds: worker ${rounds.map((r) => r.worker.toFixed(0)).join(", ")} leads/s; raw signed POSTs ${rounds.map((r) => r.raw.toFixed(0)).join(", ")} req/s`,
        `ratio worker / raw: median ${median.toFixed(2)} (spread ${ratios[0]!.toFixed(2)}–${ratios[2]!.toFixed(2)}; goal ≥ 0.7)`,
      ],
    };
  } finally {
    await receiver.stop();
    await mongo.db.dropDatabase();
    await mongo.close();
    await maria.close();
    await services.stop();
  }
}
