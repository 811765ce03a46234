/**
 * Retention everywhere: a sweep that deletes what is past its site's retention, in bounded batches, on any server.
 * Real MongoDB also expires `events`, `sessions` and `rollups` through the TTL indexes on `expireAt`
 * (store/mongo.ts); the MongoDB-compatible server used locally and in tests keeps TTL indexes but never expires
 * anything. The sweep deletes the same documents the TTL monitor would, so on real MongoDB it mostly finds them gone
 * already (a delete of something already deleted deletes nothing), and on the compatible server it is the retention.
 *
 * Leads (README, "What the backend stores"): a lead that was submitted, delivered to a CRM destination, or edited by
 * its owner is kept until it is erased (DELETE /v1/leads/:id). Any other lead (partial: an email typed into a
 * form; identified: identify with an email) is removed once none of its sessions remains: each session expires at
 * its last event's receipt + the site's retentionDays, so that is when the lead's last interaction is older than its
 * site's retention. Its `lead_keys` entry, outbox entry and (never delivered) delivery statuses go with it.
 *
 * Queries stay simple for the compatible server, which uses an index only when a filter names exactly a unique
 * index's keys: find ids with a limit, then delete by `_id` (immutable events) or by `{ _id, v }` (versioned
 * documents: a session, rollup or lead written meanwhile has another version and is left alone).
 *
 * One call of `sweepRetention` is one bounded step (at most `batchSize` documents per collection); the runner
 * (`startRetentionSweep`) repeats steps until caught up, once per interval, holding a lease so that of several
 * backends one sweeps at a time (the others skip the interval; if the holder dies its lease runs out).
 */
import { randomUUID } from "node:crypto";
import type { Db } from "mongodb";
import { DUPLICATE_KEY } from "../store/mongo.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { STATUS_RANK } from "../leads/index.ts";
import { LEAD_OUTBOX } from "../crm/outbox.ts";
import { DELIVERY_STATUS } from "../crm/worker.ts";

const DAY_MS = 86_400_000;
export const DEFAULT_BATCH_SIZE = 1000;
/** The shortest retention a site can have (site-config: retentionDays ≥ 1): no lead is a candidate before it. */
const MIN_RETENTION_MS = DAY_MS;
/** Finished visit-finalizer runs (`rollup_runs`, bookkeeping only) are kept this long. */
export const ROLLUP_RUNS_KEEP_MS = 7 * DAY_MS;
/** The sweep's own state: one document, the lease and the last run's outcome. */
export const RETENTION_STATE = "retention_state";
/** In(…) lists are cut to this size. */
const IN_CHUNK = 1000;

export interface SweepCounts {
  events: number;
  sessions: number;
  rollups: number;
  rollup_runs: number;
  leads: number;
  lead_keys: number;
  lead_outbox: number;
  delivery_status: number;
  activity_events: number;
  activity_days: number;
  activity_team: number;
  activity_team_pages: number;
}

export interface SweepResult {
  /** Documents deleted, per collection. */
  deleted: SweepCounts;
  /** Leads looked at (candidates: never submitted, never edited, last interaction at least a day old). */
  leadsExamined: number;
  /** Where the lead scan goes on (pass it to the next call), or null when it reached the end. */
  leadCursor: string | null;
  /** Whether a batch was full: another call has more to do. */
  more: boolean;
  /** The parts with more to do (pass them as `parts` to the next call). */
  pending: SweepPart[];
}

/** What a step sweeps: the expiring collections (team activity's too), finished finalizer runs, and the lead scan. */
export const SWEEP_PARTS = ["events", "sessions", "rollups", "rollup_runs", "leads", "activity_events", "activity_days", "activity_team", "activity_team_pages"] as const;
export type SweepPart = (typeof SWEEP_PARTS)[number];

export interface SweepOptions {
  db: Db;
  /** The sweep's clock: what expires at or before it is deleted. */
  now?: Date;
  /** At most this many documents are deleted per collection, and this many leads examined, per call. */
  batchSize?: number;
  /** From a previous call's result: the lead scan resumes after this id. */
  leadCursor?: string | null;
  /** Only these parts (default: all); a run passes the previous step's `pending`, so a part caught up rests. */
  parts?: readonly SweepPart[];
}

