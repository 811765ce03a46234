/**
 * Drain throughput: the same messages written by `processBatch` (events + sessions + leads, idempotent) and, as the
 * baseline, the same event documents written by one raw unordered `insertMany`, each into a fresh database with the
 * same indexes on the same server. Prints events/s for both and their ratio.
 */
import { join } from "node:path";
import type { QueueMessage } from "#contracts";
import { processBatch } from "../backend-consumer/src/drain/process-batch.ts";
import { toEventDocuments } from "../backend-consumer/src/store/events.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { ensureMongo } from "../scripts/lib/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { planBatches } from "../scripts/testing/load.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import type { BenchResult } from "./stats.ts";

const BATCH = 100; // messages per processBatch call: the pull client's batch size

export async function drainThroughput(messagesCount = Number(process.env.BENCH_DRAIN_MESSAGES ?? 400)): Promise<BenchResult> {
  const server = await ensureMongo({ port: BENCH_PORTS.mongo, dataDir: join(DATA_DIR, "bench", "mongo") });
  const { batches, events } = planBatches({ requests: messagesCount, eventsPerRequest: 50, siteKey: "bench", submissionShare: 0.02, emails: 500, sessions: 2000, seed: 3 });
  const receivedAt = Date.now();
  const messages: QueueMessage[] = batches.map((b) => ({ v: 1, siteId: "bench-site", receivedAt, geo: { country: "DE" }, ip: "203.0.113.0", ua: "Mozilla/5.0", events: JSON.parse(b.body).events }));

  const raw = await connectMongo(server.url, uniqueDbName("bench_raw"));
  const drain = await connectMongo(server.url, uniqueDbName("bench_drain"));
  try {
    await ensureIndexes(raw.db);
    await ensureIndexes(drain.db);
    const docs = messages.flatMap((m) => toEventDocuments(m));

    let t = performance.now();
    for (let i = 0; i < docs.length; i += BATCH * 50) {
      await raw.db.collection(COLLECTIONS.events).insertMany(docs.slice(i, i + BATCH * 50), { ordered: false });
    }
    const rawMs = performance.now() - t;

    t = performance.now();
    for (let i = 0; i < messages.length; i += BATCH) {
      const deliveries = messages.slice(i, i + BATCH).map((body, j) => ({ id: `m${i + j}`, body, attempts: 1 }));
      const outcomes = await processBatch(deliveries, { db: drain.db });
      if (outcomes.some((o) => o.action !== "ack")) throw new Error("drain benchmark: a message was not acked");
    }
    const drainMs = performance.now() - t;
    const stored = await drain.db.collection(COLLECTIONS.events).countDocuments();
    if (stored !== events) throw new Error(`drain benchmark stored ${stored} of ${events}`);

    const rawRate = events / (rawMs / 1000);
    const drainRate = events / (drainMs / 1000);
    return {
      name: "Drain throughput vs raw insertMany (same documents, same server)",
      lines: [
        `${events} events in ${messages.length} messages of 50 (2% form submissions), batches of ${BATCH} messages, server: ${process.env.MONGODB_URI ? "MONGODB_URI" : "mongo-java-server 1.47 (H2 file)"}`,
        `raw insertMany: ${Math.round(rawRate)} events/s; processBatch (events + sessions + leads): ${Math.round(drainRate)} events/s`,
        `ratio drain / raw: ${(drainRate / rawRate).toFixed(2)} (target ≥ 0.8)`,
      ],
    };
  } finally {
    await raw.db.dropDatabase();
    await drain.db.dropDatabase();
    await raw.close();
    await drain.close();
    await server.stop();
  }
}
