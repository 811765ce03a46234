/**
 * Rebuilds a site's rollups for a range of local days from what they summarise (raw events for event rollups,
 * counted sessions for visit rollups), compares them with what the drain and the finalizer kept, and with `apply`
 * replaces the kept ones. `npm run stats:rebuild` runs it; the reliability test uses it to prove the rollups exact
 * after crashes.
 */
import type { Db } from "mongodb";
import type { EventDocument } from "../store/events.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import type { SessionDocument } from "../store/sessions.ts";
import { Contributions, eventContributions, visitContributions } from "./contributions.ts";
import { localDay } from "./keys.ts";
import type { RollupDocument } from "./store.ts";

export interface RebuildReport {
  siteId: string;
  from: string;
  to: string;
  /** Rollup documents compared. */
  checked: number;
  events: number;
  visits: number;
  /** Documents whose counters or sketch differ (or exist on one side only). */
  mismatches: { id: string; kept: Record<string, unknown> | null; rebuilt: Record<string, unknown> | null }[];
  applied: boolean;
}

const DAY_MS = 86_400_000;
const PAGE = 5_000;

/** Counters and sketch of a document, without zero counters, for comparison. */
function essence(c: { inc?: Record<string, number>; c?: Record<string, number>; hll?: Record<string, number>; h?: Record<string, number> }) {
  const counters = Object.fromEntries(Object.entries(c.inc ?? c.c ?? {}).filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
  const sketch = Object.fromEntries(Object.entries(c.hll ?? c.h ?? {}).filter(([, v]) => v !== 0).sort(([a], [b]) => Number(a) - Number(b)));
  return { counters, sketch };
}

export async function rebuildRollups(db: Db, opts: { siteId: string; from: string; to: string; timezone: string; apply?: boolean }): Promise<RebuildReport> {
  const { siteId, from, to, timezone } = opts;
  const inRange = (day: string) => day >= from && day <= to;
  // a local day lies within a UTC day of it on either side
  const start = new Date(Date.parse(`${from}T00:00:00Z`) - DAY_MS);
  const end = new Date(Date.parse(`${to}T00:00:00Z`) + 2 * DAY_MS);

  const rebuilt = new Contributions();
  let events = 0;
  let lastId: unknown = null;
  const eventsColl = db.collection<EventDocument & { _id: unknown }>(COLLECTIONS.events);
  for (;;) {
    const page = await eventsColl
      .find({ siteId, ts: { $gte: start, $lt: end }, ...(lastId ? { _id: { $gt: lastId } } : {}) } as never)
      .sort({ _id: 1 })
      .limit(PAGE)
      .toArray();
    if (page.length === 0) break;
    lastId = page.at(-1)!._id;
    const ours = page.filter((e) => inRange(localDay(e.ts, timezone)));
    events += ours.length;
    eventContributions(ours, timezone, rebuilt);
  }
  let visits = 0;
  const sessions = await db
    .collection<SessionDocument>(COLLECTIONS.sessions)
    .find({ siteId, rollupRun: { $exists: true }, startedAt: { $gte: start, $lt: end } })
    .toArray();
  for (const s of sessions) {
    if (!inRange(localDay(s.startedAt, s.timezone ?? timezone))) continue;
    visits++;
    visitContributions(s, rebuilt);
  }

  // by an anchored pattern on _id (the one path the test server indexes), then the days
  const siteRe = siteId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const kept = (await db.collection<RollupDocument>(COLLECTIONS.rollups).find({ _id: new RegExp(`^[ev]\\|${siteRe}\\|`) } as never).toArray()).filter((k) => inRange(k.day));
  const keptById = new Map(kept.map((k) => [k._id, k]));
  const mismatches: RebuildReport["mismatches"] = [];
  for (const id of new Set([...keptById.keys(), ...rebuilt.keys()])) {
    const k = keptById.get(id);
    const r = rebuilt.get(id);
    const a = k ? essence(k) : null;
    const b = r ? essence(r) : null;
    if (JSON.stringify(a) !== JSON.stringify(b)) mismatches.push({ id, kept: a, rebuilt: b });
  }

  if (opts.apply && mismatches.length) {
    const coll = db.collection<RollupDocument>(COLLECTIONS.rollups);
    for (const m of mismatches) {
      const r = rebuilt.get(m.id);
      if (!r) {
        await coll.deleteOne({ _id: m.id });
        continue;
      }
      const h = Object.fromEntries(Object.entries(r.hll).map(([k, v]) => [k, v]));
      // guards are kept: a redelivery of an already counted message must still be refused
      await coll.updateOne(
        { _id: m.id },
        // a new version: a writer that read the old one must read again (store/versioned.ts)
        { $set: { kind: r.kind, siteId: r.siteId, day: r.day, dim: r.dim, value: r.value, c: r.inc, h, expireAt: r.expireAt }, $inc: { v: 1 } },
        { upsert: true },
      );
    }
  }
  return { siteId, from, to, checked: new Set([...keptById.keys(), ...rebuilt.keys()]).size, events, visits, mismatches, applied: Boolean(opts.apply && mismatches.length) };
}
