/**
 * Stats queries at scale: seeds N events (default 2,000,000) over 90 days across 3 locations (3 time zones) and 10
 * sites through the real drain (`processBatch`, which keeps the rollups) and the visit finalizer, then measures 200
 * queries of the dashboard's shapes answered from the rollups, p50 and p95, and the same questions answered by a
 * naive aggregation over the raw events, on a sample (a naive query scans the range's events). Prints the speed-up.
 * `BENCH_STATS_EVENTS=4000000 npm run bench -- stats` runs the larger size; figures of both go to bench/RESULTS.md.
 */
import { join } from "node:path";
import type { Db } from "mongodb";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { runStatsQuery } from "../backend-consumer/src/api/stats/run.ts";
import { planQuery, statsQuerySchema } from "../backend-consumer/src/api/stats/schema.ts";
import { processBatch } from "../backend-consumer/src/drain/process-batch.ts";
import { finalizeVisits } from "../backend-consumer/src/rollups/finalizer.ts";
import { localDay } from "../backend-consumer/src/rollups/keys.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { ensureMongo } from "../scripts/lib/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { prng } from "../scripts/testing/prng.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const DAY = 86_400_000;
/** Messages per processBatch call while seeding (what production pulls at most). */
const SEED_BATCH = Number(process.env.BENCH_STATS_SEED_BATCH ?? 100);
const LOCATIONS = [
  { id: "loc-a", tz: "UTC" },
  { id: "loc-b", tz: "America/New_York" },
  { id: "loc-c", tz: "Europe/Berlin" },
];
const SITES = Array.from({ length: 10 }, (_, i) => ({ id: `bench-site-${i}`, location: LOCATIONS[i % 3]! }));
const SOURCES = [
  { utm: { source: "google", medium: "cpc", campaign: "brand" } },
  { utm: { source: "facebook", medium: "social", campaign: "spring" } },
  { utm: { source: "newsletter", medium: "email", campaign: "weekly" } },
  { referrer: "https://www.google.com/" },
  { referrer: "https://news.ycombinator.com/" },
  {},
  {},
];
const UAS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
];
const COUNTRIES = ["US", "DE", "GB", "FR", "CA", "NL"];

/** One visit as one queue message (the SDK sends a page's events together; a visit fits in one here). */
function visitMessage(rand: () => number, site: (typeof SITES)[number], start: number, n: number): QueueMessage {
  const int = (k: number) => Math.floor(rand() * k);
  const session = `s${n}`;
  const visitor = `v${site.id}-${int(30_000)}`;
  const source = SOURCES[int(SOURCES.length)]!;
  const pages = 1 + (rand() < 0.45 ? 0 : int(7));
  const events: TrackerEvent[] = [];
  let t = start;
  const ev = (type: TrackerEvent["type"], extra: Partial<TrackerEvent> = {}) => events.push({ id: crypto.randomUUID(), type, ts: t, sessionId: session, visitorId: visitor, ...extra } as TrackerEvent);
  const url = (p: number) => ({ url: `https://${site.id}.example/p/${p}`, path: `/p/${p}` });
  ev("session_start", { page: url(0), attribution: { ...source, landingPage: `https://${site.id}.example/p/0` } });
  for (let p = 0; p < pages; p++) {
    const page = url(p === 0 ? int(3) : int(25));
    ev("page_view", { page });
    t += 2_000 + int(60_000);
    ev("engagement", { page, props: { engagedMs: 1_000 + int(40_000) } });
  }
  if (rand() < 0.03) ev("form_submission", { page: url(1), form: { formId: "contact", fields: { email: `lead${int(20_000)}@${site.id}.example`, name: "Bench Lead" } } });
  else if (rand() < 0.05) ev("form_interaction", { page: url(1), form: { formId: "contact", fields: { email: `partial${int(20_000)}@${site.id}.example` } } });
  return { v: 1, siteId: site.id, timezone: site.location.tz, receivedAt: t + 1_000, geo: { country: COUNTRIES[int(COUNTRIES.length)]! }, ip: null, ua: UAS[int(UAS.length)]!, events };
}

