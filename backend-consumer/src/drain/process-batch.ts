/**
 * The one function every queue path calls (local push consumer and Cloudflare HTTP pull): it takes a batch of
 * delivered messages and returns, per message, whether to ack it or retry it later. A message is acked only once
 * its events, their sessions and their leads are confirmed stored, or once it is in the dead-letter store.
 *
 * One message must never cost another its place. A message that cannot be read, or events in it that storage
 * cannot hold, are dead-lettered at once. A write that fails is classified (drain/errors.ts): transient failures
 * retry the batch (every write is idempotent, so a retry after a partial write is harmless); a failure that cannot
 * be pinned on one message splits the batch in halves until it is, so every other message is stored and only the
 * culprit is dead-lettered (deterministic) or retried alone (unknown: the queue's max_retries decides).
 */
import type { Db } from "mongodb";
import type { ActivityQueueMessage, QueueMessage } from "#contracts";
import { storeDeadLetters, rawBody, type DeadLetter } from "../store/dead-letters.ts";
import { insertEvents, toEventDocuments, type EventDocument } from "../store/events.ts";
import { enqueueLeads } from "../crm/outbox.ts";
import { applyLeads } from "../store/leads.ts";
import { recordSiteActivity } from "../store/site-activity.ts";
import { applySessions } from "../store/sessions.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { eventContributions } from "../rollups/contributions.ts";
import { applyContributions } from "../rollups/store.ts";
import type { SuppressionFilter } from "../privacy/suppression.ts";
import { storeActivity } from "../activity/store.ts";
import { decodeDelivery, MalformedMessage, splitUnstorable } from "./decode.ts";
import { classifyWriteError, errorMessage, refusalsOf, type ErrorKind } from "./errors.ts";

export interface Delivery {
  id: string;
  body: unknown;
  /** How many times this message has been delivered, this time included (Cloudflare counts from 1). */
  attempts: number;
  /** Set by a transport that could not decode the body (e.g. a content type only Workers can read). */
  undecodable?: string;
}

export type Outcome =
  | { id: string; action: "ack"; deadLettered?: string }
  | { id: string; action: "retry"; delaySeconds: number; reason: string };

export interface ProcessDeps {
  db: Db;
  /** The queue the deliveries came from (recorded on dead letters). */
  queue?: string;
  /** false: report what would be dead-lettered without storing it (a replay of a dead letter). */
  storeDeadLetters?: boolean;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Erased people's later events: dropped or stripped before anything is stored (privacy/suppression.ts). */
  suppression?: SuppressionFilter;
}

/** Exponential backoff for transient failures, capped: 5 s, 10 s, 20 s ... 300 s. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

const DEFAULT_QUEUE = "tracker-events";

export type Verdict = { kind: "stored" } | { kind: "dead"; reason: string; error: string } | { kind: "retry"; reason: string };
export interface Item {
  delivery: Delivery;
  message: QueueMessage;
}
/** A team activity message (contracts/activity.ts): stored by activity/store.ts, under the same ack rules. */
export interface ActivityDeliveryItem {
  delivery: Delivery;
  message: ActivityQueueMessage;
}
type Refusals = Map<string, { kind: ErrorKind; error: string }>;

