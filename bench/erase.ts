/**
 * Erasing one person out of a large store: `BENCH_ERASE_EVENTS` (default 1,000,000) events of 40,000 background
 * visitors, with their sessions and leads, plus people to erase: each has three visitors (a form submission and
 * two identifies with the same email, so one lead with three visitors), 120 events, three sessions, one lead,
 * seeded through the real drain (`processBatch`). Then, alternating, one person is erased by `erasePerson` (the
 * API's code path: plan on record, suppression, CRM outbox, removal, receipt; its settle wait set to 0, since it is
 * a wait and not work) and another is removed by the direct queries a hand-written script would run
 * (deleteMany on events, sessions, leads and lead keys). Prints both times and their ratio (direct / erase; goal
 * ≥ 0.5), median and spread over the rounds. The background is inserted directly (this measures removal, not the
 * drain); the in-memory mongo-java-server is used, like the tests' server but without the H2 file.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Db } from "mongodb";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { processBatch } from "../backend-consumer/src/drain/process-batch.ts";
import { erasePerson } from "../backend-consumer/src/privacy/erase.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../backend-consumer/src/store/mongo.ts";
import { toEventDocuments, type EventDocument } from "../backend-consumer/src/store/events.ts";
import { ensureMongo } from "../scripts/lib/mongo.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { prng } from "../scripts/testing/prng.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const SITE = "bench-erase-site";
const ROUNDS = Number(process.env.BENCH_ERASE_ROUNDS ?? 7);

function visitMessage(rand: () => number, visitor: string, at: number, extra: Partial<TrackerEvent>[] = []): QueueMessage {
  const session = crypto.randomUUID();
  const events = [
    { type: "session_start", page: { url: "https://acme.example/", path: "/" } },
    ...Array.from({ length: 10 + Math.floor(rand() * 20) }, (_, i) => ({ type: "page_view", page: { url: `https://acme.example/p/${i}`, path: `/p/${i}` } })),
    ...extra,
  ].map((e, i) => ({ id: crypto.randomUUID(), ts: at + i * 1000, sessionId: session, visitorId: visitor, ...e }) as TrackerEvent);
  return { v: 1, siteId: SITE, retentionDays: 90, receivedAt: at + 60_000, geo: { country: "US" }, ip: "203.0.113.0", ua: "bench", events };
}

/** The background: events inserted directly in chunks, sessions and leads for some of their visitors. */
async function seedBackground(db: Db, target: number): Promise<{ events: number; ms: number }> {
  const rand = prng(7);
  const t0 = performance.now();
  let events = 0;
  let chunk: ReturnType<typeof toEventDocuments> = [];
  const sessions: Record<string, unknown>[] = [];
  const leads: Record<string, unknown>[] = [];
  const now = Date.now() - 3_600_000;
  while (events < target) {
    const visitor = `bg-${Math.floor(rand() * 40_000)}`;
    const message = visitMessage(rand, visitor, now - Math.floor(rand() * 80 * 86_400_000));
    const docs = toEventDocuments(message);
    chunk.push(...docs);
    events += docs.length;
    if (sessions.length < 100_000) sessions.push({ _id: `${SITE}|${message.events[0]!.sessionId}`, v: 1, siteId: SITE, sessionId: message.events[0]!.sessionId, visitorId: visitor, startedAt: new Date(now), endedAt: new Date(now), eventCount: docs.length, pageViews: docs.length - 1, formSubmissions: 0, pages: [], userAgent: "bench", geo: {}, recentEventIds: [], expireAt: new Date(now + 90 * 86_400_000), createdAt: new Date(now), updatedAt: new Date(now) });
    if (leads.length < 20_000 && rand() < 0.05) leads.push({ _id: crypto.randomUUID(), v: 1, siteId: SITE, email: `bg${leads.length}@example.com`, status: "submitted", statusRank: 2, quality: "high", fields: {}, formIds: [], visitorIds: [visitor], sessionIds: [], lastInteractionAt: new Date(now), createdAt: new Date(now), updatedAt: new Date(now) });
    if (chunk.length >= 5_000) {
      await db.collection<EventDocument>(COLLECTIONS.events).insertMany(chunk, { ordered: false });
      chunk = [];
    }
  }
  if (chunk.length) await db.collection<EventDocument>(COLLECTIONS.events).insertMany(chunk, { ordered: false });
  for (let i = 0; i < sessions.length; i += 5_000) await db.collection(COLLECTIONS.sessions).insertMany(sessions.slice(i, i + 5_000) as never[], { ordered: false });
  for (let i = 0; i < leads.length; i += 5_000) await db.collection(COLLECTIONS.leads).insertMany(leads.slice(i, i + 5_000) as never[], { ordered: false });
  return { events, ms: performance.now() - t0 };
}

