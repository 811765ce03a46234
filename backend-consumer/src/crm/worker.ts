/**
 * Delivery workers: lease due outbox entries (by `_id` and version, so several backends share the work), send
 * each lead's current version to every destination of its site that has not had it, and record the outcome per
 * lead and destination in `delivery_status` (what the lead API shows). A failing destination does not hold the
 * others: each (lead, destination) has its own attempts and next try (capped exponential backoff with jitter, or
 * the CRM's Retry-After), and a 429 pauses that destination alone. After `maxAttempts` a delivery is dead-lettered
 * with its last error; a new version of the lead, `POST /v1/leads/:id/sync` or an agency's replay revives it.
 * Mapping failures (a required field missing) and refusals no retry would change fail at once, with the reason.
 */
import { randomUUID } from "node:crypto";
import type { AnyBulkWriteOperation, Db } from "mongodb";
import type { LeadDocument } from "../store/leads.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import type { ConnectionProvider, DeliveryItem, ItemResult } from "./connectors/types.ts";
import type { DestinationDirectory, ResolvedDestination } from "./directory.ts";
import { mapLead, MappingFailed } from "./mapping.ts";
import { LEAD_OUTBOX, outboxSignal, type OutboxEntry } from "./outbox.ts";

export const DELIVERY_STATUS = "delivery_status";

export type DeliveryState = "pending" | "delivered" | "failed" | "dead";

export interface DeliveryStatusDocument {
  _id: string;
  leadId: string;
  destinationId: string;
  siteId: string;
  kind: string;
  status: DeliveryState;
  /** Lead version delivered (0: never). */
  done: number;
  /** Lead version of the last attempt. */
  tried: number;
  attempts: number;
  /** Deliveries of a version already delivered (after a crash between sending and recording). */
  lastError: string | null;
  retryable: boolean;
  nextAt: Date | null;
  externalId: string | null;
  deliveredAt: Date | null;
  updatedAt: Date;
}

export const statusId = (leadId: string, destinationId: string): string => `${leadId}|${destinationId}`;

export interface WorkerOptions {
  /** Idle poll interval (entries written in this process wake the worker at once). */
  pollMs?: number;
  leaseMs?: number;
  /** Outbox entries claimed per round. */
  batch?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  timeoutMs?: number;
  /** Concurrent requests per destination (one-at-a-time APIs). */
  perDestinationConcurrency?: number;
  /** Rounds in flight at once: one claims and records while another waits on the CRMs. */
  parallelRounds?: number;
  fetch?: typeof fetch;
}

export interface WorkerDeps {
  db: Db;
  directory: DestinationDirectory;
  connections?: ConnectionProvider;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Called for every attempt's outcome (metrics). */
  onOutcome?: (kind: string, outcome: "delivered" | "retry" | "failed" | "dead") => void;
}

/** A token bucket per destination: at most `requests` per `windowMs`, spread evenly. */
class Pace {
  #tokens: number;
  #last = Date.now();
  readonly #capacity: number;
  readonly #perMs: number;
  constructor(requests: number, windowMs: number) {
    this.#capacity = requests;
    this.#tokens = requests;
    this.#perMs = requests / windowMs;
  }
  async take(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil((1 - this.#tokens) / this.#perMs)));
    }
  }
}

/** At most `limit` requests in flight to one destination, across concurrent rounds. */
class Gate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

interface Work {
  entry: OutboxEntry;
  lead: LeadDocument | null;
}

export class DeliveryWorker {
  readonly #deps: WorkerDeps;
  readonly #opts: Required<Omit<WorkerOptions, "fetch">> & { fetch: typeof fetch };
  readonly #paces = new Map<string, Pace>();
  readonly #gates = new Map<string, Gate>();
  readonly #pausedUntil = new Map<string, number>();
  #running = false;
  #loop: Promise<void> | null = null;
  readonly #sleepers = new Set<() => void>();
  readonly #onSignal = () => {
    for (const wake of this.#sleepers) wake();
  };
  /** Attempts made by this worker, by outcome (tests and the benchmark read them). */
  readonly stats = { delivered: 0, retried: 0, failed: 0, dead: 0, rounds: 0 };

