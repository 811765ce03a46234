/**
 * Rollup documents in MongoDB, and applying contributions to them exactly once. Each contribution carries a guard
 * id (the queue message that owns the events, or the finalizer run that claimed the visits); a document keeps the
 * guard ids applied to it (the latest GUARD_KEEP) and an update only matches when none of its ids is there, the
 * discipline the session counters use. A guarded upsert that collides means some ids were applied already: the
 * rest are applied one id at a time. Visitor sketch registers are raised with `$max`, idempotent by nature.
 */
import type { AnyBulkWriteOperation, Db } from "mongodb";
import { COLLECTIONS, DUPLICATE_KEY, writeErrorsOf } from "../store/mongo.ts";
import type { Contribution, Contributions } from "./contributions.ts";

/** Guard ids kept per document: a day's worth of finalizer runs, hours of a busy site's messages. */
export const GUARD_KEEP = 3000;

export interface RollupDocument {
  _id: string;
  kind: "e" | "v";
  siteId: string;
  day: string;
  dim: string;
  value: string;
  /** Counters (see contributions.ts for what each means). */
  c: Record<string, number>;
  /** Visitor sketch: register index → rank. */
  h: Record<string, number>;
  /** Guard ids applied. */
  g: string[];
  expireAt: Date;
}

function update(c: Contribution, guards: string[]) {
  const inc = Object.fromEntries(Object.entries(c.inc).map(([k, v]) => [`c.${k}`, v]));
  const max: Record<string, number | Date> = { expireAt: c.expireAt };
  for (const [index, rank] of Object.entries(c.hll)) max[`h.${index}`] = rank;
  return {
    $setOnInsert: { kind: c.kind, siteId: c.siteId, day: c.day, dim: c.dim, value: c.value },
    ...(Object.keys(inc).length ? { $inc: inc } : {}),
    $max: max,
    $push: { g: { $each: guards, $slice: -GUARD_KEEP } },
  };
}

/** Applies every guard's contributions exactly once, whatever was applied before (a redelivery, a rerun). */
export async function applyContributions(db: Db, byGuard: Map<string, Contributions>): Promise<void> {
  const rollups = db.collection<RollupDocument>(COLLECTIONS.rollups);
  // one combined update per document, guarded by every id that contributes to it
  const combined = new Map<string, { c: Contribution; guards: string[] }>();
  for (const [guard, contributions] of byGuard) {
    for (const [id, c] of contributions) {
      const entry = combined.get(id);
      if (!entry) {
        combined.set(id, { c: { ...c, inc: { ...c.inc }, hll: { ...c.hll } }, guards: [guard] });
        continue;
      }
      for (const [k, v] of Object.entries(c.inc)) entry.c.inc[k] = (entry.c.inc[k] ?? 0) + v;
      for (const [k, v] of Object.entries(c.hll)) entry.c.hll[k] = Math.max(entry.c.hll[k] ?? 0, v);
      if (c.expireAt > entry.c.expireAt) entry.c.expireAt = c.expireAt;
      entry.guards.push(guard);
    }
  }
  if (combined.size === 0) return;
  const ids = [...combined.keys()];
  const ops = ids.map((id) => {
    const { c, guards } = combined.get(id)!;
    return { updateOne: { filter: { _id: id, g: { $nin: guards } }, update: update(c, guards), upsert: true } };
  });
  const collided: string[] = [];
  try {
    await rollups.bulkWrite(ops as AnyBulkWriteOperation<RollupDocument>[], { ordered: false });
  } catch (err) {
    const errors = writeErrorsOf(err);
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    for (const e of errors) collided.push(ids[e.index]!);
  }
  // Some guards of these documents were applied already (a redelivery): apply the others one guard at a time.
  for (const id of collided) {
    for (const [guard, contributions] of byGuard) {
      const c = contributions.get(id);
      if (!c) continue;
      try {
        await rollups.updateOne({ _id: id, g: { $ne: guard } }, update(c, [guard]), { upsert: true });
      } catch (err) {
        if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
        // this guard is applied already
      }
    }
  }
}