/** Seeds about `target` events through the drain; returns the newest local day of the data. */
async function seed(db: Db, target: number): Promise<{ events: number; visits: number; seedMs: number; end: number }> {
  const rand = prng(42);
  const end = Date.now() - 2 * 3_600_000;
  const begin = end - 90 * DAY;
  let events = 0;
  let visits = 0;
  let batch: { id: string; body: QueueMessage; attempts: number }[] = [];
  const t0 = performance.now();
  // two drains side by side, as two pull loops would run
  const inFlight = new Set<Promise<void>>();
  const drain = async (deliveries: typeof batch): Promise<void> => {
    const outcomes = await processBatch(deliveries, { db });
    if (outcomes.some((o) => o.action !== "ack")) throw new Error("stats bench: a message was not acked");
  };
  while (events < target) {
    const site = SITES[visits % SITES.length]!;
    const start = begin + Math.floor(rand() * (end - begin));
    const body = visitMessage(rand, site, start, visits);
    events += body.events.length;
    batch.push({ id: `bench-${visits}`, body, attempts: 1 });
    visits++;
    if (batch.length === SEED_BATCH) {
      const p = drain(batch).finally(() => inFlight.delete(p));
      inFlight.add(p);
      batch = [];
      if (inFlight.size >= 2) await Promise.race(inFlight);
      if (visits % 20_000 === 0) console.log(`  seeded ${events} events (${Math.round(events / ((performance.now() - t0) / 1000))}/s)`);
    }
  }
  if (batch.length) inFlight.add(drain(batch));
  await Promise.all(inFlight);
  for (;;) {
    const { visits: counted } = await finalizeVisits({ db, now: () => Date.now() + DAY, batchSize: 20_000 });
    if (counted === 0) break;
  }
  return { events, visits, seedMs: performance.now() - t0, end };
}

type Query = Record<string, unknown>;

/** The dashboard's shapes, for a data set that ends on `last` (a local day). */
function dashboardQueries(last: string): Query[] {
  const back = (days: number) => new Date(Date.parse(`${last}T00:00:00Z`) - days * DAY).toISOString().slice(0, 10);
  const d30: [string, string] = [back(29), last];
  const d7: [string, string] = [back(6), last];
  const d90: [string, string] = [back(89), last];
  return [
    { metrics: ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], date_range: d30 },
    { metrics: ["visitors", "pageviews"], dimensions: ["time:day"], date_range: d30 },
    { metrics: ["pageviews", "visitors", "time_on_page"], dimensions: ["event:page"], date_range: d30, pagination: { limit: 10 } },
    { metrics: ["visits", "bounce_rate", "conversion_rate"], dimensions: ["visit:source"], date_range: d30, pagination: { limit: 10 } },
    { metrics: ["leads", "partial_leads"], dimensions: ["time:day"], date_range: d30 },
    { metrics: ["visitors", "visits", "pageviews"], date_range: d7, scope: { locationIds: ["loc-b"] } },
    { metrics: ["visits", "visitors"], dimensions: ["time:week"], date_range: d90 },
    { metrics: ["visits"], dimensions: ["visit:country"], date_range: d90 },
    { metrics: ["visits", "conversion_rate"], dimensions: ["visit:device"], date_range: d30 },
    { metrics: ["form_submissions", "leads"], dimensions: ["event:form"], date_range: d90 },
  ];
}

const SITE_TZ = new Map(SITES.map((s) => [s.id, s.location.tz]));

async function runQuery(db: Db, body: Query): Promise<number> {
  const q = statsQuerySchema.parse(body);
  const scoped = q.scope !== "all" && "locationIds" in q.scope ? SITES.filter((s) => (q.scope as { locationIds: string[] }).locationIds.includes(s.location.id)) : SITES;
  const timezones = new Map(scoped.map((s) => [s.id, SITE_TZ.get(s.id)!]));
  const t = performance.now();
  await runStatsQuery(db, q, planQuery(q, "UTC"), timezones, "UTC");
  return performance.now() - t;
}

/** The naive answers: the same questions as aggregations over the raw events of the range. */
function naiveQueries(last: string): ((db: Db) => Promise<unknown>)[] {
  const from = new Date(Date.parse(`${last}T00:00:00Z`) - 29 * DAY - DAY);
  const to = new Date(Date.parse(`${last}T00:00:00Z`) + 2 * DAY);
  const match = { siteId: { $in: SITES.map((s) => s.id) }, ts: { $gte: from, $lt: to } };
  const events = (db: Db) => db.collection(COLLECTIONS.events);
  return [
    // totals: page views and distinct visitors
    (db) => events(db).aggregate([{ $match: match }, { $group: { _id: null, pv: { $sum: { $cond: [{ $eq: ["$type", "page_view"] }, 1, 0] } }, visitors: { $addToSet: "$visitorId" } } }]).toArray(),
    // by page: page views, distinct visitors
    (db) => events(db).aggregate([{ $match: { ...match, type: "page_view" } }, { $group: { _id: "$page.path", pv: { $sum: 1 }, visitors: { $addToSet: "$visitorId" } } }]).toArray(),
    // by day (the day computed from the events, as a naive reader would)
    async (db) => {
      const rows = await events(db).find({ ...match, type: "page_view" }, { projection: { ts: 1, siteId: 1, visitorId: 1 } }).toArray();
      const days = new Map<string, { pv: number; v: Set<string> }>();
      for (const r of rows) {
        const d = localDay(r.ts as Date, SITE_TZ.get(r.siteId as string));
        const e = days.get(d) ?? { pv: 0, v: new Set<string>() };
        e.pv++;
        e.v.add(r.visitorId as string);
        days.set(d, e);
      }
      return days.size;
    },
  ];
}

