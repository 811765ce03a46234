/**
 * The dead-letter store: messages that could not be stored, kept for inspection, replay and drop. It must accept
 * any message, because it is where poison ends up: the body is kept as a string (base64 for bytes), never as a
 * document, so no key, nesting or value inside it can make the write fail.
 */
import type { Db } from "mongodb";
import { COLLECTIONS } from "./mongo.ts";

/** At most this much of a body is kept (queue messages are ≤ 128 KB; this only bounds the unexpected). */
const MAX_BODY_CHARS = 1_000_000;

export interface DeadLetter {
  /** The queue message id; a part split off a message gets a suffix (`#unstorable`). */
  _id: string;
  queue: string;
  /** The body as delivered: JSON or text, or base64 when `encoding` is "base64". */
  body: string;
  encoding: "text" | "base64";
  /** Why: `malformed`, `unstorable:<reason>`, `write:<error kind>`, or `queue` (the queue gave up retrying). */
  reason: string;
  error: string;
  attempts: number;
  deadAt: Date;
  /** Set when an operator replayed it successfully. */
  replayedAt?: Date;
  lastReplayError?: string;
  /** The body as it died, when a repaired one replaced it for a replay. */
  originalBody?: string;
}

/** A delivered body as a string, whatever the transport gave. Never throws. */
export function rawBody(body: unknown): Pick<DeadLetter, "body" | "encoding"> {
  if (typeof body === "string") return { body: body.slice(0, MAX_BODY_CHARS), encoding: "text" };
  if (body instanceof Uint8Array) return { body: Buffer.from(body).toString("base64").slice(0, MAX_BODY_CHARS), encoding: "base64" };
  try {
    return { body: (JSON.stringify(body) ?? String(body)).slice(0, MAX_BODY_CHARS), encoding: "text" };
  } catch (err) {
    return { body: `[unserialisable body: ${err instanceof Error ? err.message : String(err)}]`, encoding: "text" };
  }
}

/** The body to hand back to the drain on replay. */
export function deliveredBody(letter: Pick<DeadLetter, "body" | "encoding">): unknown {
  return letter.encoding === "base64" ? Buffer.from(letter.body, "base64") : letter.body;
}

/** Upsert by id, so a redelivered dead letter is stored once (its first record wins). */
export async function storeDeadLetters(db: Db, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await db.collection<DeadLetter>(COLLECTIONS.deadLetters).bulkWrite(
    letters.map(({ _id, ...rest }) => ({
      updateOne: { filter: { _id }, update: { $setOnInsert: rest }, upsert: true },
    })),
    { ordered: false },
  );
}

/** How many dead letters wait for an operator (not yet replayed). */
export function countDeadLetters(db: Db): Promise<number> {
  return db.collection<DeadLetter>(COLLECTIONS.deadLetters).countDocuments({ replayedAt: { $exists: false } });
}
