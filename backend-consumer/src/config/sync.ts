/**
 * Config sync: MariaDB change rows → compiled site config → Workers KV. At-least-once and idempotent: change rows
 * are marked processed only after KV accepted the writes, so a crash at any moment repeats work but never loses
 * it; content already in KV (same hash) is not rewritten. Versions only grow per site key.
 *
 * Sites are compiled one by one: a site whose rows cannot be compiled (a direct SQL edit) is quarantined with the
 * reason (table `config_quarantine`, shown on the site by the admin API, logged once), keeps its last good config
 * at the edge, and costs no other site its sync. Database and KV failures back off with jitter.
 *
 * Rotated-out keys (site_keys.grace_until in the future) get their site's current config too, marked `validUntil`
 * so the edge stops them by itself at the grace end; a change of a site reaches its grace keys in the same pass.
 * Once a second the sync also deletes the entries of grace keys whose period has ended (kv_sync_state says which are
 * still present); the full reconcile repairs anything missed (it lists grace keys as wanted, every other stray key
 * as unwanted).
 */
import { and, asc, eq, gt, inArray, isNull, lte, ne, sql } from "drizzle-orm";
import { configKey, type SiteConfig } from "#contracts";
import { compileSiteConfig, contentHash, loadKeyBundle } from "./compile.ts";
import type { ConfigDb } from "./db.ts";
import type { KvClient } from "./kv-client.ts";
import { configChanges, configQuarantine, kvSyncState, siteKeys, sites } from "./schema.ts";

export interface SyncDeps {
  db: ConfigDb;
  kv: Pick<KvClient, "bulkPut" | "bulkDelete" | "listKeys" | "get">;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Workers KV accepts one write per second per key; keys written more recently wait for the next pass. */
  minWriteIntervalMs?: number;
  now?: () => number;
}

export interface SyncResult {
  changes: number;
  written: string[];
  deleted: string[];
  deferred: string[];
}

type SyncState = typeof kvSyncState.$inferSelect;
/** What KV should hold for a key (config null: the key must not exist), and what the sync last recorded for it. */
type Plan = { key: string; siteKey: string; config: SiteConfig | null; hash: string; previous: SyncState | undefined };

const lastWrite = new WeakMap<SyncDeps["kv"], Map<string, number>>();

async function syncState(db: ConfigDb, siteKeys: string[]) {
  if (siteKeys.length === 0) return new Map<string, SyncState>();
  const rows = await db.select().from(kvSyncState).where(inArray(kvSyncState.siteKey, siteKeys));
  return new Map(rows.map((r) => [r.siteKey, r]));
}

/** Why a site's rows do not compile, in a line an operator can act on. */
function compileFailure(err: unknown): string {
  const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  const text = issues?.length
    ? issues.slice(0, 5).map((i) => `${i.path.map(String).join(".") || "config"}: ${i.message}`).join("; ")
    : err instanceof Error ? err.message : String(err);
  return text.slice(0, 2000);
}

/**
 * Compiles what KV should hold for each site key (null: the key must not exist). A site that does not compile is
 * left out of the plans and listed in `quarantined` instead.
 */
async function plan(db: ConfigDb, versions: Map<string, number>, now: number): Promise<{ plans: Plan[]; quarantined: Map<string, string> }> {
  const state = await syncState(db, [...versions.keys()]);
  const plans: Plan[] = [];
  const quarantined = new Map<string, string>();
  for (const [siteKey, changeId] of versions) {
    // a rotated-out key in its grace period serves its site's current config (marked validUntil) until the end
    const bundle = await loadKeyBundle(db, siteKey, new Date(now));
    const previous = state.get(siteKey);
    if (!bundle || !bundle.site.active) {
      plans.push({ key: configKey(siteKey), siteKey, config: null, hash: "", previous });
      continue;
    }
    let draft: SiteConfig;
    try {
      draft = compileSiteConfig(bundle, Math.max(changeId, 1));
    } catch (err) {
      quarantined.set(siteKey, compileFailure(err));
      continue;
    }
    const hash = contentHash(draft);
    // A change row committed late can carry a smaller id than one already synced: never let a version go down.
    const version = previous?.present && previous.hash === hash ? previous.version : Math.max(changeId, (previous?.version ?? 0) + 1);
    plans.push({ key: configKey(siteKey), siteKey, config: { ...draft, version }, hash, previous });
  }
  return { plans, quarantined };
}

