/**
 * Prometheus metrics for the backend (`GET /metrics`): how many messages the drain settled and how, and how many
 * dead letters wait for an operator (`npm run dlq`). Counted where the outcomes are known; the dead-letter gauge is
 * read from MongoDB when scraped.
 */
import type { Db } from "mongodb";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Outcome } from "../drain/process-batch.ts";
import { countDeadLetters } from "../store/dead-letters.ts";

export interface Metrics {
  registry: Registry;
  /** Counts one settled batch. */
  recordOutcomes(queue: string, outcomes: Outcome[]): void;
  /** Counts one CRM delivery attempt's outcome. */
  recordDelivery(kind: string, outcome: "delivered" | "retry" | "failed" | "dead"): void;
  /** Times one processed batch and counts its events. */
  recordBatch(queue: string, seconds: number, events: number): void;
  /** Counts pulls that found the queue empty. */
  recordEmptyPolls(queue: string, count: number): void;
}

export interface MetricsSources {
  /** Age of the oldest config change the KV sync has not written yet, seconds (0 when none). */
  kvSyncLagSeconds?: () => Promise<number>;
}

export function createMetrics(db: Db, sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  const batchSeconds = new Histogram({
    name: "tracker_drain_batch_seconds",
    help: "Time to process one batch of queue messages (store events, sessions, leads, rollups, outbox).",
    labelNames: ["queue"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const events = new Counter({
    name: "tracker_drain_events_total",
    help: "Events in the batches the drain processed (rate() of it is events per second).",
    labelNames: ["queue"] as const,
    registers: [registry],
  });
  const emptyPolls = new Counter({
    name: "tracker_pull_empty_polls_total",
    help: "Pulls from Cloudflare's queue that found it empty.",
    labelNames: ["queue"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "tracker_kv_sync_lag_seconds",
    help: "Age of the oldest config change not yet written to KV (0 when the sync is caught up).",
    registers: [registry],
    async collect() {
      if (sources.kvSyncLagSeconds) this.set(await sources.kvSyncLagSeconds());
    },
  });
  new Gauge({
    name: "tracker_crm_outbox_depth",
    help: "Leads waiting in the CRM delivery outbox (changes not yet delivered everywhere).",
    registers: [registry],
    async collect() {
      this.set(await db.collection("lead_outbox").estimatedDocumentCount());
    },
  });
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
    recordBatch(queue, seconds, count) {
      batchSeconds.observe({ queue }, seconds);
      events.inc({ queue }, count);
    },
    recordEmptyPolls(queue, count) {
      if (count > 0) emptyPolls.inc({ queue }, count);
    },
  };
}