export async function processBatch(deliveries: Delivery[], deps: ProcessDeps): Promise<Outcome[]> {
  const queue = deps.queue ?? DEFAULT_QUEUE;
  const letters: DeadLetter[] = [];
  const verdicts = new Map<string, Verdict>();
  let items: Item[] = [];
  const activity: ActivityDeliveryItem[] = [];
  const deadAt = new Date();
  const bury = (id: string, delivery: Delivery, body: unknown, reason: string, error: string): void => {
    letters.push({ _id: id, queue, ...rawBody(body), reason, error, attempts: delivery.attempts, deadAt });
  };

  for (const delivery of deliveries) {
    let message: QueueMessage;
    try {
      if (delivery.undecodable) throw new MalformedMessage(delivery.undecodable);
      const decoded = decodeDelivery(delivery.body);
      if (decoded.kind === "activity") {
        activity.push({ delivery, message: decoded.message });
        continue;
      }
      message = decoded.message;
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
      bury(delivery.id, delivery, delivery.body, "malformed", err.message);
      verdicts.set(delivery.id, { kind: "dead", reason: "malformed", error: err.message });
      continue;
    }
    const { storable, unstorable } = splitUnstorable(message);
    if (unstorable) {
      // Only the events storage cannot hold are set aside; the rest of the message is stored as usual.
      const reason = `unstorable:${unstorable.reasons[0]!.split(" ")[0]}`;
      bury(`${delivery.id}#unstorable`, delivery, unstorable.message, reason, unstorable.reasons.join("; "));
    }
    if (storable) items.push({ delivery, message: storable });
    else verdicts.set(delivery.id, { kind: "dead", reason: "unstorable", error: unstorable!.reasons.join("; ") });
  }

  if (deps.suppression && items.length) items = await withoutSuppressed(deps.suppression, items, verdicts);
  await Promise.all([storeIsolated(deps, items, verdicts), isolate(deps, activity, verdicts, writeActivity)]);

  for (const { delivery, message } of [...items, ...activity]) {
    const v = verdicts.get(delivery.id)!;
    if (v.kind === "dead") bury(delivery.id, delivery, message, v.reason, v.error);
  }
  if (letters.length && deps.storeDeadLetters !== false) {
    try {
      await storeDeadLetters(deps.db, letters);
      deps.log?.("dead-lettered", { queue, count: letters.length, reasons: [...new Set(letters.map((l) => l.reason))] });
    } catch (err) {
      // Not stored anywhere yet: every message that owns a letter comes back later.
      const reason = `dead-letter write failed: ${errorMessage(err)}`;
      deps.log?.("dead-letter write failed", { reason, count: letters.length });
      for (const letter of letters) verdicts.set(letter._id.split("#")[0]!, { kind: "retry", reason });
    }
  }

  return deliveries.map((d): Outcome => {
    const v = verdicts.get(d.id) ?? { kind: "stored" };
    if (v.kind === "retry") return { id: d.id, action: "retry", delaySeconds: retryDelaySeconds(d.attempts), reason: v.reason };
    if (v.kind === "dead") return { id: d.id, action: "ack", deadLettered: v.reason };
    return { id: d.id, action: "ack" };
  });
}

/** Applies the suppression list; a message left with nothing to store is done. If the check fails, all wait. */
async function withoutSuppressed(filter: SuppressionFilter, items: Item[], verdicts: Map<string, Verdict>): Promise<Item[]> {
  let kept: Awaited<ReturnType<SuppressionFilter["apply"]>>;
  try {
    kept = await filter.apply(items.map((i) => i.message));
  } catch (err) {
    for (const { delivery } of items) verdicts.set(delivery.id, { kind: "retry", reason: `suppression check failed: ${errorMessage(err)}` });
    return [];
  }
  return items.flatMap((item, i) => {
    const message = kept[i];
    if (!message) {
      verdicts.set(item.delivery.id, { kind: "stored" });
      return [];
    }
    return [{ ...item, message }];
  });
}

/**
 * Stores `items`, setting a verdict for each: everything at once first; on a failure no retry can fix, or that
 * cannot be attributed, the halves on their own, down to the one message that fails.
 */
export function storeIsolated(deps: ProcessDeps, items: Item[], verdicts: Map<string, Verdict>): Promise<void> {
  return isolate(deps, items, verdicts, writeMessages);
}

/** storeIsolated with any kind of message and its writer. */
async function isolate<I extends { delivery: Delivery }>(deps: ProcessDeps, items: I[], verdicts: Map<string, Verdict>, write: (db: Db, items: I[]) => Promise<Refusals>): Promise<void> {
  if (items.length === 0) return;
  let kind: ErrorKind;
  let error: string;
  try {
    const refused = await write(deps.db, items);
    for (const { delivery } of items) {
      const failure = refused.get(delivery.id);
      if (!failure) verdicts.set(delivery.id, { kind: "stored" });
      else if (failure.kind === "deterministic") verdicts.set(delivery.id, { kind: "dead", reason: "write:deterministic", error: failure.error });
      else verdicts.set(delivery.id, { kind: "retry", reason: failure.error });
    }
    return;
  } catch (err) {
    kind = classifyWriteError(err);
    error = errorMessage(err);
  }
  if (kind === "transient") {
    deps.log?.("event write failed, retrying", { reason: error, messages: items.length });
    for (const { delivery } of items) verdicts.set(delivery.id, { kind: "retry", reason: error });
    return;
  }
  if (items.length === 1) {
    const id = items[0]!.delivery.id;
    deps.log?.("message refused by storage", { id, kind, reason: error });
    verdicts.set(id, kind === "deterministic" ? { kind: "dead", reason: "write:deterministic", error } : { kind: "retry", reason: error });
    return;
  }
  const half = Math.ceil(items.length / 2);
  await isolate(deps, items.slice(0, half), verdicts, write);
  await isolate(deps, items.slice(half), verdicts, write);
}

