/**
 * Cloudflare Queues HTTP pull consumer. Pulls leased batches (`batch_size`, `visibility_timeout_ms`), decodes the
 * bodies by their `CF-Content-Type`, runs the same `processBatch` as the local push path, and settles every lease
 * in one ack call (`acks` + `retries` with `delay_seconds`). Bounded concurrency; backoff while the queue is empty;
 * batches shrink when processing gets close to the visibility timeout; `stop()` stops pulling, finishes what it
 * holds and acks it (SIGTERM).
 */
import type { Delivery, Outcome } from "./process-batch.ts";

export interface PullConsumerOptions {
  /** e.g. https://api.cloudflare.com/client/v4 */
  baseUrl: string;
  accountId: string;
  queueId: string;
  apiToken: string;
  process: (deliveries: Delivery[]) => Promise<Outcome[]>;
  /** At most 100 (Cloudflare's limit). */
  batchSize?: number;
  visibilityTimeoutMs?: number;
  /** Pull loops running at once. */
  concurrency?: number;
  emptyBackoffMs?: { min: number; max: number };
  fetch?: typeof fetch;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface PulledMessage {
  id: string;
  body: string;
  attempts: number;
  lease_id: string;
  timestamp_ms?: number;
  metadata?: Record<string, string>;
}

export class UndecodableBody extends Error {
  override name = "UndecodableBody";
}

/** Bodies come as text: JSON text for `json`, the string for `text`, base64 for `bytes`; `v8` cannot be read here. */
export function decodePulledBody(message: PulledMessage): unknown {
  const type = message.metadata?.["CF-Content-Type"] ?? "json";
  if (type === "json") return typeof message.body === "string" ? message.body : JSON.stringify(message.body);
  if (type === "text") return message.body;
  if (type === "bytes") return Buffer.from(message.body, "base64");
  throw new UndecodableBody(`content type ${type} cannot be decoded outside Workers`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PullConsumer {
  private readonly opts: Required<Omit<PullConsumerOptions, "log" | "fetch">> & Pick<PullConsumerOptions, "log">;
  private readonly fetcher: typeof fetch;
  private readonly base: string;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private batchSize: number;
  /** Counters for operators and tests. */
  readonly stats = { pulls: 0, emptyPulls: 0, messages: 0, acked: 0, retried: 0, ackFailures: 0 };
  /** When a pull last got an answer (empty or not), for readiness; null until the first. */
  lastSuccessAt: number | null = null;
  /** Pulls that failed in a row since the last answer (a revoked token keeps this growing). */
  consecutiveFailures = 0;
  /** The last pull's error, while failing. */
  lastError: string | null = null;

  constructor(opts: PullConsumerOptions) {
    this.opts = {
      batchSize: 100,
      visibilityTimeoutMs: 30_000,
      concurrency: 2,
      emptyBackoffMs: { min: 100, max: 5000 },
      ...opts,
    };
    if (this.opts.batchSize < 1 || this.opts.batchSize > 100) throw new RangeError("batchSize must be 1..100");
    this.batchSize = this.opts.batchSize;
    this.fetcher = opts.fetch ?? fetch;
    this.base = `${opts.baseUrl.replace(/\/$/, "")}/accounts/${opts.accountId}/queues/${opts.queueId}/messages`;
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stops pulling; resolves once every batch already pulled has been processed and acked. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async call(path: string, body: unknown): Promise<unknown> {
    const res = await this.fetcher(`${this.base}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.opts.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path} answered ${res.status}`);
    return res.json();
  }

  private async pull(): Promise<PulledMessage[]> {
    this.stats.pulls++;
    const body = (await this.call("pull", { batch_size: this.batchSize, visibility_timeout_ms: this.opts.visibilityTimeoutMs })) as {
      result?: { messages?: PulledMessage[] } | PulledMessage[];
    };
    const result = body.result;
    return Array.isArray(result) ? result : (result?.messages ?? []);
  }

  private async loop(): Promise<void> {
    let idle = this.opts.emptyBackoffMs.min;
    while (!this.stopping) {
      let messages: PulledMessage[];
      try {
        messages = await this.pull();
        this.lastSuccessAt = Date.now();
        this.consecutiveFailures = 0;
        this.lastError = null;
      } catch (err) {
        this.consecutiveFailures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.opts.log?.("pull failed", { error: err instanceof Error ? err.message : String(err), level: "warn" });
        await sleep(idle);
        idle = Math.min(idle * 2, this.opts.emptyBackoffMs.max);
        continue;
      }
      if (messages.length === 0) {
        this.stats.emptyPulls++;
        await sleep(idle);
        idle = Math.min(idle * 2, this.opts.emptyBackoffMs.max);
        continue;
      }
      idle = this.opts.emptyBackoffMs.min;
      await this.handle(messages);
    }
  }

  private async handle(messages: PulledMessage[]): Promise<void> {
    this.stats.messages += messages.length;
    const started = Date.now();
    const deliveries: Delivery[] = [];
    for (const m of messages) {
      try {
        deliveries.push({ id: m.id, body: decodePulledBody(m), attempts: m.attempts });
      } catch (err) {
        // It will never decode: the drain dead-letters it with the raw body rather than retrying it.
        deliveries.push({ id: m.id, body: m.body, attempts: m.attempts, undecodable: err instanceof Error ? err.message : String(err) });
      }
    }
    let outcomes: Outcome[];
    try {
      outcomes = deliveries.length ? await this.opts.process(deliveries) : [];
    } catch (err) {
      // processBatch reports per message; an exception here is a bug or an outage: retry everything later.
      this.opts.log?.("batch failed", { error: err instanceof Error ? err.message : String(err) });
      outcomes = deliveries.map((d) => ({ id: d.id, action: "retry", delaySeconds: 10, reason: "batch failed" }));
    }
    this.adaptBatchSize(Date.now() - started);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const acks: { lease_id: string }[] = [];
    const retries: { lease_id: string; delay_seconds: number }[] = [];
    for (const m of messages) {
      const o = byId.get(m.id);
      if (o?.action === "ack") acks.push({ lease_id: m.lease_id });
      else retries.push({ lease_id: m.lease_id, delay_seconds: o?.action === "retry" ? o.delaySeconds : 0 });
    }
    await this.ack(acks, retries);
  }

  /** Keeps a batch's processing time under half the visibility timeout, so leases do not expire mid-batch. */
  private adaptBatchSize(elapsedMs: number): void {
    const budget = this.opts.visibilityTimeoutMs / 2;
    if (elapsedMs > budget) this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
    else if (elapsedMs < budget / 4) this.batchSize = Math.min(this.opts.batchSize, this.batchSize + 10);
  }

  private async ack(acks: { lease_id: string }[], retries: { lease_id: string; delay_seconds: number }[]): Promise<void> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        await this.call("ack", { acks, retries });
        this.stats.acked += acks.length;
        this.stats.retried += retries.length;
        return;
      } catch (err) {
        this.stats.ackFailures++;
        this.opts.log?.("ack failed", { attempt, error: err instanceof Error ? err.message : String(err) });
        await sleep(200 * attempt);
      }
    }
    // The leases will expire and the messages come back; every write is idempotent, so that costs only time.
  }
}
