/**
 * Prometheus metrics for the backend (`GET /metrics`): how many messages the drain settled and how, and how many
 * dead letters wait for an operator (`npm run dlq`). Counted where the outcomes are known; the dead-letter gauge is
 * read from MongoDB when scraped.
 */
import type { Db } from "mongodb";
import { Counter, Gauge, Registry } from "prom-client";
import type { Outcome } from "../drain/process-batch.ts";
import { countDeadLetters } from "../store/dead-letters.ts";

export interface Metrics {
  registry: Registry;
  /** Counts one settled batch. */
  recordOutcomes(queue: string, outcomes: Outcome[]): void;
  /** Counts one CRM delivery attempt's outcome. */
  recordDelivery(kind: string, outcome: "delivered" | "retry" | "failed" | "dead"): void;
}

export function createMetrics(db: Db): Metrics {
  const registry = new Registry();
  const messages = new Counter({
    name: "tracker_drain_messages_total",
    help: "Queue messages settled by the drain, by queue and outcome (stored, dead_lettered, retried).",
    labelNames: ["queue", "outcome"] as const,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: "tracker_crm_deliveries_total",
    help: "CRM delivery attempts, by destination kind and outcome (delivered, retry, failed, dead).",
    labelNames: ["kind", "outcome"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "tracker_dead_letters",
    help: "Dead letters not yet replayed (npm run dlq -- list).",
    registers: [registry],
    async collect() {
      this.set(await countDeadLetters(db));
    },
  });
  return {
    registry,
    recordOutcomes(queue, outcomes) {
      for (const o of outcomes) {
        const outcome = o.action === "retry" ? "retried" : o.deadLettered ? "dead_lettered" : "stored";
        messages.inc({ queue, outcome });
      }
    },
    recordDelivery(kind, outcome) {
      deliveries.inc({ kind, outcome });
    },
  };
}
