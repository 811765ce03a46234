/**
 * The two databases, started together: MariaDB and the MongoDB-compatible server (each skipped when MARIADB_URL /
 * MONGODB_URI point elsewhere). If either fails, the one that did start is stopped before the error is thrown, so
 * a failed start never leaves a process behind.
 */
import { join } from "node:path";
import { ensureMariadb } from "./mariadb.ts";
import { ensureMongo } from "./mongo.ts";
import type { ServiceHandle } from "./process.ts";

export interface ServicesOptions {
  dataDir: string;
  ports: { mariadb: number; mongo: number };
  /** Keep MongoDB's documents in memory only (tests). */
  mongoMemory?: boolean;
}

export interface Services {
  mariadb: ServiceHandle;
  mongo: ServiceHandle;
  /** Stops what this call started (nothing that was already running). */
  stop(): Promise<void>;
}

/**
 * Starts every service in `starts` at once. When one fails, stops those that started, then throws the first
 * failure (a failure to stop is reported, not thrown over it).
 */
export async function startTogether<T extends Record<string, () => Promise<ServiceHandle>>>(
  starts: T,
): Promise<{ [K in keyof T]: ServiceHandle }> {
  const names = Object.keys(starts) as (keyof T)[];
  const results = await Promise.allSettled(names.map((n) => starts[n]!()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(
      results.map((r) => (r.status === "fulfilled" ? r.value.stop().catch((e: unknown) => console.error("stop failed:", e)) : undefined)),
    );
    throw failed.reason;
  }
  return Object.fromEntries(names.map((n, i) => [n, (results[i] as PromiseFulfilledResult<ServiceHandle>).value])) as {
    [K in keyof T]: ServiceHandle;
  };
}

export async function startServices(opts: ServicesOptions): Promise<Services> {
  const { mariadb, mongo } = await startTogether({
    mariadb: () => ensureMariadb({ port: opts.ports.mariadb, dataDir: join(opts.dataDir, "mariadb") }),
    mongo: () => ensureMongo({ port: opts.ports.mongo, dataDir: join(opts.dataDir, "mongo"), memory: opts.mongoMemory }),
  });
  return {
    mariadb,
    mongo,
    stop: async () => {
      await Promise.all([mongo.stop(), mariadb.stop()]);
    },
  };
}
