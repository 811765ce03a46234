/**
 * A local HTTP server that follows Cloudflare Queues' documented pull-consumer shapes, with real lease semantics,
 * for testing the pull client: `POST /client/v4/accounts/:a/queues/:q/messages/pull {batch_size,
 * visibility_timeout_ms}` leases visible messages and answers `{ success, errors, messages, result: { messages:
 * [{ id, body, attempts, lease_id, timestamp_ms, metadata }] } }`; `POST .../messages/ack { acks: [{lease_id}],
 * retries: [{lease_id, delay_seconds}] }` settles leases. Expired leases make messages visible again; a message
 * delivered more than `maxRetries` + 1 times goes to the dead-letter list, and, when `deadLetterQueue` names one,
 * into that queue, which is pulled and acked like any other (`.../queues/<deadLetterQueue>/messages/...`).
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";

export interface FakeMessage {
  id: string;
  body: string;
  contentType: "json" | "text" | "bytes" | "v8";
  attempts: number;
  timestampMs: number;
  visibleAt: number;
  lease: { id: string; until: number } | null;
}

export interface FakeQueueOptions {
  token: string;
  maxRetries?: number;
  /** The queue id of the dead-letter queue; without it dead letters only go to the `deadLetters` list. */
  deadLetterQueue?: string;
}

export class FakeCloudflareQueue {
  readonly messages = new Map<string, FakeMessage>();
  /** The dead-letter queue's own messages (pullable when `deadLetterQueue` is set). */
  readonly dlqMessages = new Map<string, FakeMessage>();
  readonly deadLetters: FakeMessage[] = [];
  readonly stats = { pulls: 0, acks: 0, retries: 0, staleAcks: 0, maxConcurrentPulls: 0, expiredLeases: 0 };
  private inFlightPulls = 0;
  private server: Server | null = null;
  private readonly opts: FakeQueueOptions & { maxRetries: number };
  url = "";

  constructor(opts: FakeQueueOptions) {
    this.opts = { maxRetries: 3, ...opts };
  }

  /** Enqueues a message as a producer would, stored the way the pull API returns it. */
  send(body: unknown, contentType: FakeMessage["contentType"] = "json"): string {
    const id = randomUUID().replace(/-/g, "");
    const text =
      contentType === "json" ? JSON.stringify(body) : contentType === "bytes" ? Buffer.from(String(body)).toString("base64") : String(body);
    this.messages.set(id, { id, body: text, contentType, attempts: 0, timestampMs: Date.now(), visibleAt: 0, lease: null });
    return id;
  }

  get backlog(): number {
    return this.messages.size;
  }

  /** Delivery count (this one included) past which a retried or expired message is dead-lettered. */
  private settleFailed(queue: Map<string, FakeMessage>, m: FakeMessage, delaySeconds: number): void {
    m.lease = null;
    if (m.attempts > this.opts.maxRetries) {
      queue.delete(m.id);
      if (queue === this.messages) {
        this.deadLetters.push(m);
        if (this.opts.deadLetterQueue) this.dlqMessages.set(m.id, { ...m, attempts: 0, visibleAt: 0, lease: null });
      }
    } else {
      m.visibleAt = Date.now() + delaySeconds * 1000;
    }
  }

  private pull(queue: Map<string, FakeMessage>, batchSize: number, visibilityMs: number) {
    const now = Date.now();
    const out = [];
    for (const m of queue.values()) {
      if (m.lease && m.lease.until <= now) {
        this.stats.expiredLeases++;
        this.settleFailed(queue, m, 0);
        if (!queue.has(m.id)) continue;
      }
      if (m.lease || m.visibleAt > now) continue;
      m.attempts++;
      m.lease = { id: randomUUID(), until: now + visibilityMs };
      out.push({
        id: m.id,
        body: m.body,
        attempts: m.attempts,
        lease_id: m.lease.id,
        timestamp_ms: m.timestampMs,
        metadata: { "CF-sourceMessageSource": "api", "CF-Content-Type": m.contentType },
      });
      if (out.length >= batchSize) break;
    }
    return out;
  }

  private ack(queue: Map<string, FakeMessage>, acks: { lease_id: string }[], retries: { lease_id: string; delay_seconds?: number }[]) {
    const byLease = new Map([...queue.values()].filter((m) => m.lease).map((m) => [m.lease!.id, m]));
    let ackCount = 0;
    let retryCount = 0;
    for (const a of acks) {
      const m = byLease.get(a.lease_id);
      if (!m || m.lease!.until <= Date.now()) {
        this.stats.staleAcks++;
        continue;
      }
      queue.delete(m.id);
      ackCount++;
    }
    for (const r of retries) {
      const m = byLease.get(r.lease_id);
      if (!m || m.lease!.until <= Date.now()) {
        this.stats.staleAcks++;
        continue;
      }
      this.settleFailed(queue, m, r.delay_seconds ?? 0);
      retryCount++;
    }
    this.stats.acks += ackCount;
    this.stats.retries += retryCount;
    return { ackCount, retryCount, warnings: [] };
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${this.opts.token}`) return reply(401, { success: false, errors: [{ code: 10000, message: "Authentication error" }] });
      const match = /^\/client\/v4\/accounts\/[^/]+\/queues\/([^/]+)\/messages\/(pull|ack)$/.exec(req.url ?? "");
      if (!match || req.method !== "POST") return reply(404, { success: false, errors: [{ code: 7003, message: "No route" }] });
      const queue = match[1] === this.opts.deadLetterQueue ? this.dlqMessages : this.messages;
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c));
      req.on("end", () => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw || "{}");
        } catch {
          return reply(400, { success: false, errors: [{ code: 10001, message: "invalid JSON" }] });
        }
        if (match[2] === "pull") {
          this.stats.pulls++;
          this.inFlightPulls++;
          this.stats.maxConcurrentPulls = Math.max(this.stats.maxConcurrentPulls, this.inFlightPulls);
          const messages = this.pull(queue, Math.min(100, Number(body.batch_size ?? 5)), Number(body.visibility_timeout_ms ?? 30_000));
          // A short delay keeps concurrent pulls overlapping, as real network calls would.
          setTimeout(() => {
            this.inFlightPulls--;
            reply(200, { success: true, errors: [], messages: [], result: { messages } });
          }, 5);
          return;
        }
        const result = this.ack(queue, (body.acks as { lease_id: string }[]) ?? [], (body.retries as { lease_id: string; delay_seconds?: number }[]) ?? []);
        reply(200, { success: true, errors: [], messages: [], result });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}/client/v4`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
