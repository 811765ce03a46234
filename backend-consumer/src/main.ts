/**
 * The backend process: MongoDB (events) and, when MARIADB_URL is set, the config plane (admin API and the KV
 * sync). Configuration comes from the environment; see README "Environment".
 */
import { serve } from "@hono/node-server";
import { createApi, DEFAULT_FRAME_ANCESTORS } from "./api/app.ts";
import { connectMariadb } from "./config/db.ts";
import { KvClient } from "./config/kv-client.ts";
import { processBatch } from "./drain/process-batch.ts";
import { storeQueueDeadLetters } from "./drain/dead-letter-queue.ts";
import { PullConsumer, type PullConsumerOptions } from "./drain/pull-client.ts";
import { startConfigSync } from "./config/sync.ts";
import { createMetrics } from "./ops/metrics.ts";
import { securitySettingsFromEnv } from "./ops/settings.ts";
import { sessionKeys } from "./api/session.ts";
import type { Db } from "mongodb";
import type { ConfigDb } from "./config/db.ts";
import { ConnectionStore } from "./crm/connections.ts";
import { loadConnectors } from "./crm/connectors/index.ts";
import { DestinationDirectory } from "./crm/directory.ts";
import { SecretBox } from "./crm/secret-box.ts";
import { DeliveryWorker } from "./crm/worker.ts";
import type { Metrics } from "./ops/metrics.ts";
import { startVisitFinalizer } from "./rollups/finalizer.ts";
import { connectMongo, ensureIndexes } from "./store/mongo.ts";

function log(msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ t: new Date().toISOString(), msg, ...fields }));
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function kvClientFromEnv(env: NodeJS.ProcessEnv): KvClient {
  return new KvClient({
    baseUrl: env.KV_API_URL ?? "https://api.cloudflare.com/client/v4",
    accountId: required(env, "CLOUDFLARE_ACCOUNT_ID"),
    namespaceId: required(env, "KV_NAMESPACE_ID"),
    apiToken: required(env, "CLOUDFLARE_API_TOKEN"),
  });
}

async function startCrm(env: NodeJS.ProcessEnv, db: Db, configDb: ConfigDb, metrics: Metrics) {
  const box = new SecretBox(env.DESTINATION_SECRET_KEY!);
  const connectors = await loadConnectors();
  const directory = new DestinationDirectory(configDb, box, connectors, log);
  const connections = new ConnectionStore(configDb, box, {
    ...(env.HIGHLEVEL_CLIENT_ID && env.HIGHLEVEL_CLIENT_SECRET
      ? { highlevel: { apiUrl: env.HIGHLEVEL_API_URL ?? "https://services.leadconnectorhq.com", clientId: env.HIGHLEVEL_CLIENT_ID, clientSecret: env.HIGHLEVEL_CLIENT_SECRET } }
      : {}),
  });
  const worker = new DeliveryWorker(
    { db, directory, connections, log, onOutcome: (kind, outcome) => metrics.recordDelivery(kind, outcome) },
    {
      ...(env.DELIVERY_MAX_ATTEMPTS ? { maxAttempts: Number(env.DELIVERY_MAX_ATTEMPTS) } : {}),
      ...(env.DELIVERY_BACKOFF_BASE_MS ? { backoffBaseMs: Number(env.DELIVERY_BACKOFF_BASE_MS) } : {}),
      ...(env.DELIVERY_BACKOFF_CAP_MS ? { backoffCapMs: Number(env.DELIVERY_BACKOFF_CAP_MS) } : {}),
      ...(env.DELIVERY_LEASE_MS ? { leaseMs: Number(env.DELIVERY_LEASE_MS) } : {}),
    },
  );
  worker.start();
  return { worker, deps: { box, connectors, directory, connections } };
}

