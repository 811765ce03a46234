/**
 * Exactly one replica runs the KV sync at a time: it holds a MariaDB named lock (GET_LOCK) on a connection of its
 * own, and runs the sync only while it does. The lock dies with its connection, so when the holder crashes
 * (SIGKILL, lost host) MariaDB frees it at once and another replica takes it at its next try (every `checkMs`).
 * A new holder waits `settleMs` (the one-write-per-second-per-key window) before writing, so a key written by the
 * old holder just before it died is not written again within that second.
 */
import mysql, { type Connection } from "mysql2/promise";
import type { Log } from "../ops/log.ts";
import type { ConfigSyncHandle } from "./sync.ts";

export interface SyncLeaseHandle {
  /** Whether this replica holds the lease (and runs the sync) now. */
  readonly holding: boolean;
  /** The running sync, while holding. */
  readonly sync: ConfigSyncHandle | null;
  /** When the lease loop last reached MariaDB. */
  readonly lastCheckAt: number | null;
  stop(): Promise<void>;
}

export const SYNC_LOCK = "tracker_kv_sync";

export function runSyncWithLease(opts: { url: string; start: () => ConfigSyncHandle; log?: Log; checkMs?: number; settleMs?: number; lockName?: string }): SyncLeaseHandle {
  const checkMs = opts.checkMs ?? 2_000;
  const settleMs = opts.settleMs ?? 1_000;
  const lock = opts.lockName ?? SYNC_LOCK;
  let stopped = false;
  let conn: Connection | null = null;
  let sync: ConfigSyncHandle | null = null;
  let holding = false;
  let lastCheckAt: number | null = null;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const lose = async (why: string) => {
    if (holding) opts.log?.("kv sync lease lost", { reason: why, level: "warn" });
    holding = false;
    await sync?.stop();
    sync = null;
  };

  const done = (async () => {
    while (!stopped) {
      try {
        conn ??= await mysql.createConnection({ uri: opts.url, connectTimeout: 5_000 });
        if (!holding) {
          const [rows] = await conn.query("SELECT GET_LOCK(?, 0) AS got", [lock]);
          lastCheckAt = Date.now();
          if ((rows as { got: number | null }[])[0]?.got === 1) {
            holding = true;
            opts.log?.("kv sync lease acquired");
            await sleep(settleMs);
            if (!stopped) sync = opts.start();
          }
        } else {
          const [rows] = await conn.query("SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine", [lock]);
          lastCheckAt = Date.now();
          if ((rows as { mine: number | null }[])[0]?.mine !== 1) await lose("the lock is no longer ours");
        }
      } catch (err) {
        await lose(err instanceof Error ? err.message : String(err));
        conn?.destroy();
        conn = null;
      }
      if (!stopped) await sleep(checkMs);
    }
  })();

  return {
    get holding() {
      return holding;
    },
    get sync() {
      return sync;
    },
    get lastCheckAt() {
      return lastCheckAt;
    },
    async stop() {
      stopped = true;
      wake?.();
      await done;
      await sync?.stop();
      sync = null;
      if (conn) {
        await conn.query("SELECT RELEASE_LOCK(?)", [lock]).catch(() => undefined);
        await conn.end().catch(() => undefined);
      }
      holding = false;
    },
  };
}
