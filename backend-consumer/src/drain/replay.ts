/**
 * What an operator does with dead letters (`npm run dlq`): list, show, replay and drop. A replay hands the stored
 * body back to `processBatch`, the same path the queue uses, so exactly-once holds however often it is replayed:
 * events are unique on their id, sessions and leads are guarded. A replay may first swap in a repaired body.
 */
import type { Db, Filter } from "mongodb";
import { deliveredBody, type DeadLetter } from "../store/dead-letters.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { processBatch, type Outcome } from "./process-batch.ts";

const letters = (db: Db) => db.collection<DeadLetter>(COLLECTIONS.deadLetters);

/** Dead letters, newest first; replayed ones only with `includeReplayed`. */
export function listDeadLetters(db: Db, opts: { includeReplayed?: boolean; limit?: number } = {}): Promise<DeadLetter[]> {
  const filter: Filter<DeadLetter> = opts.includeReplayed ? {} : { replayedAt: { $exists: false } };
  return letters(db).find(filter).sort({ deadAt: -1 }).limit(opts.limit ?? 100).toArray();
}

export function getDeadLetter(db: Db, id: string): Promise<DeadLetter | null> {
  return letters(db).findOne({ _id: id });
}

export type ReplayResult = { id: string; result: "stored" } | { id: string; result: "failed" | "retry_later"; reason: string } | { id: string; result: "not_found" };

/**
 * Replays one dead letter through the drain. With `body`, the letter's body is first replaced by the repaired one
 * (the original is kept as `originalBody`). Stored: the letter is marked replayed. Refused again: it stays, with
 * the new reason.
 */
export async function replayDeadLetter(db: Db, id: string, opts: { body?: string } = {}): Promise<ReplayResult> {
  const letter = await getDeadLetter(db, id);
  if (!letter) return { id, result: "not_found" };
  if (opts.body !== undefined) {
    await letters(db).updateOne({ _id: id }, { $set: { body: opts.body, encoding: "text", originalBody: letter.body } });
    letter.body = opts.body;
    letter.encoding = "text";
  }
  const [outcome] = (await processBatch([{ id, body: deliveredBody(letter), attempts: letter.attempts + 1 }], {
    db,
    queue: letter.queue,
    storeDeadLetters: false,
  })) as [Outcome];
  if (outcome.action === "ack" && !outcome.deadLettered) {
    await letters(db).updateOne({ _id: id }, { $set: { replayedAt: new Date() }, $unset: { lastReplayError: "" } });
    return { id, result: "stored" };
  }
  const reason = outcome.action === "retry" ? outcome.reason : `still refused: ${outcome.deadLettered}`;
  await letters(db).updateOne({ _id: id }, { $set: { lastReplayError: reason } });
  return { id, result: outcome.action === "retry" ? "retry_later" : "failed", reason };
}

/** Replays every letter not yet replayed, oldest first. */
export async function replayAll(db: Db): Promise<ReplayResult[]> {
  const ids = (await letters(db).find({ replayedAt: { $exists: false } }, { projection: { _id: 1 } }).sort({ deadAt: 1 }).toArray()).map((l) => l._id);
  const results: ReplayResult[] = [];
  for (const id of ids) results.push(await replayDeadLetter(db, id));
  return results;
}

/** Deletes one letter, or every letter with `all`. Returns how many went. */
export async function dropDeadLetters(db: Db, target: { id: string } | { all: true }): Promise<number> {
  const res = "all" in target ? await letters(db).deleteMany({}) : await letters(db).deleteOne({ _id: target.id });
  return res.deletedCount;
}
