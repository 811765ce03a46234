/**
 * The whole local stack in one call: services (unless MARIADB_URL / MONGODB_URI), the backend, the edge on
 * miniflare with the dev queue consumer, and the demo page. `npm start`, the integration tests and the benchmarks
 * all use this, each with its own ports and data dir.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startBackend, type BackendHandle } from "./backend.ts";
import { startDemo } from "./demo.ts";
import { startEdge, type EdgeHandle } from "./edge.ts";
import { ensureMariadb } from "./mariadb.ts";
import { ensureMongo } from "./mongo.ts";
import type { ServiceHandle } from "./process.ts";

export interface StackPorts {
  worker: number;
  demo: number;
  backend: number;
  mariadb: number;
  mongo: number;
}

export interface StackOptions {
  dataDir: string;
  ports: StackPorts;
  /** MongoDB database name; tests use their own so they never touch the dev data. */
  mongoDb: string;
  siteKey?: string;
  batchTimeout?: number;
  maxRetries?: number;
}

export interface Stack {
  mariadb: ServiceHandle;
  mongo: ServiceHandle;
  backend: BackendHandle;
  edge: EdgeHandle;
  demoUrl: string;
  internalToken: string;
  /** Restarts the backend process (for crash and recovery tests). */
  restartBackend(): Promise<BackendHandle>;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error("stop failed:", e));
    stops.length = 0;
  };
  try {
    const [mariadb, mongo] = await Promise.all([
      ensureMariadb({ port: opts.ports.mariadb, dataDir: join(opts.dataDir, "mariadb") }),
      ensureMongo({ port: opts.ports.mongo, dataDir: join(opts.dataDir, "mongo") }),
    ]);
    stops.push(() => mariadb.stop(), () => mongo.stop());

    const internalToken = randomBytes(24).toString("hex");
    const backendOpts = {
      port: opts.ports.backend,
      mongoUri: mongo.url,
      mongoDb: opts.mongoDb,
      internalToken,
      logFile: join(opts.dataDir, "backend.log"),
    };
    const stack = { backend: await startBackend(backendOpts) } as { backend: BackendHandle };
    stops.push(() => stack.backend.stop());

    const edge = await startEdge({
      port: opts.ports.worker,
      dataDir: opts.dataDir,
      backendUrl: stack.backend.url,
      internalToken,
      batchTimeout: opts.batchTimeout,
      maxRetries: opts.maxRetries,
    });
    stops.push(() => edge.stop());

    const demo = await startDemo({ port: opts.ports.demo, edgeUrl: edge.url, siteKey: opts.siteKey ?? "demo-site" });
    stops.push(() => demo.stop());

    return {
      mariadb,
      mongo,
      get backend() {
        return stack.backend;
      },
      edge,
      demoUrl: demo.url,
      internalToken,
      async restartBackend() {
        await stack.backend.stop();
        stack.backend = await startBackend(backendOpts);
        return stack.backend;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