  constructor(deps: WorkerDeps, opts: WorkerOptions = {}) {
    this.#deps = deps;
    this.#opts = {
      pollMs: opts.pollMs ?? 250,
      leaseMs: opts.leaseMs ?? 30_000,
      batch: opts.batch ?? 100,
      maxAttempts: opts.maxAttempts ?? 12,
      backoffBaseMs: opts.backoffBaseMs ?? 1_000,
      backoffCapMs: opts.backoffCapMs ?? 300_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      perDestinationConcurrency: opts.perDestinationConcurrency ?? 8,
      parallelRounds: opts.parallelRounds ?? 3,
      fetch: opts.fetch ?? fetch,
    };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    outboxSignal.on("queued", this.#onSignal);
    const loop = async () => {
      while (this.#running) {
        let worked = 0;
        try {
          worked = await this.tick();
        } catch (err) {
          this.#deps.log?.("crm: delivery round failed", { error: err instanceof Error ? err.message : String(err) });
        }
        if (worked === 0 && this.#running) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              clearTimeout(timer);
              this.#sleepers.delete(wake);
              resolve();
            };
            const timer = setTimeout(wake, this.#opts.pollMs);
            this.#sleepers.add(wake);
          });
        }
      }
    };
    this.#loop = Promise.all(Array.from({ length: this.#opts.parallelRounds }, loop)).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.#running = false;
    outboxSignal.off("queued", this.#onSignal);
    this.#onSignal();
    await this.#loop;
  }

  #backoff(attempts: number): number {
    const exp = Math.min(this.#opts.backoffCapMs, this.#opts.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(exp * (0.5 + Math.random() / 2));
  }