const zeroCounts = (): SweepCounts => ({
  events: 0,
  sessions: 0,
  rollups: 0,
  rollup_runs: 0,
  leads: 0,
  lead_keys: 0,
  lead_outbox: 0,
  delivery_status: 0,
  activity_events: 0,
  activity_days: 0,
  activity_team: 0,
  activity_team_pages: 0,
});

function chunks<T>(items: T[], size = IN_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * One batch of a collection whose documents carry `expireAt`. Versioned collections are deleted by `{ _id, v }`
 * as read, so a document extended meanwhile (a late event raising a session's expiry) stays.
 */
async function sweepExpiring(db: Db, name: string, now: Date, batchSize: number, versioned: boolean): Promise<{ deleted: number; full: boolean }> {
  const coll = db.collection<{ _id: unknown; v?: number }>(name);
  const found = await coll.find({ expireAt: { $lte: now } }, { projection: versioned ? { _id: 1, v: 1 } : { _id: 1 } }).limit(batchSize).toArray();
  if (found.length === 0) return { deleted: 0, full: false };
  const result = versioned
    ? await coll.bulkWrite(found.map((d) => ({ deleteOne: { filter: { _id: d._id, v: d.v ?? null } as never } })), { ordered: false })
    : await coll.deleteMany({ _id: { $in: found.map((d) => d._id) } } as never);
  // a full batch that deleted nothing (everything changed meanwhile) is not a reason to go on at once
  return { deleted: result.deletedCount, full: found.length === batchSize && result.deletedCount > 0 };
}

/** Finished finalizer runs older than ROLLUP_RUNS_KEEP_MS (nothing reads an applied run again). */
async function sweepRollupRuns(db: Db, now: Date, batchSize: number): Promise<{ deleted: number; full: boolean }> {
  const runs = db.collection<{ _id: string }>(COLLECTIONS.rollupRuns);
  const found = await runs.find({ state: "applied", at: { $lt: new Date(now.getTime() - ROLLUP_RUNS_KEEP_MS) } }, { projection: { _id: 1 } }).limit(batchSize).toArray();
  if (found.length === 0) return { deleted: 0, full: false };
  const result = await runs.deleteMany({ _id: { $in: found.map((d) => d._id) }, state: "applied" });
  return { deleted: result.deletedCount, full: found.length === batchSize && result.deletedCount > 0 };
}

interface LeadCandidate {
  _id: string;
  v?: number;
  siteId: string;
  email: string;
  sessionIds?: string[];
}

/**
 * One page of the lead scan: candidates in `_id` order after `cursor`, and of those, the ones the policy expires.
 * Deletes go outbox entry, key, lead, delivery statuses, each conditioned on what was read: a delivery worker
 * claiming the entry moves its version, a drain resolving the key moves its `lastAt`, a drain merging into the
 * lead moves its version, and in each case the lead stays (to be looked at again by a later sweep).
 */
async function sweepLeads(db: Db, now: Date, batchSize: number, cursor: string | null, counts: SweepCounts): Promise<{ examined: number; cursor: string | null }> {
  const leads = db.collection<LeadCandidate>(COLLECTIONS.leads);
  const page = await leads
    .find(
      {
        statusRank: { $lt: STATUS_RANK.submitted },
        submittedAt: { $exists: false },
        // edited by its owner (status, notes, tags, accepted conflicts): every edit adds a history entry
        "history.0": { $exists: false },
        lastInteractionAt: { $lte: new Date(now.getTime() - MIN_RETENTION_MS) },
        ...(cursor ? { _id: { $gt: cursor } } : {}),
      },
      { projection: { _id: 1, v: 1, siteId: 1, email: 1, sessionIds: 1 } },
    )
    .sort({ _id: 1 })
    .limit(batchSize)
    .toArray();
  const next = page.length === batchSize ? page[page.length - 1]!._id : null;
  if (page.length === 0) return { examined: 0, cursor: next };

  // 1. the lead's sessions: one still there (not yet expired) keeps it
  const sessionKey = (l: LeadCandidate, s: string) => `${l.siteId}|${s}`;
  const live = new Set<string>();
  for (const ids of chunks(page.flatMap((l) => (l.sessionIds ?? []).map((s) => sessionKey(l, s))))) {
    const found = await db.collection<{ _id: string; expireAt?: Date }>(COLLECTIONS.sessions).find({ _id: { $in: ids } }, { projection: { _id: 1, expireAt: 1 } }).toArray();
    for (const s of found) if (!s.expireAt || s.expireAt > now) live.add(s._id);
  }
  let stale = page.filter((l) => !(l.sessionIds ?? []).some((s) => live.has(sessionKey(l, s))));
  if (stale.length === 0) return { examined: page.length, cursor: next };

  // 2. delivered to any destination: kept for the CRM's sake until erased
  const statuses = await db
    .collection<{ _id: string; leadId: string; done?: number; status?: string }>(DELIVERY_STATUS)
    .find({ leadId: { $in: stale.map((l) => l._id) } }, { projection: { _id: 1, leadId: 1, done: 1, status: 1 } })
    .toArray();
  const delivered = new Set(statuses.filter((s) => (s.done ?? 0) > 0 || s.status === "delivered").map((s) => s.leadId));
  // 3. a delivery worker holding its outbox entry right now (wall clock, the workers' own), or a deletion or
  //    erasure on its way to the CRMs: looked at next time
  const entries = await db
    .collection<{ _id: string; v?: number; leaseUntil?: Date; deleted?: unknown }>(LEAD_OUTBOX)
    .find({ _id: { $in: stale.map((l) => l._id) } }, { projection: { _id: 1, v: 1, leaseUntil: 1, deleted: 1 } })
    .toArray();
  const wallNow = Date.now();
  const busy = new Set(entries.filter((e) => (e.leaseUntil?.getTime() ?? 0) > wallNow || e.deleted).map((e) => e._id));
  stale = stale.filter((l) => !delivered.has(l._id) && !busy.has(l._id));
  if (stale.length === 0) return { examined: page.length, cursor: next };

  // 4. the outbox entry, as read (a worker claiming it or the drain re-enqueueing moves its version)
  const entryOf = new Map(entries.filter((e) => !busy.has(e._id)).map((e) => [e._id, e]));
  const ownEntries = stale.flatMap((l) => (entryOf.has(l._id) ? [entryOf.get(l._id)!] : []));
  if (ownEntries.length) {
    const r = await db.collection<{ _id: string; v?: number }>(LEAD_OUTBOX).bulkWrite(ownEntries.map((e) => ({ deleteOne: { filter: { _id: e._id, v: e.v ?? null } as never } })), { ordered: false });
    counts.lead_outbox += r.deletedCount;
    const kept = new Set((await db.collection<{ _id: string }>(LEAD_OUTBOX).find({ _id: { $in: ownEntries.map((e) => e._id) } }, { projection: { _id: 1 } }).toArray()).map((e) => e._id));
    stale = stale.filter((l) => !kept.has(l._id));
  }

  // 5. the lead key, if it still names this lead, as read (a drain resolving the key moves `lastAt`)
  const keys = db.collection<{ _id: string; leadId: string; lastAt: Date }>(COLLECTIONS.leadKeys);
  const byId = new Map(stale.map((l) => [l._id, l]));
  const keyId = (l: LeadCandidate) => `${l.siteId}|${l.email}`;
  const ownKeys = (await keys.find({ _id: { $in: [...new Set(stale.map(keyId))] } }).toArray()).filter((k) => {
    const lead = byId.get(k.leadId);
    return lead !== undefined && keyId(lead) === k._id;
  });
  if (ownKeys.length) {
    const r = await keys.bulkWrite(ownKeys.map((k) => ({ deleteOne: { filter: { _id: k._id, leadId: k.leadId, lastAt: k.lastAt } } })), { ordered: false });
    counts.lead_keys += r.deletedCount;
    const deletedFor = new Map(ownKeys.map((k) => [k._id, k.leadId]));
    const touched = new Set((await keys.find({ _id: { $in: ownKeys.map((k) => k._id) } }).toArray()).filter((k) => deletedFor.get(k._id) === k.leadId).map((k) => k.leadId));
    stale = stale.filter((l) => !touched.has(l._id));
  }
  if (stale.length === 0) return { examined: page.length, cursor: next };

  // 6. the lead, as read
  const r = await leads.bulkWrite(stale.map((l) => ({ deleteOne: { filter: { _id: l._id, v: l.v ?? null } as never } })), { ordered: false });
  counts.leads += r.deletedCount;
  const remaining = new Set((await leads.find({ _id: { $in: stale.map((l) => l._id) } }, { projection: { _id: 1 } }).toArray()).map((l) => l._id));
  const gone = new Set(stale.filter((l) => !remaining.has(l._id)).map((l) => l._id));

  // 7. its delivery statuses (failed or never sent: a delivered lead is not deleted)
  const statusIds = statuses.filter((s) => gone.has(s.leadId)).map((s) => s._id);
  if (statusIds.length) counts.delivery_status += (await db.collection<{ _id: string }>(DELIVERY_STATUS).deleteMany({ _id: { $in: statusIds } })).deletedCount;
  return { examined: page.length, cursor: next };
}

/**
 * One bounded step: at most `batchSize` expired events, sessions, rollups and finished finalizer runs deleted, and
 * one page of `batchSize` lead candidates examined (from `leadCursor`). Idempotent and safe to run concurrently
 * (with itself, the drain, the TTL monitor): every delete names what it read.
 */
export async function sweepRetention(opts: SweepOptions): Promise<SweepResult> {
  const { db } = opts;
  const now = opts.now ?? new Date();
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const parts = new Set<SweepPart>(opts.parts ?? SWEEP_PARTS);
  const deleted = zeroCounts();
  const pending: SweepPart[] = [];
  for (const [part, versioned] of [
    [COLLECTIONS.events, false],
    [COLLECTIONS.sessions, true],
    [COLLECTIONS.rollups, true],
    // team activity: raw events, and the rollups (read-modify-written by {_id, v}: one a late event raised stays)
    [COLLECTIONS.activityEvents, false],
    [COLLECTIONS.activityDays, true],
    [COLLECTIONS.activityTeam, true],
    [COLLECTIONS.activityTeamPages, true],
  ] as const) {
    if (!parts.has(part)) continue;
    const r = await sweepExpiring(db, part, now, batchSize, versioned);
    deleted[part] = r.deleted;
    if (r.full) pending.push(part);
  }
  if (parts.has("rollup_runs")) {
    const runs = await sweepRollupRuns(db, now, batchSize);
    deleted.rollup_runs = runs.deleted;
    if (runs.full) pending.push("rollup_runs");
  }
  let leads = { examined: 0, cursor: null as string | null };
  if (parts.has("leads")) {
    leads = await sweepLeads(db, now, batchSize, opts.leadCursor ?? null, deleted);
    if (leads.cursor !== null) pending.push("leads");
  }
  return { deleted, leadsExamined: leads.examined, leadCursor: leads.cursor, more: pending.length > 0, pending };
}

interface SweepState {
  _id: string;
  v: number;
  owner: string;
  /** The lease: no other backend starts a sweep before this (renewed while running; after a run, the next one's due time). */
  until: Date;
  lastRunAt?: Date;
  lastRun?: SweepCounts & { ms: number; steps: number };
}

export interface RetentionSweepOptions {
  db: Db;
  log?: (msg: string, fields?: Record<string, unknown> & { level?: "debug" | "info" | "warn" | "error" }) => void;
  /** Time between sweeps (across every backend sharing the database). Default 10 minutes. */
  intervalMs?: number;
  /** The clock, epoch ms (tests pass their own). */
  now?: () => number;
  batchSize?: number;
  /** Before the first sweep. Default: a random part of a minute, so replicas started together do not collide. */
  initialDelayMs?: number;
  /** How long the lease outlives its last renewal (one per step) when the holder stops answering. Default 60 s. */
  leaseMs?: number;
  /** Steps per run at most (a safety cap; a run normally ends when it has caught up). Default 10,000. */
  maxStepsPerRun?: number;
}

export interface RetentionSweeper {
  stop(): Promise<void>;
  /** When a sweep last finished, on this backend or another one sharing the database; null: none known yet. */
  readonly lastRunAt: Date | null;
  /** The last failure of this backend's loop, cleared by the next success. */
  readonly lastError: string | null;
  /** What this backend's last own run deleted, per collection. */
  readonly lastRun: (SweepCounts & { ms: number; steps: number }) | null;
  /** Runs one sweep now (if no other backend holds the lease); resolves when it is done. For tests and operators. */
  runOnce(): Promise<boolean>;
}

const STATE_ID = "sweep";

/** Takes the lease if no one holds it and the next sweep is due; false otherwise. */
async function claim(db: Db, owner: string, nowMs: number, leaseMs: number): Promise<{ claimed: boolean; lastRunAt: Date | null }> {
  const state = db.collection<SweepState>(RETENTION_STATE);
  const current = await state.findOne({ _id: STATE_ID });
  const until = new Date(nowMs + leaseMs);
  if (!current) {
    try {
      await state.insertOne({ _id: STATE_ID, v: 1, owner, until });
      return { claimed: true, lastRunAt: null };
    } catch (err) {
      if ((err as { code?: number }).code === DUPLICATE_KEY) return { claimed: false, lastRunAt: null };
      throw err;
    }
  }
  if ((current.until?.getTime() ?? 0) > nowMs) return { claimed: false, lastRunAt: current.lastRunAt ?? null };
  const r = await state.updateOne({ _id: STATE_ID, v: current.v }, { $set: { owner, until }, $inc: { v: 1 } });
  return { claimed: r.modifiedCount === 1, lastRunAt: current.lastRunAt ?? null };
}

/**
 * Sweeps every `intervalMs` until stopped: each run repeats bounded steps until caught up (or `maxStepsPerRun`), so
 * a backlog (a first run on a server that never expired anything) is worked off in one run, in batches, while the
 * drain keeps writing. Failures are logged and retried after a minute (or the interval, if shorter).
 */
export function startRetentionSweep(opts: RetentionSweepOptions): RetentionSweeper {
  const { db, log } = opts;
  const intervalMs = opts.intervalMs ?? 10 * 60_000;
  const clock = opts.now ?? Date.now;
  const leaseMs = opts.leaseMs ?? 60_000;
  const maxSteps = opts.maxStepsPerRun ?? 10_000;
  const owner = randomUUID();
  const state = db.collection<SweepState>(RETENTION_STATE);
  let stopped = false;
  let lastRunAt: Date | null = null;
  let lastError: string | null = null;
  let lastRun: RetentionSweeper["lastRun"] = null;
  let running: Promise<boolean> | null = null;

  const run = async (): Promise<boolean> => {
    const startedAt = clock();
    const lease = await claim(db, owner, startedAt, leaseMs);
    if (!lease.claimed) {
      lastRunAt = lease.lastRunAt ?? lastRunAt;
      return false;
    }
    const totals = zeroCounts();
    let cursor: string | null = null;
    let parts: readonly SweepPart[] = SWEEP_PARTS;
    let steps = 0;
    for (;;) {
      const r = await sweepRetention({ db, now: new Date(clock()), ...(opts.batchSize ? { batchSize: opts.batchSize } : {}), leadCursor: cursor, parts });
      steps++;
      for (const k of Object.keys(totals) as (keyof SweepCounts)[]) totals[k] += r.deleted[k];
      cursor = r.leadCursor;
      parts = r.pending;
      if (!r.more || stopped || steps >= maxSteps) break;
      const renewed = await state.updateOne({ _id: STATE_ID, owner }, { $set: { until: new Date(clock() + leaseMs) }, $inc: { v: 1 } });
      if (renewed.modifiedCount !== 1) {
        log?.("retention sweep: lease lost, another backend goes on", { level: "warn", steps });
        break;
      }
    }
    const finishedAt = clock();
    lastRun = { ...totals, ms: finishedAt - startedAt, steps };
    lastRunAt = new Date(finishedAt);
    // the next sweep is due one interval after this one began, whichever backend takes it
    await state.updateOne({ _id: STATE_ID, owner }, { $set: { until: new Date(startedAt + intervalMs), lastRunAt, lastRun }, $inc: { v: 1 } });
    const removed = Object.values(totals).reduce((a, b) => a + b, 0);
    log?.("retention sweep", { level: removed ? "info" : "debug", ...lastRun });
    return true;
  };

  const runOnce = (): Promise<boolean> => {
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };

  let wake = (): void => {};
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    await sleep(opts.initialDelayMs ?? Math.floor(Math.random() * Math.min(intervalMs, 60_000)));
    while (!stopped) {
      let wait = intervalMs;
      try {
        await runOnce();
        lastError = null;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        wait = Math.min(intervalMs, 60_000);
        log?.("retention sweep failed", { level: "warn", error: lastError });
      }
      if (!stopped) await sleep(wait);
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
      await running?.catch(() => undefined);
    },
    get lastRunAt() {
      return lastRunAt;
    },
    get lastError() {
      return lastError;
    },
    get lastRun() {
      return lastRun;
    },
    runOnce,
  };
}
