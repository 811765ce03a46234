/**
 * Delivery workers: lease due outbox entries (by `_id` and version, so several backends share the work), send
 * each lead's current version to every destination of its site that has not had it, and record the outcome per
 * lead and destination in `delivery_status` (what the lead API shows). A failing destination does not hold the
 * others: each (lead, destination) has its own attempts and next try (capped exponential backoff with jitter, or
 * the CRM's Retry-After), and a 429 pauses that destination alone. After `maxAttempts` a delivery is dead-lettered
 * with its last error; a new version of the lead, `POST /v1/leads/:id/sync` or an agency's replay revives it.
 * Mapping failures (a required field missing) and refusals no retry would change fail at once, with the reason.
 *
 * Erasures (outbox entries with `deleted.erased`, see outbox.ts) take their own path: every destination of the site
 * that holds the lead (a delivery_status document; for the webhook, every webhook destination) is told through its
 * connector's `erasure`, paced and retried like deliveries but with generic error texts only; once each has
 * settled (erased, already gone, refused, dead-lettered, or unable to be told) and the lead document is gone,
 * `onErased` gets the outcome (ids and counts), the lead's delivery_status documents are deleted, and then the entry.
 */
import { randomUUID } from "node:crypto";
import type { AnyBulkWriteOperation, Collection, Db } from "mongodb";
import type { LeadDocument } from "../store/leads.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import type { ConnectionProvider, DeliveryItem, DestinationContext, ErasureResult, ItemResult } from "./connectors/types.ts";
import type { DestinationDirectory, ResolvedDestination } from "./directory.ts";
import { nextProgress, planErasure, summarizeErasure, type ErasureOutcome, type ErasureOutcomeKind, type ErasureProgress } from "./erasure.ts";
import { mapLead, MappingFailed } from "./mapping.ts";
import { takesLead } from "./policy.ts";
import { DELIVERY_STATUS, isErasure, LEAD_OUTBOX, outboxSignal, type OutboxEntry } from "./outbox.ts";