/** One person through the real drain: three visitors, one lead. */
async function seedPerson(db: Db, rand: () => number, email: string): Promise<string[]> {
  const visitors = [0, 1, 2].map(() => crypto.randomUUID());
  const at = Date.now() - 2 * 3_600_000;
  const messages = visitors.map((v, i) =>
    visitMessage(rand, v, at + i * 60_000, [i === 0 ? { type: "form_submission", form: { formId: "contact", fields: { email, name: "Erase Me" } } } : { type: "identify", userId: email, traits: { email } }]),
  );
  await processBatch(messages.map((body, i) => ({ id: `${email}-${i}`, body, attempts: 1 })), { db });
  return visitors;
}

async function directDelete(db: Db, email: string, visitors: string[]): Promise<number> {
  const leads = await db.collection(COLLECTIONS.leads).find({ siteId: SITE, email }, { projection: { _id: 1 } }).toArray();
  const ids = leads.map((l) => l._id);
  const byVisitor = { siteId: SITE, visitorId: { $in: visitors } };
  const a = await db.collection(COLLECTIONS.events).deleteMany(byVisitor);
  const b = await db.collection(COLLECTIONS.sessions).deleteMany(byVisitor);
  const c = await db.collection(COLLECTIONS.leads).deleteMany({ _id: { $in: ids } } as never);
  const d = await db.collection(COLLECTIONS.leadKeys).deleteMany({ leadId: { $in: ids } } as never);
  return a.deletedCount + b.deletedCount + c.deletedCount + d.deletedCount;
}

export async function eraseBench(): Promise<BenchResult> {
  const target = Number(process.env.BENCH_ERASE_EVENTS ?? 1_000_000);
  const server = await ensureMongo({ port: BENCH_PORTS.mongo, dataDir: join(DATA_DIR, "bench", "mongo-erase"), memory: true });
  const mongo = await connectMongo(server.url, uniqueDbName("bench_erase"));
  const key = randomBytes(32);
  const rand = prng(11);
  try {
    await ensureIndexes(mongo.db);
    const seeded = await seedBackground(mongo.db, target);
    const eraseMs: number[] = [];
    const directMs: number[] = [];
    const ratios: number[] = [];
    let removed = 0;
    let direct = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      const a = `erase${r}@example.com`;
      const b = `direct${r}@example.com`;
      await seedPerson(mongo.db, rand, a);
      const bVisitors = await seedPerson(mongo.db, rand, b);
      let t = performance.now();
      const receipt = await erasePerson({ db: mongo.db, key, settleMs: 0 }, { tenantId: "bench", subject: { kind: "email", value: a }, sites: [{ siteId: SITE, locationId: "bench-location", suppress: true }], actor: null });
      const e = performance.now() - t;
      t = performance.now();
      const n = await directDelete(mongo.db, b, bVisitors);
      const d = performance.now() - t;
      if (receipt.state !== "done" || receipt.removed.events === 0 || n === 0) throw new Error(`round ${r}: nothing removed (${JSON.stringify(receipt.removed)}, direct ${n})`);
      if (r === 0) continue; // warm-up
      eraseMs.push(e);
      directMs.push(d);
      ratios.push(d / e);
      removed = receipt.removed.events + receipt.removed.sessions + receipt.removed.leads + receipt.removed.leadKeys;
      direct = n;
    }
    const sort = (xs: number[]) => [...xs].sort((x, y) => x - y);
    const [es, ds, rs] = [sort(eraseMs), sort(directMs), sort(ratios)];
    return {
      name: "erase",
      lines: [
        `${seeded.events} background events (40,000 visitors; 100,000 sessions, 20,000 leads) inserted in ${(seeded.ms / 1000).toFixed(0)} s on the in-memory mongo-java-server; each person: 3 visitors, ~${Math.round(removed)} documents (events, sessions, lead, lead key) via processBatch; the direct deletion removes ${direct}`,
        `erase one person (erasePerson, settle wait 0): median ${percentile(es, 50).toFixed(0)} ms (${es[0]!.toFixed(0)}–${es.at(-1)!.toFixed(0)} ms over ${ROUNDS} rounds)`,
        `the same documents by direct deleteMany queries: median ${percentile(ds, 50).toFixed(0)} ms (${ds[0]!.toFixed(0)}–${ds.at(-1)!.toFixed(0)} ms)`,
        `ratio direct / erase: median ${percentile(rs, 50).toFixed(2)} (${rs[0]!.toFixed(2)}–${rs.at(-1)!.toFixed(2)}) (goal ≥ 0.5); the API adds its settle wait (2 s) before removing, by design`,
      ],
    };
  } finally {
    await mongo.db.dropDatabase();
    await mongo.close();
    await server.stop();
  }
}
