/**
 * The dead-letter queue's consumer: what the queue gave up on (max_retries reached) goes into the dead-letter
 * store, where `npm run dlq` can show, replay or drop it. Locally the dev sidecar hands DLQ batches to
 * /internal/queue/dead-letter; in production a second pull consumer drains `tracker-events-dlq` through this.
 */
import type { Db } from "mongodb";
import { rawBody, storeDeadLetters } from "../store/dead-letters.ts";
import type { Delivery, Outcome } from "./process-batch.ts";

export async function storeQueueDeadLetters(deliveries: Delivery[], deps: { db: Db; queue: string }): Promise<Outcome[]> {
  const deadAt = new Date();
  await storeDeadLetters(
    deps.db,
    deliveries.map((d) => ({
      _id: d.id,
      queue: deps.queue,
      ...rawBody(d.body),
      reason: "queue",
      error: d.undecodable ?? "the queue gave up retrying it (max_retries)",
      attempts: d.attempts,
      deadAt,
    })),
  );
  return deliveries.map((d) => ({ id: d.id, action: "ack" }));
}