/** Activity messages: their events and rollups (activity/store.ts); refusals attributed like website events'. */
const writeActivity = (db: Db, items: ActivityDeliveryItem[]): Promise<Refusals> => storeActivity(db, items.map(({ delivery, message }) => ({ id: delivery.id, message })));

/**
 * Events (unordered insert, duplicates are successes), then sessions and leads from every stored event. Returns
 * the messages whose event documents the server refused one by one (those are attributed, so no split is needed);
 * throws for anything else.
 */
async function writeMessages(db: Db, items: Item[]): Promise<Refusals> {
  const docs: EventDocument[] = [];
  const owner: string[] = [];
  const timezones = new Map<string, string>();
  for (const { delivery, message } of items) {
    if (message.timezone) timezones.set(message.siteId, message.timezone);
    for (const doc of toEventDocuments(message)) {
      docs.push({ ...doc, msg: delivery.id });
      owner.push(delivery.id);
    }
  }
  const result = await insertEvents(db, docs);
  const refused = refusalsOf(result.failed, (i) => owner[i]!);
  // Sessions and leads from every stored event, new or redelivered: those writes are idempotent themselves.
  const stored = docs.filter((_, i) => !refused.has(owner[i]!));
  // Leads read their session's attribution, so sessions go first (applyLeads waits for them); the rollups depend on
  // neither.
  const sessions = applySessions(db, stored, new Date(), timezones);
  const settled = await Promise.allSettled([
    sessions,
    // every lead the events touched goes into the delivery outbox, on every delivery of the message (see crm/outbox.ts);
    // lead keys are resolved meanwhile, the leads merged once the sessions are written
    applyLeads(db, stored, sessions).then((leadIds) => enqueueLeads(db, leadIds)),
    applyEventRollups(db, items, docs, owner, result.duplicateIndexes, refused),
    recordSiteActivity(db, stored),
  ]);
  // both have finished before an error goes up: a split must not race writes still in flight
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return refused;
}

/**
 * Each message counts, in the rollups, the events it owns: those it stored, and those it stored on an earlier
 * delivery (a redelivery after a crash). An event another message stored first (the SDK re-sent it) is that
 * message's to count. Guarded by the message id, so a redelivery never counts anything twice.
 */
async function applyEventRollups(db: Db, items: Item[], docs: EventDocument[], owner: string[], duplicates: number[], refused: Map<string, unknown>): Promise<void> {
  const dup = new Set(duplicates);
  const owners = new Map<string, string | undefined>();
  if (dup.size) {
    const keys = duplicates.map((i) => docs[i]!._id!);
    const found = await db.collection<EventDocument>(COLLECTIONS.events).find({ _id: { $in: keys } }, { projection: { siteId: 1, eventId: 1, msg: 1 } }).toArray();
    for (const f of found) owners.set(`${f.siteId}|${f.eventId}`, f.msg);
  }
  const byMessage = new Map<string, EventDocument[]>();
  docs.forEach((doc, i) => {
    const id = owner[i]!;
    if (refused.has(id)) return;
    if (dup.has(i) && owners.get(`${doc.siteId}|${doc.eventId}`) !== id) return;
    let list = byMessage.get(id);
    if (!list) byMessage.set(id, (list = []));
    list.push(doc);
  });
  const timezoneOf = new Map(items.map((it) => [it.delivery.id, it.message.timezone]));
  const contributions = new Map([...byMessage].map(([id, events]) => [id, eventContributions(events, timezoneOf.get(id))]));
  await applyContributions(db, contributions);
}
