/** Writing events: unordered bulk inserts where a duplicate event id counts as success. */
import { MongoBulkWriteError, MongoServerError, type Db } from "mongodb";
import { DEFAULT_RETENTION_DAYS, eventTime, type Geo, type QueueMessage, type TrackerEvent } from "#contracts";
import { redactValue } from "../leads/redact.ts";
import { COLLECTIONS, DUPLICATE_KEY, writeErrorsOf } from "./mongo.ts";

/** One stored event. `eventId` is the client's id; `(siteId, eventId)` is unique, and `_id` is "site|eventId". */
export interface EventDocument {
  _id?: string;
  siteId: string;
  eventId: string;
  type: TrackerEvent["type"];
  ts: Date;
  /** The client's time, epoch ms as sent, when the edge (or the drain) corrected `ts` (see `eventTime`). */
  clientTs?: number;
  receivedAt: Date;
  sessionId: string;
  visitorId: string;
  name?: string;
  page?: TrackerEvent["page"];
  props?: Record<string, unknown>;
  form?: TrackerEvent["form"];
  traits?: Record<string, unknown>;
  userId?: string;
  consent?: TrackerEvent["consent"];
  attribution?: TrackerEvent["attribution"];
  geo: Geo;
  ip: string | null;
  ua: string | null;
  createdAt: Date;
  /** Receipt + the site's retention: the TTL index removes the document then. */
  expireAt: Date;
  /** The queue message that stored it first: only that message's processing counts it in the rollups. */
  msg?: string;
}

const DAY_MS = 86_400_000;
/** Keys whose values are redacted server-side before storage (form fields, props, traits). */
const REDACTED_KEYS = new Set(["form", "props", "traits"]);

/** Explodes one queue message into its event documents, redacting sensitive values. */
export function toEventDocuments(message: QueueMessage, now = new Date()): EventDocument[] {
  const expireAt = new Date(message.receivedAt + (message.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_MS);
  return message.events.map((e) => {
    // The edge has corrected absurd times already; this repeats it for messages from before it did.
    const time = eventTime(e.ts, message.receivedAt);
    const clientTs = e.clientTs ?? time.clientTs;
    const doc: EventDocument = {
      // deterministic, so an event is found by its _id alone (the one lookup every compatible server indexes)
      _id: `${message.siteId}|${e.id}`,
      siteId: message.siteId,
      eventId: e.id,
      type: e.type,
      ts: new Date(time.ts),
      ...(clientTs !== undefined ? { clientTs } : {}),
      receivedAt: new Date(message.receivedAt),
      sessionId: e.sessionId,
      visitorId: e.visitorId,
      geo: message.geo,
      ip: message.ip,
      ua: message.ua,
      createdAt: now,
      expireAt,
    };
    for (const key of ["name", "page", "props", "form", "traits", "userId", "consent", "attribution"] as const) {
      if (e[key] === undefined) continue;
      (doc as unknown as Record<string, unknown>)[key] = REDACTED_KEYS.has(key) ? redactValue(e[key]) : e[key];
    }
    return doc;
  });
}

/** Result of a bulk insert: which input positions failed for a reason other than "already stored". */
export interface InsertResult {
  inserted: number;
  duplicates: number;
  /** Input positions that were already stored. */
  duplicateIndexes: number[];
  failed: { index: number; code?: number; error: Error }[];
}

/**
 * Inserts unordered so one failure does not stop the rest. Duplicate keys are successes (the event is already
 * stored). Any other per-document error is reported by index; an error that is not per-document (connection lost,
 * server down) is thrown, because nothing about the batch's fate is known.
 */
export const insertEvents = (db: Db, docs: EventDocument[]): Promise<InsertResult> => insertUnordered(db, COLLECTIONS.events, docs);

/** `insertEvents` into any collection of documents with their own `_id` (team activity's events too). */
export async function insertUnordered(db: Db, collection: string, docs: object[]): Promise<InsertResult> {
  if (docs.length === 0) return { inserted: 0, duplicates: 0, duplicateIndexes: [], failed: [] };
  // insertMany mutates its input by adding _id; copy so a retry of the same documents stays clean.
  const batch = docs.map((d) => ({ ...d }));
  try {
    const res = await db.collection(collection).insertMany(batch as never, { ordered: false });
    return { inserted: res.insertedCount, duplicates: 0, duplicateIndexes: [], failed: [] };
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const writeErrors = writeErrorsOf(err);
    if (writeErrors.length === 0) throw err;
    const duplicateIndexes: number[] = [];
    const failed: InsertResult["failed"] = [];
    for (const we of writeErrors) {
      if (we.code === DUPLICATE_KEY) duplicateIndexes.push(we.index);
      else failed.push({ index: we.index, code: we.code, error: new MongoServerError({ message: we.errmsg ?? "write error", code: we.code }) });
    }
    // Derived, not read from err.result.insertedCount: mongo-java-server reports the batch size there.
    const duplicates = duplicateIndexes.length;
    return { inserted: docs.length - duplicates - failed.length, duplicates, duplicateIndexes, failed };
  }
}
