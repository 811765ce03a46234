/**
 * Lead reads in the audit trail, aggregated rather than one entry per read. A dashboard reads leads all day (every
 * list page, every lead opened, every timeline page); an entry per read would make the trail mostly reads and
 * cost a MariaDB write per GET. Reads change nothing, so what the trail needs is who read how much of which
 * location when: counts per (tenant, location, user, hour), kept in memory and written as `leads.read` entries
 * every interval (60 s) and on shutdown, all of one flush in one INSERT.
 *
 * An entry says: this user read leads of this location `reads` times between `from` and `to` (within `hour`),
 * seeing `leads` distinct leads (distinct within the entry; `leadsCapped` when the set hit its bound and the count
 * is a lower bound), split by kind (list pages, lead pages, timeline pages). Lead ids are not kept: the count is
 * the point, and ids of erased leads have no place in an append-only table.
 *
 * The trade-off: a crash (SIGKILL, OOM) loses the reads of at most one interval; a failed write keeps the counts
 * and tries again at the next interval (bounded, see `maxPending`). Changes, exports, erasures and replays are never
 * aggregated: they are written before (or with) what they record.
 */
import { writeAuditMany, type AuditEntry, type AuditWriter } from "./audit.ts";

export type ReadKind = "list" | "detail" | "timeline";

/** Who read: the principal's tenant, id and role. */
export interface LeadReader {
  tenantId: string;
  userId: string;
  role: string;
}

export interface LeadReadAuditOptions {
  /** How often pending counts are written. Default 60 s. */
  intervalMs?: number;
  /** The clock (tests). */
  now?: () => number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Distinct lead ids remembered per entry; above it `leads` is a lower bound. Default 10,000. */
  maxLeadsPerEntry?: number;
  /** Pending entries kept while MariaDB cannot take them; the oldest beyond it are dropped (and logged). Default 50,000. */
  maxPending?: number;
}

interface Bucket {
  tenantId: string;
  locationId: string | null;
  userId: string;
  role: string;
  hour: number;
  reads: number;
  kinds: Record<ReadKind, number>;
  leads: Set<string>;
  capped: boolean;
  first: number;
  last: number;
}

const HOUR_MS = 3_600_000;

export class LeadReadAudit {
  readonly intervalMs: number;
  private readonly db: AuditWriter;
  private readonly now: () => number;
  private readonly maxLeads: number;
  private readonly maxPending: number;
  private log: (msg: string, fields?: Record<string, unknown>) => void;
  private pending = new Map<string, Bucket>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<number> = Promise.resolve(0);
  private stopped = false;
  /** Entries dropped because MariaDB could not take them for too long (or the pool was closed). */
  dropped = 0;

  constructor(db: AuditWriter, opts: LeadReadAuditOptions = {}) {
    this.db = db;
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.maxLeads = opts.maxLeadsPerEntry ?? 10_000;
    this.maxPending = opts.maxPending ?? 50_000;
    this.log = opts.log ?? ((msg, fields) => console.error(msg, fields ?? {}));
  }

  setLog(log: (msg: string, fields?: Record<string, unknown>) => void): void {
    this.log = log;
  }

  /** Counts one read of `leadIds` (possibly none: an empty list page is still a read) in `locationId`. */
  record(who: LeadReader, locationId: string | null, leadIds: readonly string[], kind: ReadKind): void {
    if (this.stopped) return;
    const at = this.now();
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    const key = `${who.tenantId}|${locationId ?? ""}|${who.userId}|${hour}`;
    let b = this.pending.get(key);
    if (!b) {
      if (this.pending.size >= this.maxPending) {
        this.dropped++;
        return;
      }
      b = { tenantId: who.tenantId, locationId, userId: who.userId, role: who.role, hour, reads: 0, kinds: { list: 0, detail: 0, timeline: 0 }, leads: new Set(), capped: false, first: at, last: at };
      this.pending.set(key, b);
    }
    b.reads++;
    b.kinds[kind]++;
    b.last = Math.max(b.last, at);
    for (const id of leadIds) {
      if (b.leads.size >= this.maxLeads && !b.leads.has(id)) b.capped = true;
      else b.leads.add(id);
    }
    this.start();
  }

