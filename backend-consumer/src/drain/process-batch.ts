/**
 * The one function every queue path calls (local push consumer and Cloudflare HTTP pull): it takes a batch of
 * delivered messages and returns, per message, whether to ack it or retry it later. A message is acked only
 * after its events, their sessions and their leads are confirmed stored; a retry after a partial write is
 * harmless because every write is idempotent (events on their id, sessions guarded by event ids, leads by merge).
 */
import type { Db } from "mongodb";
import type { QueueMessage } from "#contracts";
import { insertEvents, toEventDocuments, type EventDocument } from "../store/events.ts";
import { applyLeads } from "../store/leads.ts";
import { applySessions } from "../store/sessions.ts";
import { decodeMessage, MalformedMessage } from "./decode.ts";

export interface Delivery {
  id: string;
  body: unknown;
  /** How many times this message has been delivered, this time included (Cloudflare counts from 1). */
  attempts: number;
}

export type Outcome =
  | { id: string; action: "ack" }
  | { id: string; action: "retry"; delaySeconds: number; reason: string };

export interface ProcessDeps {
  db: Db;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Exponential backoff for transient failures, capped: 5 s, 10 s, 20 s ... 300 s. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

export async function processBatch(deliveries: Delivery[], deps: ProcessDeps): Promise<Outcome[]> {
  const outcomes = new Map<string, Outcome>();
  const valid: { delivery: Delivery; message: QueueMessage }[] = [];
  for (const delivery of deliveries) {
    try {
      valid.push({ delivery, message: decodeMessage(delivery.body) });
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
      // Poison: retried until the queue's max_retries sends it to the dead-letter queue; it blocks nothing else.
      deps.log?.("malformed message", { id: delivery.id, attempts: delivery.attempts, reason: err.message });
      outcomes.set(delivery.id, { id: delivery.id, action: "retry", delaySeconds: 0, reason: err.message });
    }
  }

  const docs: EventDocument[] = [];
  const owner: string[] = [];
  for (const { delivery, message } of valid) {
    for (const doc of toEventDocuments(message)) {
      docs.push(doc);
      owner.push(delivery.id);
    }
  }

  try {
    const result = await insertEvents(deps.db, docs);
    const failedOwners = new Set(result.failed.map((f) => owner[f.index]!));
    // Sessions and leads from every stored event, new or redelivered: those writes are idempotent themselves.
    const stored = docs.filter((_, i) => !failedOwners.has(owner[i]!));
    await applySessions(deps.db, stored);
    await applyLeads(deps.db, stored);
    for (const { delivery } of valid) {
      outcomes.set(
        delivery.id,
        failedOwners.has(delivery.id)
          ? { id: delivery.id, action: "retry", delaySeconds: retryDelaySeconds(delivery.attempts), reason: "write failed" }
          : { id: delivery.id, action: "ack" },
      );
    }
  } catch (err) {
    // The database is unreachable or failed as a whole: nothing is confirmed, so everything valid is retried.
    const reason = err instanceof Error ? err.message : String(err);
    deps.log?.("event write failed", { reason, messages: valid.length });
    for (const { delivery } of valid) {
      outcomes.set(delivery.id, { id: delivery.id, action: "retry", delaySeconds: retryDelaySeconds(delivery.attempts), reason });
    }
  }
  return deliveries.map((d) => outcomes.get(d.id)!);
}