  /** One round: claim due entries, deliver, record, release. Returns how many entries it handled. */
  async tick(): Promise<number> {
    const { db } = this.#deps;
    const outbox = db.collection<OutboxEntry>(LEAD_OUTBOX);
    const now = new Date();
    const candidates = await outbox
      .find({ nextAt: { $lte: now }, leaseUntil: { $lte: now } }, { projection: { _id: 1, v: 1 } })
      .limit(this.#opts.batch * this.#opts.parallelRounds)
      .toArray();
    if (candidates.length === 0) return 0;
    // rounds running side by side take different slices of what is due, rather than racing for the same entries
    const start = candidates.length > this.#opts.batch ? Math.floor(Math.random() * this.#opts.parallelRounds) * this.#opts.batch : 0;
    const due = candidates.slice(start, start + this.#opts.batch).length ? candidates.slice(start, start + this.#opts.batch) : candidates.slice(0, this.#opts.batch);
    this.stats.rounds++;
    const lease = randomUUID();
    const leaseUntil = new Date(now.getTime() + this.#opts.leaseMs);
    await outbox.bulkWrite(
      due.map((d) => ({ updateOne: { filter: { _id: d._id, v: d.v } as never, update: { $set: { leaseUntil, owner: lease }, $inc: { v: 1 } } } })),
      { ordered: false },
    );
    const claimed = (await outbox.find({ _id: { $in: due.map((d) => d._id) } }).toArray()).filter((e) => e.owner === lease && e.leaseUntil.getTime() === leaseUntil.getTime());
    if (claimed.length === 0) return 0;

    const leads = new Map(
      (await db.collection<LeadDocument>(COLLECTIONS.leads).find({ _id: { $in: claimed.map((e) => e._id) } }).toArray()).map((l) => [l._id, l]),
    );
    const bySite = new Map<string, Work[]>();
    for (const entry of claimed) {
      const list = bySite.get(entry.siteId) ?? [];
      list.push({ entry, lead: leads.get(entry._id) ?? null });
      bySite.set(entry.siteId, list);
    }
    const statuses = db.collection<DeliveryStatusDocument>(DELIVERY_STATUS);
    const releases: { entry: OutboxEntry; nextAt: Date | null }[] = [];
    await Promise.all(
      [...bySite].map(async ([siteId, works]) => {
        const routing = await this.#deps.directory.forSite(siteId);
        const dests = routing?.destinations ?? [];
        const ids = works.flatMap((w) => dests.map((d) => statusId(w.entry._id, d.id)));
        const known = new Map((ids.length ? await statuses.find({ _id: { $in: ids } }).toArray() : []).map((s) => [s._id, s]));
        const earliest = new Map<string, number>(); // lead → earliest retry
        const later = (leadId: string, at: number) => earliest.set(leadId, Math.min(earliest.get(leadId) ?? Infinity, at));
        await Promise.all(
          dests.map(async (dest) => {
            const items: { item: DeliveryItem; status: DeliveryStatusDocument | undefined }[] = [];
            const writes: AnyBulkWriteOperation<DeliveryStatusDocument>[] = [];
            const paused = this.#pausedUntil.get(dest.id) ?? 0;
            for (const { entry, lead } of works) {
              const status = known.get(statusId(entry._id, dest.id));
              const version = lead ? ((lead as { v?: number }).v ?? 1) : entry.want;
              if (!lead && !(entry.deleted && dest.connector.sendsDeletes)) continue;
              if (status && status.done >= version) continue;
              if (lead && lead.status === "partial" && !dest.sendPartial) continue;
              if (status && status.tried >= version && (status.status === "dead" || (status.status === "failed" && !status.retryable))) continue;
              const notBefore = Math.max(status?.nextAt?.getTime() ?? 0, paused);
              if (notBefore > now.getTime()) {
                later(entry._id, notBefore);
                continue;
              }
              let contact;
              try {
                contact = lead ? mapLead(lead, routing!.mappings) : { email: entry.deleted!.email };
              } catch (err) {
                if (!(err instanceof MappingFailed)) throw err;
                writes.push(this.#record(dest, siteId, entry._id, version, status, { ok: false, error: `mapping: ${err.message}`, retryable: false }, now));
                continue;
              }
              const type = !lead ? "lead.deleted" : !status || status.done === 0 ? "lead.created" : "lead.updated";
              items.push({ item: { deliveryId: lead ? `${entry._id}.v${version}` : `${entry._id}.deleted`, type, leadId: entry._id, version, lead, contact }, status });
            }
            // outcomes are recorded as they come, a few at a time: a crash loses (and later repeats) only those in flight
            let flushing = Promise.resolve();
            const flush = () => {
              if (writes.length === 0) return flushing;
              const batch = writes.splice(0, writes.length);
              flushing = flushing.then(() => statuses.bulkWrite(batch, { ordered: false }).then(() => undefined));
              return flushing;
            };
            await this.#send(dest, routing!.locationId, items.map((i) => i.item), (index, result) => {
              const { item, status } = items[index]!;
              const write = this.#record(dest, siteId, item.leadId, item.version, status, result, new Date());
              writes.push(write);
              const next = (write as { updateOne: { update: { $set: Partial<DeliveryStatusDocument> } } }).updateOne.update.$set.nextAt;
              if (next) later(item.leadId, next.getTime());
              if (!result.ok && result.retryAfterMs) this.#pausedUntil.set(dest.id, Date.now() + result.retryAfterMs);
              if (writes.length >= 25) void flush();
            });
            await flush();
          }),
        );
        for (const { entry } of works) {
          const at = earliest.get(entry._id);
          releases.push({ entry, nextAt: at === undefined ? null : new Date(at) });
        }
      }),
    );
    await this.#release(releases);
    return claimed.length;
  }

  /** Sends items to one destination in batches of its size, paced to its rate limit. */
  async #send(dest: ResolvedDestination, locationId: string, items: DeliveryItem[], onResult: (index: number, result: ItemResult) => void): Promise<void> {
    if (items.length === 0) return;
    const { connector } = dest;
    let pace = this.#paces.get(dest.id);
    if (!pace) {
      // a destination may set its own pace (a webhook receiver that takes more), else the CRM's documented limit
      const perSecond = Number(dest.config.maxPerSecond);
      const limit = Number.isFinite(perSecond) && perSecond > 0 ? { requests: perSecond, windowMs: 1000 } : connector.rateLimit;
      this.#paces.set(dest.id, (pace = new Pace(limit.requests, limit.windowMs)));
    }
    const chunks: DeliveryItem[][] = [];
    for (let i = 0; i < items.length; i += connector.maxBatch) chunks.push(items.slice(i, i + connector.maxBatch));
    const results: ItemResult[][] = new Array(chunks.length);
    let next = 0;
    const context = {
      id: dest.id,
      tenantId: dest.tenantId,
      locationId,
      config: dest.config,
      secret: dest.secret,
      ...(this.#deps.connections ? { connections: this.#deps.connections } : {}),
      fetch: this.#opts.fetch,
      timeoutMs: this.#opts.timeoutMs,
    };
    let gate = this.#gates.get(dest.id);
    if (!gate) this.#gates.set(dest.id, (gate = new Gate(this.#opts.perDestinationConcurrency)));
    const lane = async () => {
      while (next < chunks.length) {
        const i = next++;
        // a 429 met by another lane pauses the rest of this round too
        if ((this.#pausedUntil.get(dest.id) ?? 0) > Date.now()) {
          results[i] = chunks[i]!.map(() => ({ ok: false, error: "paused: the destination asked to slow down", retryable: true, retryAfterMs: (this.#pausedUntil.get(dest.id) ?? 0) - Date.now() }));
          continue;
        }
        await pace!.take();
        try {
          results[i] = await gate.run(() => connector.deliver(chunks[i]!, context));
        } catch (err) {
          results[i] = chunks[i]!.map(() => ({ ok: false, error: `connector: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500), retryable: true }));
        }
        if (results[i]!.length !== chunks[i]!.length) throw new Error(`connector ${connector.kind} answered ${results[i]!.length} results for ${chunks[i]!.length} items`);
        results[i]!.forEach((result, j) => onResult(i * connector.maxBatch + j, result));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.perDestinationConcurrency, chunks.length) }, lane));
  }

  #record(dest: ResolvedDestination, siteId: string, leadId: string, version: number, status: DeliveryStatusDocument | undefined, result: ItemResult, at: Date): AnyBulkWriteOperation<DeliveryStatusDocument> {
    const base = { leadId, destinationId: dest.id, siteId, kind: dest.kind, tried: version, updatedAt: at };
    let set: Partial<DeliveryStatusDocument>;
    if (result.ok) {
      this.stats.delivered++;
      this.#deps.onOutcome?.(dest.kind, "delivered");
      set = { ...base, status: "delivered", done: version, attempts: 0, lastError: null, retryable: false, nextAt: null, externalId: result.externalId ?? status?.externalId ?? null, deliveredAt: at };
    } else {
      // a destination that asked us to slow down was not tried: no attempt is counted
      const counted = result.error.startsWith("paused:") ? 0 : 1;
      const attempts = (status?.attempts ?? 0) + counted;
      const dead = result.retryable && attempts >= this.#opts.maxAttempts;
      const outcome = !result.retryable ? "failed" : dead ? "dead" : "retry";
      this.stats[outcome === "retry" ? "retried" : outcome]++;
      this.#deps.onOutcome?.(dest.kind, outcome);
      const wait = Math.max(result.retryAfterMs ?? 0, this.#backoff(attempts));
      set = {
        ...base,
        status: dead ? "dead" : "failed",
        attempts,
        lastError: result.error,
        retryable: result.retryable,
        nextAt: result.retryable && !dead ? new Date(at.getTime() + wait) : null,
      };
      if (!dead && result.retryable === false) this.#deps.log?.("crm: delivery refused", { destinationId: dest.id, leadId, error: result.error });
    }
    return {
      updateOne: {
        filter: { _id: statusId(leadId, dest.id) },
        update: result.ok ? { $set: set } : { $set: set, $setOnInsert: { done: 0, externalId: null, deliveredAt: null } },
        upsert: true,
      },
    };
  }

  /** Done entries leave the outbox; the others wait for their earliest retry. A new version written meanwhile stays due. */
  async #release(releases: { entry: OutboxEntry; nextAt: Date | null }[]): Promise<void> {
    if (releases.length === 0) return;
    const outbox = this.#deps.db.collection<OutboxEntry>(LEAD_OUTBOX);
    const ops = releases.map(({ entry, nextAt }) => {
      const mine = { _id: entry._id, v: entry.v } as never;
      return nextAt === null ? { deleteOne: { filter: mine } } : { updateOne: { filter: mine, update: { $set: { nextAt, leaseUntil: new Date(0) }, $inc: { v: 1 } } } };
    });
    const result = await outbox.bulkWrite(ops as never, { ordered: false });
    if (result.deletedCount + result.modifiedCount === ops.length) return;
    // some entries got a newer version from the drain meanwhile: hand those back at once
    const left = await outbox.find({ _id: { $in: releases.map((r) => r.entry._id) } }, { projection: { _id: 1, owner: 1, v: 1 } }).toArray();
    const mineStill = left.filter((e) => releases.some((r) => r.entry._id === e._id && r.entry.owner === e.owner));
    if (mineStill.length) await outbox.bulkWrite(mineStill.map((e) => ({ updateOne: { filter: { _id: e._id }, update: { $set: { leaseUntil: new Date(0) } } } })), { ordered: false });
  }
}
