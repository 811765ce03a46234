/** Runs the backend (backend-consumer/src/main.ts) as its own Node process, as it runs in production. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { ROOT, toolEnv } from "./paths.ts";
import { answersOk, waitUntil } from "./process.ts";

export interface BackendOptions {
  port: number;
  mongoUri: string;
  mongoDb?: string;
  mariadbUrl: string;
  internalToken: string;
  jwtSecret: string;
  /** The local KV REST API (the dev sidecar on the edge's port). */
  kvApiUrl: string;
  logFile: string;
  /** Extra environment, e.g. shorter sync intervals in tests. */
  env?: Record<string, string>;
}

export interface BackendHandle {
  url: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<BackendHandle> {
  const env = toolEnv({
    MONGODB_URI: opts.mongoUri,
    MARIADB_URL: opts.mariadbUrl,
    INTERNAL_TOKEN: opts.internalToken,
    // locally the dev sidecar pushes queue batches to /internal/queue
    LOCAL_QUEUE_CONSUMER: "true",
    JWT_SECRET: opts.jwtSecret,
    BACKEND_PORT: String(opts.port),
    KV_API_URL: opts.kvApiUrl,
    CLOUDFLARE_ACCOUNT_ID: "local",
    KV_NAMESPACE_ID: "local",
    CLOUDFLARE_API_TOKEN: opts.internalToken,
    ...(opts.mongoDb ? { MONGODB_DB: opts.mongoDb } : {}),
    ...opts.env,
  });
  const child = spawn(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "backend-consumer/src/main.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(opts.logFile, { flags: "a" });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const url = `http://127.0.0.1:${opts.port}`;
  const stop = (signal: NodeJS.Signals = "SIGTERM"): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  try {
    // live; ready (/readyz) only once the edge it syncs config to is up too, which the stack waits for
    await waitUntil(() => answersOk(`${url}/healthz`), 30_000, `the backend to answer (see ${opts.logFile})`, child);
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  }
  return { url, child, stop };
}