/**
 * Records which of the planned sites are quarantined and which are healthy again. Logs only what changed (a new
 * quarantine, a new reason, a recovery), so a site that stays broken is logged once, not on every pass.
 */
async function recordQuarantine(deps: SyncDeps, planned: string[], quarantined: Map<string, string>): Promise<void> {
  if (planned.length === 0) return;
  const rows = await deps.db.select().from(configQuarantine).where(inArray(configQuarantine.siteKey, planned));
  const current = new Map(rows.map((r) => [r.siteKey, r.reason]));
  for (const [siteKey, reason] of quarantined) {
    if (current.get(siteKey) === reason) continue;
    await deps.db
      .insert(configQuarantine)
      .values({ siteKey, reason })
      .onDuplicateKeyUpdate({ set: { reason, since: sql`CURRENT_TIMESTAMP(3)` } });
    deps.log?.("site config quarantined: its last good config stays at the edge", { siteKey, reason });
  }
  const recovered = planned.filter((k) => current.has(k) && !quarantined.has(k));
  if (recovered.length) {
    await deps.db.delete(configQuarantine).where(inArray(configQuarantine.siteKey, recovered));
    deps.log?.("site config recovered from quarantine", { siteKeys: recovered });
  }
}

/** Writes the plans to KV (skipping what the recorded state says is already there) and records the new state. */
async function apply(deps: SyncDeps, plans: Plan[], force: boolean): Promise<{ written: string[]; deleted: string[] }> {
  const puts = plans.filter((p) => p.config && (force || p.previous?.hash !== p.hash || !p.previous?.present));
  const deletes = plans.filter((p) => !p.config && (force || p.previous?.present !== false));
  if (puts.length) await deps.kv.bulkPut(puts.map((p) => ({ key: p.key, value: JSON.stringify(p.config) })));
  if (deletes.length) await deps.kv.bulkDelete(deletes.map((p) => p.key));
  const touched = [...puts, ...deletes];
  const stamp = (deps.now ?? Date.now)();
  const writes = lastWrite.get(deps.kv) ?? new Map<string, number>();
  lastWrite.set(deps.kv, writes);
  for (const p of touched) {
    writes.set(p.siteKey, stamp);
    const row = { siteKey: p.siteKey, version: p.config?.version ?? 0, hash: p.hash, present: p.config !== null };
    await deps.db
      .insert(kvSyncState)
      .values(row)
      .onDuplicateKeyUpdate({ set: { version: row.version, hash: row.hash, present: row.present, syncedAt: sql`CURRENT_TIMESTAMP(3)` } });
  }
  return { written: puts.map((p) => p.siteKey), deleted: deletes.map((p) => p.siteKey) };
}