export { DELIVERY_STATUS };

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
  /** An erasure's progress at this destination (erasure.ts); the document goes once the erasure settles everywhere. */
  erasure?: ErasureProgress;
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
  /**
   * Called once a lead's erasure has settled at every destination, before its traces (delivery_status, the outbox
   * entry) are removed: ids and counts only. If it throws, the erasure is settled again later (so it may be called
   * more than once for a lead: make it idempotent).
   */
  onErased?: (outcome: ErasureOutcome) => void | Promise<void>;
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
  #claimTurn: Promise<void> = Promise.resolve();
  #loop: Promise<void> | null = null;
  readonly #sleepers = new Set<() => void>();
  readonly #onSignal = () => {
    for (const wake of this.#sleepers) wake();
  };
  /** Attempts made by this worker, by outcome (tests and the benchmark read them). */
  readonly stats = { delivered: 0, retried: 0, failed: 0, dead: 0, rounds: 0, erased: 0, erasureRetried: 0, erasureFailed: 0, erasuresSettled: 0 };

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

  /** Leases what is due to a new round; returns the entries this round now owns. */
  async #claim(outbox: Collection<OutboxEntry>, now: Date): Promise<OutboxEntry[]> {
    const candidates = await outbox
      .find({ nextAt: { $lte: now }, leaseUntil: { $lte: now } }, { projection: { _id: 1, v: 1 } })
      .limit(this.#opts.batch * this.#opts.parallelRounds)
      .toArray();
    if (candidates.length === 0) return [];
    // rounds running side by side take different slices of what is due, rather than racing for the same entries
    const start = candidates.length > this.#opts.batch ? Math.floor(Math.random() * this.#opts.parallelRounds) * this.#opts.batch : 0;
    const due = candidates.slice(start, start + this.#opts.batch).length ? candidates.slice(start, start + this.#opts.batch) : candidates.slice(0, this.#opts.batch);
    const lease = randomUUID();
    const leaseUntil = new Date(now.getTime() + this.#opts.leaseMs);
    await outbox.bulkWrite(
      due.map((d) => ({ updateOne: { filter: { _id: d._id, v: d.v } as never, update: { $set: { leaseUntil, owner: lease }, $inc: { v: 1 } } } })),
      { ordered: false },
    );
    return (await outbox.find({ _id: { $in: due.map((d) => d._id) } }).toArray()).filter((e) => e.owner === lease && e.leaseUntil.getTime() === leaseUntil.getTime());
  }

  /** One round: claim due entries, deliver, record, release. Returns how many entries it handled. */
  async tick(): Promise<number> {
    const { db } = this.#deps;
    const outbox = db.collection<OutboxEntry>(LEAD_OUTBOX);
    // Rounds in this process claim one at a time, so a round takes everything due (up to its batch) instead of
    // racing its siblings entry by entry and splitting a batch the CRM would have taken in one request.
    const claimTurn = this.#claimTurn;
    let done!: () => void;
    this.#claimTurn = new Promise<void>((resolve) => (done = resolve));
    await claimTurn;
    let claimed: OutboxEntry[];
    let now: Date;
    try {
      now = new Date();
      claimed = await this.#claim(outbox, now);
    } finally {
      done();
    }
    if (claimed.length === 0) return 0;
    this.stats.rounds++;

    const erasures = claimed.filter((e) => isErasure(e));
    const deliveries = claimed.filter((e) => !isErasure(e));
    const leads = new Map(
      deliveries.length
        ? (await db.collection<LeadDocument>(COLLECTIONS.leads).find({ _id: { $in: deliveries.map((e) => e._id) } }).toArray()).map((l) => [l._id, l])
        : [],
    );
    const bySite = new Map<string, Work[]>();
    for (const entry of deliveries) {
      const list = bySite.get(entry.siteId) ?? [];
      list.push({ entry, lead: leads.get(entry._id) ?? null });
      bySite.set(entry.siteId, list);
    }
    const statuses = db.collection<DeliveryStatusDocument>(DELIVERY_STATUS);
    const releases: { entry: OutboxEntry; nextAt: Date | null }[] = [];
    await Promise.all([
      this.#erase(erasures, now, releases),
      ...[...bySite].map(async ([siteId, works]) => {
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
              // the destination's delivery policy (policy.ts), decided at every attempt: a lead it does not take yet is
              // held (no status written), and goes with the change that makes it qualify
              if (lead && !takesLead(lead, dest.policy ?? { policy: "all", minQuality: "medium", sendPartial: dest.sendPartial })) continue;
              if (status && status.tried >= version && (status.status === "dead" || (status.status === "failed" && !status.retryable))) continue;
              const notBefore = Math.max(status?.nextAt?.getTime() ?? 0, paused);
              if (notBefore > now.getTime()) {
                later(entry._id, notBefore);
                continue;
              }
              let contact;
              try {
                contact = lead ? mapLead(lead, routing!.mappings) : entry.deleted?.email ? { email: entry.deleted.email } : {};
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
    ]);
    await this.#release(releases);
    return claimed.length;
  }

  /** The destination's pace: its own (`maxPerSecond`, a webhook receiver that takes more), else the CRM's documented limit. */
  #paceOf(dest: ResolvedDestination): Pace {
    let pace = this.#paces.get(dest.id);
    if (!pace) {
      const perSecond = Number(dest.config.maxPerSecond);
      const limit = Number.isFinite(perSecond) && perSecond > 0 ? { requests: perSecond, windowMs: 1000 } : dest.connector.rateLimit;
      this.#paces.set(dest.id, (pace = new Pace(limit.requests, limit.windowMs)));
    }
    return pace;
  }

  #gateOf(dest: ResolvedDestination): Gate {
    let gate = this.#gates.get(dest.id);
    if (!gate) this.#gates.set(dest.id, (gate = new Gate(this.#opts.perDestinationConcurrency)));
    return gate;
  }

  #context(dest: ResolvedDestination, locationId: string): DestinationContext {
    return {
      id: dest.id,
      tenantId: dest.tenantId,
      locationId,
      config: dest.config,
      secret: dest.secret,
      ...(this.#deps.connections ? { connections: this.#deps.connections } : {}),
      fetch: this.#opts.fetch,
      timeoutMs: this.#opts.timeoutMs,
    };
  }

  /** Sends items to one destination in batches of its size, paced to its rate limit. */
  async #send(dest: ResolvedDestination, locationId: string, items: DeliveryItem[], onResult: (index: number, result: ItemResult) => void): Promise<void> {
    if (items.length === 0) return;
    const { connector } = dest;
    const pace = this.#paceOf(dest);
    const chunks: DeliveryItem[][] = [];
    for (let i = 0; i < items.length; i += connector.maxBatch) chunks.push(items.slice(i, i + connector.maxBatch));
    const results: ItemResult[][] = new Array(chunks.length);
    let next = 0;
    const context = this.#context(dest, locationId);
    const gate = this.#gateOf(dest);
    const lane = async () => {
      while (next < chunks.length) {
        const i = next++;
        // a 429 met by another lane pauses the rest of this round too
        if ((this.#pausedUntil.get(dest.id) ?? 0) > Date.now()) {
          results[i] = chunks[i]!.map(() => ({ ok: false, error: "paused: the destination asked to slow down", retryable: true, retryAfterMs: (this.#pausedUntil.get(dest.id) ?? 0) - Date.now() }));
          continue;
        }
        await pace.take();
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

  /**
   * Erasures of this round: tells each destination that holds the lead (paced, retried with backoff, generic error
   * texts only), and settles the leads told everywhere: `onErased`, then their delivery_status documents go, then
   * (through `releases`) their outbox entries. Leads still waiting on a destination are released until its next try.
   */
  async #erase(entries: OutboxEntry[], now: Date, releases: { entry: OutboxEntry; nextAt: Date | null }[]): Promise<void> {
    if (entries.length === 0) return;
    const statuses = this.#deps.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS);
    const leadIds = entries.map((e) => e._id);
    const docs = await statuses.find({ leadId: { $in: leadIds } }, { projection: { _id: 1, leadId: 1, destinationId: 1, kind: 1, externalId: 1, erasure: 1 } }).toArray();
    // an erasure settles only once the lead document is gone: until then its entry stays an erasure, so a change the
    // drain makes to the lead meanwhile merges into it instead of queueing a delivery that would re-create the contact
    const stillThere = new Set(
      (await this.#deps.db.collection<LeadDocument>(COLLECTIONS.leads).find({ _id: { $in: leadIds } }, { projection: { _id: 1 } }).toArray()).map((l) => l._id),
    );
    const bySite = new Map<string, OutboxEntry[]>();
    for (const entry of entries) bySite.set(entry.siteId, [...(bySite.get(entry.siteId) ?? []), entry]);
    await Promise.all(
      [...bySite].map(async ([siteId, siteEntries]) => {
        const routing = await this.#deps.directory.forSite(siteId);
        const dests = routing?.destinations ?? [];
        const planned = siteEntries.map((entry) => ({
          entry,
          plan: planErasure(
            dests.map((d) => ({ id: d.id, kind: d.kind, dest: d, ...(d.connector.erasure ? { erasure: d.connector.erasure } : {}) })),
            docs.filter((d) => d.leadId === entry._id),
          ),
        }));
        await Promise.all(
          planned.map(async ({ entry, plan }) => {
            const settled = [...plan.settled];
            let earliest = Infinity;
            await Promise.all(
              plan.targets.map(async ({ dest: { dest }, externalId, progress }) => {
                const notBefore = Math.max(progress?.nextAt?.getTime() ?? 0, this.#pausedUntil.get(dest.id) ?? 0);
                if (notBefore > now.getTime()) {
                  earliest = Math.min(earliest, notBefore);
                  return;
                }
                const erasure = dest.connector.erasure!;
                const item = { deliveryId: `${entry._id}.erased`, leadId: entry._id, externalId, at: entry.deleted?.at ?? now };
                await this.#paceOf(dest).take();
                let result: ErasureResult;
                try {
                  result = await this.#gateOf(dest).run(() => erasure.erase(item, this.#context(dest, routing!.locationId)));
                } catch {
                  // a connector's own error text may hold what it was sending: not kept
                  result = { ok: false, reason: "unexpected", status: null, retryable: true };
                }
                if (!result.ok && result.retryAfterMs) this.#pausedUntil.set(dest.id, Date.now() + result.retryAfterMs);
                const at = new Date();
                const next = nextProgress(progress, result, at, { maxAttempts: this.#opts.maxAttempts, backoffMs: (n) => this.#backoff(n) });
                this.#countErasure(dest, entry._id, next);
                await statuses.updateOne(
                  { _id: statusId(entry._id, dest.id) },
                  {
                    $set: { leadId: entry._id, destinationId: dest.id, siteId, kind: dest.kind, updatedAt: at, lastError: null, erasure: next },
                    $setOnInsert: { status: "pending", done: 0, tried: 0, attempts: 0, retryable: false, nextAt: null, externalId: null, deliveredAt: null },
                  },
                  { upsert: true },
                );
                if (next.state === "settled") settled.push({ destinationId: dest.id, kind: dest.kind, outcome: next.outcome! });
                else earliest = Math.min(earliest, next.nextAt!.getTime());
              }),
            );
            if (earliest !== Infinity) {
              releases.push({ entry, nextAt: new Date(earliest) });
              return;
            }
            if (stillThere.has(entry._id)) {
              releases.push({ entry, nextAt: new Date(Date.now() + Math.max(this.#opts.pollMs, 1_000)) });
              return;
            }
            await this.#settleErasure(entry, settled, releases);
          }),
        );
      }),
    );
  }

  #countErasure(dest: ResolvedDestination, leadId: string, progress: ErasureProgress): void {
    if (progress.state === "pending") {
      this.stats.erasureRetried++;
      return;
    }
    if (progress.outcome === "erased" || progress.outcome === "already_gone") {
      this.stats.erased++;
      return;
    }
    this.stats.erasureFailed++;
    // ids and a generic text only
    this.#deps.log?.(progress.outcome === "dead" ? "crm: erasure dead-lettered" : "crm: erasure refused", { destinationId: dest.id, kind: dest.kind, leadId, error: progress.lastError });
  }

  /** Every destination has settled: the receipt hears of it, then the lead's delivery_status documents go, then (via `releases`) its entry. */
  async #settleErasure(entry: OutboxEntry, settled: { destinationId: string; kind: string; outcome: ErasureOutcomeKind }[], releases: { entry: OutboxEntry; nextAt: Date | null }[]): Promise<void> {
    const outcome = summarizeErasure(entry._id, entry.siteId, entry.deleted?.at ?? entry.since, settled, new Date());
    try {
      await this.#deps.onErased?.(outcome);
    } catch (err) {
      this.#deps.log?.("crm: erasure receipt failed, settling again later", { leadId: entry._id, error: err instanceof Error ? err.name : "error" });
      releases.push({ entry, nextAt: new Date(Date.now() + Math.max(1_000, this.#opts.backoffBaseMs)) });
      return;
    }
    // the status documents first: a crash before the entry goes leaves it to settle again (the webhook is told
    // again under the same webhook-id); the other order could leave contact ids with nothing to act on them
    await this.#deps.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS).deleteMany({ leadId: entry._id });
    this.stats.erasuresSettled++;
    this.#deps.log?.("crm: erasure settled", { leadId: entry._id, counts: outcome.counts });
    releases.push({ entry, nextAt: null });
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
