/** Messages the queue gave up on (after max_retries) are kept here for inspection and replay. */
import type { Db } from "mongodb";
import { COLLECTIONS } from "./mongo.ts";

export interface DeadLetter {
  messageId: string;
  queue: string;
  body: unknown;
  attempts: number;
  deadAt: Date;
}

/** Upsert by message id, so a redelivered dead letter is stored once. */
export async function storeDeadLetters(db: Db, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await db.collection(COLLECTIONS.deadLetters).bulkWrite(
    letters.map((l) => ({
      updateOne: { filter: { messageId: l.messageId }, update: { $setOnInsert: l }, upsert: true },
    })),
    { ordered: false },
  );
}