/** One pass over pending change rows. Returns what it did; call it in a loop. */
export async function syncPending(deps: SyncDeps, batchSize = 500): Promise<SyncResult> {
  const pending = await deps.db
    .select({ id: configChanges.id, siteKey: configChanges.siteKey })
    .from(configChanges)
    .where(isNull(configChanges.processedAt))
    .orderBy(asc(configChanges.id))
    .limit(batchSize);
  const now = (deps.now ?? Date.now)();
  const expired = await dueGraceEnds(deps, now);
  if (pending.length === 0 && expired.length === 0) return { changes: 0, written: [], deleted: [], deferred: [] };

  const minInterval = deps.minWriteIntervalMs ?? 1000;
  const writes = lastWrite.get(deps.kv);
  const recent = (siteKey: string) => writes !== undefined && now - (writes.get(siteKey) ?? -Infinity) < minInterval;
  const versions = new Map<string, number>();
  const deferred = new Set<string>();
  for (const row of pending) {
    if (recent(row.siteKey)) deferred.add(row.siteKey);
    else versions.set(row.siteKey, Math.max(versions.get(row.siteKey) ?? 0, row.id));
  }
  // A site's change reaches its rotated-out keys still in their grace period too (their own change rows name only
  // the current key). Where one of them was written too recently, the whole site waits for the next pass.
  for (const [siteKey, graceKeys] of await graceKeysOf(deps.db, [...versions.keys()], now)) {
    if (graceKeys.some(recent)) {
      versions.delete(siteKey);
      deferred.add(siteKey);
      continue;
    }
    for (const key of graceKeys) versions.set(key, Math.max(versions.get(key) ?? 0, versions.get(siteKey)!));
  }
  // Grace periods that have ended: the edge already refuses those keys by its own clock; their entries go now.
  for (const key of expired) if (!versions.has(key) && !deferred.has(key) && !recent(key)) versions.set(key, 1);
  const { plans, quarantined } = await plan(deps.db, versions, now);
  const result = await apply(deps, plans, false);
  await recordQuarantine(deps, [...versions.keys()], quarantined);
  const done = pending.filter((r) => versions.has(r.siteKey)).map((r) => r.id);
  if (done.length) {
    await deps.db.update(configChanges).set({ processedAt: sql`CURRENT_TIMESTAMP(3)` }).where(inArray(configChanges.id, done));
  }
  if (result.written.length || result.deleted.length) deps.log?.("config synced", { written: result.written, deleted: result.deleted });
  return { changes: done.length, ...result, deferred: [...deferred] };
}

/**
 * Full reconcile: recompiles every site and compares with what KV actually holds, rewriting drifted entries and
 * deleting keys of sites that are gone or inactive. Repairs anything the change feed missed.
 */
export async function reconcile(deps: SyncDeps): Promise<{ written: string[]; deleted: string[] }> {
  const now = (deps.now ?? Date.now)();
  const all = await deps.db.select({ siteKey: sites.siteKey }).from(sites);
  // rotated-out keys still in their grace period belong in KV too
  const inGrace = await deps.db.select({ siteKey: siteKeys.siteKey }).from(siteKeys).where(gt(siteKeys.graceUntil, new Date(now)));
  const maxId = await maxChangeId(deps.db);
  const versions = new Map([...all, ...inGrace].map((s) => [s.siteKey, maxId]));
  const inKv = (await deps.kv.listKeys("site:")).map((k) => k.slice("site:".length));
  for (const key of inKv) if (!versions.has(key)) versions.set(key, maxId);

  const { plans, quarantined } = await plan(deps.db, versions, now);
  await recordQuarantine(deps, [...versions.keys()], quarantined);
  const drifted: Plan[] = [];
  for (const p of plans) {
    const current = await deps.kv.get(p.key);
    if (p.config === null ? current !== null : current === null || contentHashOf(current) !== p.hash) drifted.push(p);
  }
  const result = drifted.length ? await apply(deps, drifted, true) : { written: [], deleted: [] };
  if (drifted.length) deps.log?.("config reconciled", result);
  return result;
}

async function maxChangeId(db: ConfigDb): Promise<number> {
  const [row] = (await db.select({ maxId: sql<number>`COALESCE(MAX(${configChanges.id}), 1)` }).from(configChanges)) as [{ maxId: number }];
  return Number(row.maxId);
}

/**
 * The rotated-out keys of the sites whose current keys are given, still in their grace period at `now`: current key →
 * its grace keys. One indexed join (sites by key, site_keys by site).
 */