export async function startBackend(env: NodeJS.ProcessEnv = process.env) {
  const security = securitySettingsFromEnv(env);
  const mongo = await connectMongo(required(env, "MONGODB_URI"), env.MONGODB_DB);
  await ensureIndexes(mongo.db);
  const metrics = createMetrics(mongo.db);
  const mariadb = env.MARIADB_URL ? connectMariadb(env.MARIADB_URL) : null;
  // KV_SYNC=off: a replica that only serves the API and delivers leads (one replica runs the sync)
  const sync = mariadb && env.KV_SYNC !== "off"
    ? startConfigSync(
        { db: mariadb.db, kv: kvClientFromEnv(env), log, minWriteIntervalMs: Number(env.KV_MIN_WRITE_INTERVAL_MS ?? 1000) },
        { intervalMs: Number(env.SYNC_INTERVAL_MS ?? 100), reconcileMs: Number(env.RECONCILE_INTERVAL_MS ?? 300_000) },
      )
    : null;
  // Production queue path: Cloudflare's HTTP pull API (locally, the dev sidecar pushes to /internal/queue instead).
  const pullFrom = (queueId: string, process: PullConsumerOptions["process"], concurrency: number): PullConsumer =>
    new PullConsumer({
      baseUrl: env.QUEUES_API_URL ?? "https://api.cloudflare.com/client/v4",
      accountId: required(env, "CLOUDFLARE_ACCOUNT_ID"),
      queueId,
      apiToken: required(env, "CLOUDFLARE_API_TOKEN"),
      batchSize: Number(env.PULL_BATCH_SIZE ?? 100),
      visibilityTimeoutMs: Number(env.PULL_VISIBILITY_TIMEOUT_MS ?? 30_000),
      concurrency,
      process,
      log,
    });
  const puller = env.CLOUDFLARE_QUEUE_ID
    ? pullFrom(
        env.CLOUDFLARE_QUEUE_ID,
        async (deliveries) => {
          const outcomes = await processBatch(deliveries, { db: mongo.db, queue: "tracker-events", log });
          metrics.recordOutcomes("tracker-events", outcomes);
          return outcomes;
        },
        Number(env.PULL_CONCURRENCY ?? 2),
      )
    : null;
  // What the queue gave up on goes into the dead-letter store, where `npm run dlq` finds it.
  const dlqPuller = env.CLOUDFLARE_DLQ_ID
    ? pullFrom(
        env.CLOUDFLARE_DLQ_ID,
        async (deliveries) => {
          const outcomes = await storeQueueDeadLetters(deliveries, { db: mongo.db, queue: "tracker-events-dlq" });
          metrics.recordOutcomes("tracker-events-dlq", outcomes.map((o) => ({ ...o, deadLettered: "queue" })));
          return outcomes;
        },
        1,
      )
    : null;
  puller?.start();
  dlqPuller?.start();
  // Visits are counted in the statistics once their session has been idle for the SDK's session timeout.
  const finalizer = startVisitFinalizer(
    { db: mongo.db, log, idleMs: Number(env.VISIT_IDLE_MS ?? 30 * 60_000) },
    { intervalMs: Number(env.VISIT_FINALIZE_INTERVAL_MS ?? 15_000) },
  );
  // CRM delivery: needs the config plane (destinations) and the key that seals their secrets
  const crm = mariadb && env.DESTINATION_SECRET_KEY ? await startCrm(env, mongo.db, mariadb.db, metrics) : null;
  if (mariadb && !crm) log("crm delivery off: set DESTINATION_SECRET_KEY (openssl rand -base64 32) to deliver leads");
  const app = createApi({
    db: mongo.db,
    configDb: mariadb?.db ?? null,
    internalToken: security.internalToken,
    auth: { ...security.auth, session: await sessionKeys(security.sessionSigningKey) },
    sso: security.sso,
    edgeUrl: env.EDGE_PUBLIC_URL ?? "",
    ...(crm ? { crm: crm.deps } : {}),
    ...(env.DASHBOARD_FRAME_ANCESTORS ? { frameAncestors: [...DEFAULT_FRAME_ANCESTORS, ...env.DASHBOARD_FRAME_ANCESTORS.split(/\s+/).filter(Boolean)] } : {}),
    log,
    metrics,
  });
  const port = Number(env.BACKEND_PORT ?? 8790);
  const server = serve({ fetch: app.fetch, port, hostname: env.BACKEND_HOST ?? "127.0.0.1" });
  log("backend listening", { port, configPlane: Boolean(mariadb), pullConsumer: Boolean(puller), deadLetterConsumer: Boolean(dlqPuller) });
  return {
    port,
    puller,
    /** Graceful: stop pulling and ack what is in hand, then close servers and connections. */
    async stop() {
      await Promise.all([puller?.stop(), dlqPuller?.stop()]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sync?.stop();
      await crm?.worker.stop();
      await finalizer.stop();
      await mariadb?.close();
      await mongo.close();
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  const backend = await startBackend();
  const shutdown = async (): Promise<void> => {
    log("shutting down");
    await backend.stop();
    log("stopped", backend.puller ? { ...backend.puller.stats } : {});
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
