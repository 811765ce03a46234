/**
 * The visit finalizer: a visit's metrics (bounce, duration, entry page, source, conversion) are only known once it
 * is over, so visits are counted when their session has been idle for the SDK's session timeout (30 minutes).
 * Each pass claims a batch of finished sessions for a run id (`rollupRun` on the session, set only where absent, so
 * two replicas never claim the same session), records the run, applies the run's contributions guarded by its id,
 * and marks the run applied. A crash leaves a claimed run, which the next pass applies again: the guards make that
 * safe. Events that reach a session after it was counted change its stored counters, not its counted visit.
 */
import { randomBytes } from "node:crypto";
import type { Db } from "mongodb";
import { COLLECTIONS } from "../store/mongo.ts";
import type { SessionDocument } from "../store/sessions.ts";
import { Contributions, visitContributions } from "./contributions.ts";
import { applyContributions } from "./store.ts";

export interface FinalizerDeps {
  db: Db;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** A session idle this long is over (the SDK starts a new one after 30 minutes). */
  idleMs?: number;
  /** Sessions claimed per run. */
  batchSize?: number;
  now?: () => number;
}

interface RollupRun {
  _id: string;
  state: "claimed" | "applied";
  at: Date;
  sessions: number;
}

export const SESSION_IDLE_MS = 30 * 60_000;

/** Applies a run's contributions (again, if it was applied already: the guards skip what is there). */
async function applyRun(db: Db, runId: string): Promise<number> {
  const sessions = await db.collection<SessionDocument>(COLLECTIONS.sessions).find({ rollupRun: runId }).toArray();
  const contributions = new Contributions();
  for (const s of sessions) visitContributions(s, contributions);
  await applyContributions(db, new Map([[runId, contributions]]));
  await db.collection<RollupRun>(COLLECTIONS.rollupRuns).updateOne({ _id: runId }, { $set: { state: "applied" } });
  return sessions.length;
}

/** One pass: finishes runs a crash left claimed, then claims and counts one batch of finished visits. */
export async function finalizeVisits(deps: FinalizerDeps): Promise<{ visits: number; recovered: number }> {
  const now = (deps.now ?? Date.now)();
  const runs = deps.db.collection<RollupRun>(COLLECTIONS.rollupRuns);
  let recovered = 0;
  for (const stale of await runs.find({ state: "claimed", at: { $lt: new Date(now - 60_000) } }).limit(20).toArray()) {
    await applyRun(deps.db, stale._id);
    recovered++;
  }
  const sessions = deps.db.collection<SessionDocument>(COLLECTIONS.sessions);
  const due = await sessions
    .find({ rollupRun: { $exists: false }, endedAt: { $lt: new Date(now - (deps.idleMs ?? SESSION_IDLE_MS)) } }, { projection: { _id: 1 } })
    .limit(deps.batchSize ?? 2000)
    .toArray();
  if (due.length === 0) return { visits: 0, recovered };
  const runId = `r${now.toString(36)}${randomBytes(6).toString("hex")}`;
  await runs.insertOne({ _id: runId, state: "claimed", at: new Date(now), sessions: due.length });
  await sessions.updateMany({ _id: { $in: due.map((d) => d._id) }, rollupRun: { $exists: false } }, { $set: { rollupRun: runId } });
  const visits = await applyRun(deps.db, runId);
  return { visits, recovered };
}

/** Runs passes until stopped: at once while there is a backlog, every `intervalMs` otherwise. */
export function startVisitFinalizer(deps: FinalizerDeps, opts: { intervalMs?: number } = {}) {
  let stopped = false;
  let failures = 0;
  let wake = (): void => {};
  const done = (async () => {
    while (!stopped) {
      let wait = opts.intervalMs ?? 15_000;
      try {
        const { visits } = await finalizeVisits(deps);
        failures = 0;
        if (visits >= (deps.batchSize ?? 2000)) continue;
      } catch (err) {
        failures++;
        wait = Math.min(60_000, wait * 2 ** Math.min(failures, 4));
        deps.log?.("visit finalizer failed", { error: err instanceof Error ? err.message : String(err), failures });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      await done;
    },
  };
}