async function measure(target: number): Promise<string[]> {
  // in memory: the H2 file store of the embedded server gives out near 2M events (see bench/RESULTS.md)
  const server = await ensureMongo({ port: BENCH_PORTS.mongo, dataDir: join(DATA_DIR, "bench", "mongo-stats"), memory: true });
  const mongo = await connectMongo(server.url, uniqueDbName("bench_stats"));
  try {
    await ensureIndexes(mongo.db);
    const seeded = await seed(mongo.db, target);
    const last = localDay(seeded.end, "UTC");
    const shapes = dashboardQueries(last);
    for (const q of shapes) await runQuery(mongo.db, q); // warm-up
    const times: number[] = [];
    const perShape = shapes.map(() => [] as number[]);
    for (let i = 0; i < 200; i++) {
      const ms = await runQuery(mongo.db, shapes[i % shapes.length]!);
      times.push(ms);
      perShape[i % shapes.length]!.push(ms);
    }
    times.sort((a, b) => a - b);
    // the naive side, on its three shapes, 3 times each (each scans a month of raw events)
    const naive = naiveQueries(last);
    const naiveTimes: number[] = [];
    const rollupTwin: number[] = [];
    const twins = [shapes[0]!, shapes[2]!, shapes[1]!];
    for (let r = 0; r < 3; r++) {
      for (const [k, run] of naive.entries()) {
        let t = performance.now();
        await run(mongo.db);
        naiveTimes.push(performance.now() - t);
        t = performance.now();
        await runQuery(mongo.db, twins[k]!);
        rollupTwin.push(performance.now() - t);
      }
    }
    naiveTimes.sort((a, b) => a - b);
    rollupTwin.sort((a, b) => a - b);
    const rollupDocs = await mongo.db.collection(COLLECTIONS.rollups).estimatedDocumentCount();
    const p50 = percentile(times, 50);
    const naive50 = percentile(naiveTimes, 50);
    return [
      `${seeded.events} events in ${seeded.visits} visits over 90 days, 10 sites in 3 locations (UTC, New York, Berlin), seeded through processBatch in ${(seeded.seedMs / 1000).toFixed(0)} s (${Math.round(seeded.events / (seeded.seedMs / 1000))} events/s); ${rollupDocs} rollup documents`,
      `200 dashboard queries (10 shapes) from the rollups: p50 ${p50.toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms (goal p95 ≤ 100 ms)`,
      `slowest shapes (p50): ${shapes
        .map((s, i) => ({ s, p: percentile(perShape[i]!.sort((a, b) => a - b), 50) }))
        .sort((a, b) => b.p - a.p)
        .slice(0, 3)
        .map(({ s, p }) => `${(s.dimensions as string[] | undefined)?.join("+") || "totals"} ${p.toFixed(1)} ms`)
        .join(", ")}`,
      `naive aggregation over the raw events (30 days: totals, by page, by day), 9 runs: p50 ${naive50.toFixed(0)} ms; the same questions from the rollups: p50 ${percentile(rollupTwin, 50).toFixed(1)} ms — ${(naive50 / percentile(rollupTwin, 50)).toFixed(0)}× faster (goal ≥ 20×)`,
    ];
  } finally {
    await mongo.db.dropDatabase();
    await mongo.close();
    await server.stop();
  }
}

export async function statsQueries(): Promise<BenchResult> {
  const sizes = (process.env.BENCH_STATS_EVENTS ?? "2000000").split(",").map(Number);
  const lines: string[] = [];
  for (const size of sizes) {
    console.log(`  seeding ${size} events…`);
    lines.push(...(await measure(size)));
  }
  return { name: "Stats queries from rollups vs naive aggregation over raw events (mongo-java-server, in memory)", lines };
}
