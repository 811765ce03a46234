/**
 * End-to-end latency on the local stack: headless Chromium loads the demo page N times; for each page_view we take
 * the time from the SDK creating and sending the event (its `ts`, browser clock) to the backend building the
 * MongoDB insert for it (`createdAt`, backend clock). Same machine, same clock. The local queue's batch window
 * (max_batch_timeout, 1 s by default) is part of what is measured, as it would be in production.
 */
import { join } from "node:path";
import { connectMongo } from "../backend-consumer/src/store/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { DEMO } from "../scripts/lib/seed.ts";
import { startStack } from "../scripts/lib/stack.ts";
import { launchBrowser } from "../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../scripts/testing/mongo.ts";
import { percentile, type BenchResult } from "./stats.ts";

export const BENCH_PORTS = { worker: 28787, demo: 28788, backend: 28790, mariadb: 23307, mongo: 27048 };

export async function e2eLatency(views = Number(process.env.BENCH_VIEWS ?? 120), batchTimeout = 1): Promise<BenchResult> {
  const dbName = uniqueDbName("bench_latency");
  const stack = await startStack({ dataDir: join(DATA_DIR, "bench"), ports: BENCH_PORTS, mongoDb: dbName, siteKey: "bench-site", batchTimeout });
  const mongo = await connectMongo(stack.mongo.url, dbName);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    for (let i = 0; i < views; i++) {
      // Wait for the answer to the request that carries this load's own page_view (each load has its own URL), not
      // to a retry of an earlier page's events that the SDK's outbox may re-send first.
      const url = `${stack.demoUrl}?view=${i}`;
      const sent = page.waitForResponse((r) => r.url().endsWith("/v1/events") && (r.request().postData() ?? "").includes(`"url":"${url}"`));
      await page.goto(url);
      await sent;
    }
    const events = mongo.db.collection("events");
    const query = { siteId: DEMO.siteId, type: "page_view", "page.url": { $regex: "\\?view=" } };
    await eventually(async () => ((await events.countDocuments(query)) >= views ? true : undefined), 30_000, "all page views");
    const docs = await events.find(query, { projection: { ts: 1, receivedAt: 1, createdAt: 1 } }).toArray();
    const latencies = docs.map((d) => d.createdAt.getTime() - d.ts.getTime()).sort((a, b) => a - b);
    const toEdge = docs.map((d) => d.receivedAt.getTime() - d.ts.getTime()).sort((a, b) => a - b);
    const toDb = docs.map((d) => d.createdAt.getTime() - d.receivedAt.getTime()).sort((a, b) => a - b);
    return {
      name: "End-to-end latency (browser send → MongoDB insert), local stack",
      lines: [
        `page views: ${latencies.length} (queue max_batch_timeout ${batchTimeout} s)`,
        `p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${latencies.at(-1)} ms`,
        `of which browser → edge: p50 ${percentile(toEdge, 50)} ms, p95 ${percentile(toEdge, 95)} ms; edge → queue → MongoDB insert: p50 ${percentile(toDb, 50)} ms, p95 ${percentile(toDb, 95)} ms`,
      ],
    };
  } finally {
    await browser.close();
    await mongo.db.dropDatabase();
    await mongo.close();
    await stack.stop();
  }
}