async function graceKeysOf(db: ConfigDb, siteKeysNow: string[], now: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (siteKeysNow.length === 0) return out;
  const rows = await db
    .select({ current: sites.siteKey, graceKey: siteKeys.siteKey })
    .from(sites)
    .innerJoin(siteKeys, eq(siteKeys.siteId, sites.id))
    .where(and(inArray(sites.siteKey, siteKeysNow), gt(siteKeys.graceUntil, new Date(now)), ne(siteKeys.siteKey, sites.siteKey)));
  for (const { current, graceKey } of rows) out.set(current, [...(out.get(current) ?? []), graceKey]);
  return out;
}

/** How often a sync looks for grace periods that have ended (their KV entries are then deleted). */
export const GRACE_END_CHECK_MS = 1000;
const lastGraceCheck = new WeakMap<SyncDeps["kv"], number>();

/**
 * Rotated-out keys whose grace period has ended by `now` while KV still holds their entry (per kv_sync_state),
 * looked for at most every GRACE_END_CHECK_MS. The reconcile deletes any the state does not know about.
 */
async function dueGraceEnds(deps: SyncDeps, now: number): Promise<string[]> {
  const last = lastGraceCheck.get(deps.kv);
  if (last !== undefined && now - last < GRACE_END_CHECK_MS && now >= last) return [];
  lastGraceCheck.set(deps.kv, now);
  const rows = await deps.db
    .select({ siteKey: siteKeys.siteKey })
    .from(siteKeys)
    .innerJoin(kvSyncState, eq(kvSyncState.siteKey, siteKeys.siteKey))
    .where(and(lte(siteKeys.graceUntil, new Date(now)), eq(kvSyncState.present, true)));
  return rows.map((r) => r.siteKey);
}

function contentHashOf(stored: string): string {
  try {
    return contentHash(JSON.parse(stored) as SiteConfig);
  } catch {
    return "";
  }
}

/** Runs the sync loop until stopped: a pass every `intervalMs`, a full reconcile at start and every `reconcileMs`. */
export interface ConfigSyncHandle {
  stop(): Promise<void>;
  /** When a pass last finished without error (for readiness), or null. */
  readonly lastSuccessAt: number | null;
  readonly lastError: string | null;
  /** Passes that failed in a row since the last good one. */
  readonly consecutiveFailures: number;
}

export function startConfigSync(deps: SyncDeps, opts: { intervalMs?: number; reconcileMs?: number; maxBackoffMs?: number } = {}): ConfigSyncHandle {
  let stopped = false;
  let lastSuccessAt: number | null = null;
  let lastError: string | null = null;
  let lastReconcile = 0;
  let failures = 0;
  const interval = opts.intervalMs ?? 100;
  const done = (async () => {
    while (!stopped) {
      let wait = interval;
      try {
        if (Date.now() - lastReconcile > (opts.reconcileMs ?? 5 * 60_000)) {
          await reconcile(deps);
          lastReconcile = Date.now();
        }
        const result = await syncPending(deps);
        failures = 0;
        lastSuccessAt = Date.now();
        lastError = null;
        if (result.changes > 0 && result.deferred.length === 0) continue;
      } catch (err) {
        // MariaDB or KV unreachable: back off (doubling, with jitter, capped) rather than retrying every pass.
        failures++;
        lastError = err instanceof Error ? err.message : String(err);
        wait = syncBackoffMs(failures, interval, opts.maxBackoffMs ?? 30_000);
        deps.log?.("config sync failed", { error: err instanceof Error ? err.message : String(err), failures, retryInMs: Math.round(wait), level: "warn" });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
    },
    get lastSuccessAt() {
      return lastSuccessAt;
    },
    get lastError() {
      return lastError;
    },
    get consecutiveFailures() {
      return failures;
    },
  };
}

/** The wait after the n-th failure in a row: interval × 2^n, capped, times a random 0.5–1.5. */
export function syncBackoffMs(failures: number, intervalMs: number, maxMs: number, random = Math.random): number {
  return Math.min(maxMs, intervalMs * 2 ** failures) * (0.5 + random());
}
