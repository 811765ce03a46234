/**
 * Exactly-once read-modify-write updates that reach documents only through `_id` and a version number. The
 * MongoDB-compatible test server uses an index only when a filter names exactly an index's keys (and implements
 * only unique indexes), so a guard such as `{ _id, seen: { $nin: ids } }` scans the whole collection there; the
 * unique index `{ _id, v }` serves `{ _id, v: n }` on every server. So: read the documents by `_id`, let `plan`
 * decide from each one what is still to apply (nothing, if a guard says so), write it conditioned on the version
 * read, and repeat for the documents another writer changed meanwhile. Correct under concurrent writers and
 * redelivery, because `plan` is asked again whenever the document changed.
 */
import { MongoServerError, type AnyBulkWriteOperation, type Collection, type Document, type UpdateFilter } from "mongodb";
import { DUPLICATE_KEY, writeErrorsOf } from "./mongo.ts";

export interface Versioned extends Document {
  _id: string;
  /** Incremented by every write; absent on documents written before versions existed (taken as 0). */
  v?: number;
}

/** What to do for one document: insert it (it does not exist), update it, or nothing (all applied). */
export type Step<D extends Versioned> = { insert: D } | { update: UpdateFilter<D> } | null;

const MAX_ROUNDS = 20;

/** The index every versioned collection needs. */
export const VERSION_INDEX = { key: { _id: 1, v: 1 }, name: "id_version", unique: true } as const;

/**
 * `known`: documents the caller read already (null: known not to exist), used instead of a read in the first round.
 * They may be stale: every write is conditioned on the version it was planned from (an insert on the id being
 * free), so a stale one only costs a second round, which reads afresh.
 */
export async function applyVersioned<D extends Versioned, I>(
  collection: Collection<D>,
  items: Map<string, I>,
  plan: (current: D | null, item: I, id: string) => Step<D>,
  known?: Map<string, D | null>,
): Promise<void> {
  let pending = [...items.keys()];
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const toRead = round === 0 && known ? pending.filter((id) => !known.has(id)) : pending;
    const current = new Map(toRead.length ? (await collection.find({ _id: { $in: toRead } } as never).toArray()).map((d) => [d._id as string, d as D]) : []);
    if (round === 0 && known) for (const id of pending) if (known.get(id)) current.set(id, known.get(id)!);
    const ops: AnyBulkWriteOperation<D>[] = [];
    const ids: string[] = [];
    for (const id of pending) {
      const doc = current.get(id) ?? null;
      const step = plan(doc, items.get(id)!, id);
      if (!step) continue;
      ids.push(id);
      if ("insert" in step) ops.push({ insertOne: { document: { ...step.insert, v: 1 } as never } });
      else {
        const version = doc?.v ?? null;
        const update = step.update as Record<string, Record<string, unknown> | undefined>;
        ops.push({ updateOne: { filter: { _id: id, v: version } as never, update: { ...update, $inc: { ...(update.$inc ?? {}), v: 1 } } as never } });
      }
    }
    if (ops.length === 0) return;
    let failed = new Set<number>();
    try {
      const result = await collection.bulkWrite(ops, { ordered: false });
      if (result.insertedCount + result.modifiedCount === ops.length) return;
      // some conditional updates found another version: ask `plan` again for every document of this round
      failed = new Set(ids.map((_, i) => i));
    } catch (err) {
      const errors = writeErrorsOf(err);
      if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
      // an insert lost to another writer's: the others went through, but updates may have missed too
      failed = new Set(ids.map((_, i) => i));
    }
    pending = ids.filter((_, i) => failed.has(i));
  }
  // WriteConflict: a transient error, the batch is retried later
  if (pending.length) throw new MongoServerError({ message: `documents kept changing under concurrent writers: ${pending.slice(0, 3).join(", ")}`, code: 112 });
}
