/**
 * Rollup documents in MongoDB, and applying contributions to them exactly once. Each contribution carries a guard
 * id (the queue message that owns the events, or the finalizer run that claimed the visits); a document keeps the
 * guard ids applied to it (the latest GUARD_KEEP, as one string) and only contributions whose guard is not there
 * are applied, in a write conditioned on the version read (store/versioned.ts). Visitor sketch registers are raised
 * with `$max`, idempotent by nature.
 */
import { createHash } from "node:crypto";
import type { Db, UpdateFilter } from "mongodb";
import { COLLECTIONS } from "../store/mongo.ts";
import { applyVersioned, type Step } from "../store/versioned.ts";
import type { Contribution, Contributions } from "./contributions.ts";

/**
 * Guard ids kept per document. Redeliveries come within minutes (retry delays ≤ 5 min, leases 30 s); 1,000 ids are
 * hours of a busy site's messages on its busiest document, and most of a day of finalizer runs.
 */
export const GUARD_KEEP = 1000;

/** A guard id as stored: 16 characters of a hash of the message or run id (96 bits; collisions are negligible). */
export const guardKey = (id: string): string => createHash("sha1").update(id).digest("base64url").slice(0, 16);

export interface RollupDocument {
  _id: string;
  v?: number;
  kind: "e" | "v";
  siteId: string;
  day: string;
  dim: string;
  value: string;
  /** Counters (see contributions.ts for what each means). */
  c: Record<string, number>;
  /** Visitor sketch: register index → rank. */
  h: Record<string, number>;
  /** Guard ids applied, comma-separated, the latest GUARD_KEEP. */
  g: string;
  expireAt: Date;
}

/** The contributions one document receives, by guard. */
type Incoming = { guard: string; c: Contribution }[];

function merge(parts: Incoming): Contribution {
  const first = parts[0]!.c;
  const out: Contribution = { ...first, inc: {}, hll: {} };
  for (const { c } of parts) {
    for (const [k, v] of Object.entries(c.inc)) out.inc[k] = (out.inc[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.hll)) out.hll[k] = Math.max(out.hll[k] ?? 0, v);
    if (c.expireAt > out.expireAt) out.expireAt = c.expireAt;
  }
  return out;
}

function step(id: string, current: RollupDocument | null, incoming: Incoming): Step<RollupDocument> {
  const applied = new Set(current?.g ? current.g.split(",") : []);
  const rest = incoming.filter((p) => !applied.has(p.guard));
  if (rest.length === 0) return null;
  const c = merge(rest);
  const guards = [...(current?.g ? current.g.split(",") : []), ...rest.map((p) => p.guard)].slice(-GUARD_KEEP).join(",");
  if (!current) {
    return { insert: { _id: id, kind: c.kind, siteId: c.siteId, day: c.day, dim: c.dim, value: c.value, c: { ...c.inc }, h: { ...c.hll }, g: guards, expireAt: c.expireAt } };
  }
  const inc = Object.fromEntries(Object.entries(c.inc).map(([k, v]) => [`c.${k}`, v]));
  const max: Record<string, number | Date> = { expireAt: c.expireAt };
  for (const [index, rank] of Object.entries(c.hll)) max[`h.${index}`] = rank;
  return { update: { ...(Object.keys(inc).length ? { $inc: inc } : {}), $max: max, $set: { g: guards } } as UpdateFilter<RollupDocument> };
}

/** Applies every guard's contributions exactly once, whatever was applied before (a redelivery, a rerun). */
export async function applyContributions(db: Db, byId: Map<string, Contributions>): Promise<void> {
  const byDoc = new Map<string, Incoming>();
  for (const [id, contributions] of byId) {
    const guard = guardKey(id);
    for (const [docId, c] of contributions) {
      let list = byDoc.get(docId);
      if (!list) byDoc.set(docId, (list = []));
      list.push({ guard, c });
    }
  }
  if (byDoc.size === 0) return;
  await applyVersioned(db.collection<RollupDocument>(COLLECTIONS.rollups), byDoc, (current, incoming, id) => step(id, current, incoming));
}