  /** Entries waiting for the next flush. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Writes every pending count as `leads.read` entries (one INSERT), and answers how many. On failure the counts
   * are kept for the next flush and the error is thrown; flushes never overlap.
   */
  flush(): Promise<number> {
    this.flushing = this.flushing.catch(() => 0).then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const taken = this.pending;
    this.pending = new Map();
    try {
      await writeAuditMany(this.db, [...taken.values()].map(entryOf));
      return taken.size;
    } catch (err) {
      if (poolClosed(err)) {
        this.dropped += taken.size;
        this.log("audit: lead reads dropped, the database pool is closed", { entries: taken.size });
        return 0;
      }
      this.restore(taken);
      throw err;
    }
  }

  /** Puts counts that could not be written back in front of the ones gathered meanwhile. */
  private restore(taken: Map<string, Bucket>): void {
    const merged = taken;
    for (const [key, b] of this.pending) {
      const old = merged.get(key);
      if (!old) {
        merged.set(key, b);
        continue;
      }
      old.reads += b.reads;
      for (const k of Object.keys(b.kinds) as ReadKind[]) old.kinds[k] += b.kinds[k];
      for (const id of b.leads) {
        if (old.leads.size >= this.maxLeads && !old.leads.has(id)) old.capped = true;
        else old.leads.add(id);
      }
      old.capped ||= b.capped;
      old.first = Math.min(old.first, b.first);
      old.last = Math.max(old.last, b.last);
    }
    while (merged.size > this.maxPending) {
      merged.delete(merged.keys().next().value!);
      this.dropped++;
    }
    this.pending = merged;
  }

  /** Flushes every `intervalMs` (the timer does not keep the process alive). Called by the first read. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => {
        this.log("audit: lead reads not written, kept for the next interval", { error: err instanceof Error ? err.message : String(err), pending: this.pending.size });
      });
    }, this.intervalMs);
    this.timer.unref?.();
  }

  /**
   * Stops the timer and writes what is pending (call before closing the pool; never throws: a failure is logged);
   * later reads are not counted.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch((err: unknown) => {
      this.log("audit: lead reads lost at shutdown, the database did not take them", { error: err instanceof Error ? err.message : String(err), entries: this.pending.size });
    });
  }
}

function entryOf(b: Bucket): AuditEntry {
  return {
    tenantId: b.tenantId,
    locationId: b.locationId,
    actor: { userId: b.userId, role: b.role },
    action: "leads.read",
    targetType: "lead",
    targetId: null,
    meta: {
      hour: new Date(b.hour).toISOString(),
      from: new Date(b.first).toISOString(),
      to: new Date(b.last).toISOString(),
      reads: b.reads,
      leads: b.leads.size,
      ...(b.capped ? { leadsCapped: true } : {}),
      kinds: b.kinds,
    },
  };
}

function poolClosed(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === "POOL_CLOSED" || /Pool is closed/i.test(String((e as { message?: unknown }).message))) return true;
  }
  return false;
}

const registry = new WeakMap<object, LeadReadAudit>();

/**
 * The one aggregator of a database handle (the process's MariaDB pool): the lead routes record into it, and the
 * process stops it (flushing) before it closes the pool. The first caller's options apply; a later `log` replaces
 * the logger.
 */
export function leadReadAudit(db: AuditWriter, opts: LeadReadAuditOptions = {}): LeadReadAudit {
  let audit = registry.get(db);
  if (!audit) {
    audit = new LeadReadAudit(db, opts);
    registry.set(db, audit);
  } else if (opts.log) audit.setLog(opts.log);
  return audit;
}
