/**
 * Drain throughput: the same messages written by `processBatch` (events + sessions + leads + rollups, idempotent)
 * and, as the baseline, the same event documents written by raw unordered `insertMany`, each into a fresh database
 * with the same indexes on the same server. A warm-up round (discarded) first, then rounds that alternate raw and
 * drain, so neither side pays for the server's warm-up; prints the median ratio and its spread over the rounds.
 */
import { join } from "node:path";
import type { QueueMessage } from "#contracts";
import { processBatch } from "../backend-consumer/src/drain/process-batch.ts";
import { toEventDocuments, type EventDocument } from "../backend-consumer/src/store/events.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { ensureMongo } from "../scripts/lib/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { planBatches } from "../scripts/testing/load.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import type { BenchResult } from "./stats.ts";

const BATCH = 100; // messages per processBatch call: the pull client's batch size

type Server = Awaited<ReturnType<typeof ensureMongo>>;

/** Milliseconds to write `messages` one way or the other into a fresh database (dropped afterwards). */
async function round(server: Server, messages: QueueMessage[], how: "raw" | "drain"): Promise<number> {
  const mongo = await connectMongo(server.url, uniqueDbName(`bench_${how}`));
  try {
    await ensureIndexes(mongo.db);
    const t = performance.now();
    if (how === "raw") {
      const docs = messages.flatMap((m) => toEventDocuments(m));
      for (let i = 0; i < docs.length; i += BATCH * 50) await mongo.db.collection<EventDocument>(COLLECTIONS.events).insertMany(docs.slice(i, i + BATCH * 50) as never, { ordered: false });
    } else {
      for (let i = 0; i < messages.length; i += BATCH) {
        const deliveries = messages.slice(i, i + BATCH).map((body, j) => ({ id: `m${i + j}`, body, attempts: 1 }));
        const outcomes = await processBatch(deliveries, { db: mongo.db });
        if (outcomes.some((o) => o.action !== "ack")) throw new Error("drain benchmark: a message was not acked");
      }
    }
    const ms = performance.now() - t;
    const stored = await mongo.db.collection(COLLECTIONS.events).countDocuments();
    const expected = messages.reduce((n, m) => n + m.events.length, 0);
    if (stored !== expected) throw new Error(`drain benchmark (${how}) stored ${stored} of ${expected}`);
    return ms;
  } finally {
    await mongo.db.dropDatabase();
    await mongo.close();
  }
}

export async function drainThroughput(messagesCount = Number(process.env.BENCH_DRAIN_MESSAGES ?? 400), rounds = Number(process.env.BENCH_DRAIN_ROUNDS ?? 5)): Promise<BenchResult> {
  const server = await ensureMongo({ port: BENCH_PORTS.mongo, dataDir: join(DATA_DIR, "bench", "mongo") });
  // two pages per message: the SDK sends a page's events together (see planBatches)
  const { batches, events } = planBatches({ requests: messagesCount, eventsPerRequest: 50, siteKey: "bench", submissionShare: 0.02, emails: 500, sessions: 2000, seed: 3, pagesPerRequest: 2 });
  const receivedAt = Date.now();
  const messages: QueueMessage[] = batches.map((b) => ({ v: 1, siteId: "bench-site", receivedAt, geo: { country: "DE" }, ip: "203.0.113.0", ua: "Mozilla/5.0", events: JSON.parse(b.body).events }));
  try {
    await round(server, messages.slice(0, 100), "raw");
    await round(server, messages.slice(0, 100), "drain");
    const ratios: number[] = [];
    const rates = { raw: [] as number[], drain: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      // alternate which goes first, so neither always follows the other's garbage
      const order: ("raw" | "drain")[] = r % 2 ? ["drain", "raw"] : ["raw", "drain"];
      const ms: Record<string, number> = {};
      for (const how of order) ms[how] = await round(server, messages, how);
      rates.raw.push(events / (ms.raw! / 1000));
      rates.drain.push(events / (ms.drain! / 1000));
      ratios.push(ms.raw! / ms.drain!);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      name: "Drain throughput vs raw insertMany (same documents, same server)",
      lines: [
        `${events} events in ${messages.length} messages of 50 on 2 pages each (2% form submissions), batches of ${BATCH} messages, server: ${process.env.MONGODB_URI ? "MONGODB_URI" : "mongo-java-server 1.47 (H2 file)"}; a warm-up round, then ${rounds} rounds alternating`,
        `raw insertMany: median ${Math.round(median(rates.raw))} events/s; processBatch (events + sessions + leads + rollups): median ${Math.round(median(rates.drain))} events/s`,
        `ratio drain / raw: median ${median(ratios).toFixed(2)}, spread ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} over ${rounds} rounds (target ≥ 0.85)`,
      ],
    };
  } finally {
    await server.stop();
  }
}
