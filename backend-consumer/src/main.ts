/**
 * The backend process: MongoDB (events) and, when MARIADB_URL is set, the config plane (admin and read APIs, the
 * dashboard, the KV sync, CRM delivery). Configuration is the environment, validated once at start (ops/config.ts;
 * README "Backend configuration"); logs are JSON lines (ops/log.ts).
 */
import { serve } from "@hono/node-server";
import { sql } from "drizzle-orm";
import type { Db } from "mongodb";
import { createApi, DEFAULT_FRAME_ANCESTORS, type ReadinessPart } from "./api/app.ts";
import { sessionKeys } from "./api/session.ts";
import { actorKeys } from "./activity/token.ts";
import { connectMariadb, type ConfigDb } from "./config/db.ts";
import { KvClient } from "./config/kv-client.ts";
import { configChanges } from "./config/schema.ts";
import { runSyncWithLease } from "./config/sync-lease.ts";
import { startConfigSync } from "./config/sync.ts";
import { ConnectionStore } from "./crm/connections.ts";
import { loadConnectors } from "./crm/connectors/index.ts";
import { DestinationDirectory } from "./crm/directory.ts";
import { SecretBox } from "./crm/secret-box.ts";
import { leadReadAudit } from "./audit/reads.ts";
import { startEraseResumer } from "./privacy/erase.ts";
import { startRetentionSweep } from "./privacy/retention.ts";
import { privacyKey } from "./privacy/subject.ts";
import { SuppressionFilter } from "./privacy/suppression.ts";
import { DeliveryWorker } from "./crm/worker.ts";
import { storeQueueDeadLetters } from "./drain/dead-letter-queue.ts";
import { processBatch } from "./drain/process-batch.ts";
import { PullConsumer, type PullConsumerOptions } from "./drain/pull-client.ts";
import { countEvents } from "./api/internal-queue.ts";
import { ConfigError, loadConfig, type Config } from "./ops/config.ts";
import { createLogger, logWith, type Log } from "./ops/log.ts";
import { createMetrics, type Metrics } from "./ops/metrics.ts";
import { startVisitFinalizer } from "./rollups/finalizer.ts";
import { connectMongo, ensureIndexes } from "./store/mongo.ts";

/** Type stripping (running the .ts sources as they are) is on by default from Node 22.18. */
export const MIN_NODE = [22, 18] as const;

export function checkNodeVersion(version = process.versions.node): void {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    throw new ConfigError(`node: ${version} is too old: the backend runs its TypeScript sources directly, which needs Node ${MIN_NODE.join(".")} or newer`);
  }
}

async function startCrm(config: Config, db: Db, configDb: ConfigDb, metrics: Metrics, log: Log) {
  const box = new SecretBox(config.DESTINATION_SECRET_KEY!);
  const connectors = await loadConnectors();
  const directory = new DestinationDirectory(configDb, box, connectors, log);
  const connections = new ConnectionStore(configDb, box, {
    ...(config.HIGHLEVEL_CLIENT_ID && config.HIGHLEVEL_CLIENT_SECRET
      ? { highlevel: { apiUrl: config.HIGHLEVEL_API_URL, clientId: config.HIGHLEVEL_CLIENT_ID, clientSecret: config.HIGHLEVEL_CLIENT_SECRET } }
      : {}),
  });
  const worker = new DeliveryWorker(
    { db, directory, connections, log, onOutcome: (kind, outcome) => metrics.recordDelivery(kind, outcome) },
    { maxAttempts: config.DELIVERY_MAX_ATTEMPTS, backoffBaseMs: config.DELIVERY_BACKOFF_BASE_MS, backoffCapMs: config.DELIVERY_BACKOFF_CAP_MS, leaseMs: config.DELIVERY_LEASE_MS },
  );
  worker.start();
  return { worker, deps: { box, connectors, directory, connections } };
}

/**
 * A loop (the KV sync, a queue pull) is ready while it keeps succeeding: it fails readiness after FAILS_IN_A_ROW
 * failed passes (a revoked token, an unreachable API: seconds, given their backoff), or when its last good pass is
 * older than FRESH_MS. One failed pass alone does not take a replica out of rotation.
 */
const FAILS_IN_A_ROW = 3;
function loopPart(name: string, loop: { lastSuccessAt: number | null; lastError: string | null; consecutiveFailures: number }): ReadinessPart {
  const failing = loop.consecutiveFailures >= FAILS_IN_A_ROW;
  const stale = loop.lastSuccessAt !== null && loop.lastSuccessAt < Date.now() - FRESH_MS;
  const ok = !failing && !stale && (loop.lastSuccessAt !== null || loop.consecutiveFailures === 0);
  const detail = loop.lastError ?? (loop.lastSuccessAt === null ? "starting" : stale ? "no successful pass for a minute" : undefined);
  return { name, ok, ...(detail ? { detail } : {}) };
}

/** A part is ready when it answered within this long (its loops run every few seconds at most). */
const FRESH_MS = 60_000;

export async function startBackend(env: NodeJS.ProcessEnv = process.env) {
  checkNodeVersion();
  const config = loadConfig(env);
  const logger = createLogger(config.LOG_LEVEL);
  const log = logWith(logger);
  const mongo = await connectMongo(config.MONGODB_URI, config.MONGODB_DB);
  await ensureIndexes(mongo.db);
  const mariadb = config.MARIADB_URL ? connectMariadb(config.MARIADB_URL) : null;
  // lead reads go to the audit trail as counts per user, location and hour
  if (mariadb) leadReadAudit(mariadb.db, { log });
  // erased people: their later events are dropped or stripped by the drain; interrupted erases are finished
  const privacyHashKey = config.PRIVACY_HASH_KEY ? privacyKey(config.PRIVACY_HASH_KEY) : null;
  const suppression = privacyHashKey ? new SuppressionFilter(mongo.db, privacyHashKey) : undefined;
  // retention that happens on any MongoDB (the compatible server never runs TTL), one replica at a time
  const retention = config.RETENTION_SWEEP_INTERVAL_MS > 0 ? startRetentionSweep({ db: mongo.db, log, intervalMs: config.RETENTION_SWEEP_INTERVAL_MS, batchSize: config.RETENTION_SWEEP_BATCH }) : null;
  const eraseResumer = privacyHashKey ? startEraseResumer({ db: mongo.db, key: privacyHashKey, settleMs: suppression!.settleMs, leaseMs: config.PRIVACY_ERASE_LEASE_MS, intervalMs: Math.max(1000, config.PRIVACY_ERASE_LEASE_MS / 2), log }) : null;
  const metrics = createMetrics(mongo.db, {
    ...(mariadb
      ? {
          kvSyncLagSeconds: async () => {
            const [row] = (await mariadb.db.select({ oldest: sql<Date | null>`MIN(${configChanges.createdAt})` }).from(configChanges).where(sql`${configChanges.processedAt} IS NULL`)) as [{ oldest: Date | string | null }];
            return row?.oldest ? Math.max(0, (Date.now() - new Date(row.oldest).getTime()) / 1000) : 0;
          },
        }
      : {}),
  });

  // the KV sync: in one replica at a time (a MariaDB lock), unless this one is told never to run it
  const lease =
    mariadb && config.KV_SYNC === "on"
      ? runSyncWithLease({
          url: config.MARIADB_URL!,
          log,
          settleMs: config.KV_MIN_WRITE_INTERVAL_MS,
          start: () =>
            startConfigSync(
              {
                db: mariadb.db,
                kv: new KvClient({ baseUrl: config.KV_API_URL, accountId: config.CLOUDFLARE_ACCOUNT_ID!, namespaceId: config.KV_NAMESPACE_ID!, apiToken: config.CLOUDFLARE_API_TOKEN! }),
                log,
                minWriteIntervalMs: config.KV_MIN_WRITE_INTERVAL_MS,
              },
              { intervalMs: config.SYNC_INTERVAL_MS, reconcileMs: config.RECONCILE_INTERVAL_MS },
            ),
        })
      : null;

  // Production queue path: Cloudflare's HTTP pull API (locally, the dev sidecar pushes to /internal/queue instead).
  const pullFrom = (queueId: string, queue: string, process: PullConsumerOptions["process"], concurrency: number): PullConsumer =>
    new PullConsumer({
      baseUrl: config.QUEUES_API_URL,
      accountId: config.CLOUDFLARE_ACCOUNT_ID!,
      queueId,
      apiToken: config.CLOUDFLARE_API_TOKEN!,
      batchSize: config.PULL_BATCH_SIZE,
      visibilityTimeoutMs: config.PULL_VISIBILITY_TIMEOUT_MS,
      concurrency,
      process,
      log,
    });
  const puller = config.CLOUDFLARE_QUEUE_ID
    ? pullFrom(
        config.CLOUDFLARE_QUEUE_ID,
        "tracker-events",
        async (deliveries) => {
          const started = performance.now();
          const outcomes = await processBatch(deliveries, { db: mongo.db, queue: "tracker-events", log, ...(suppression ? { suppression } : {}) });
          metrics.recordBatch("tracker-events", (performance.now() - started) / 1000, countEvents(deliveries));
          metrics.recordOutcomes("tracker-events", outcomes);
          return outcomes;
        },
        config.PULL_CONCURRENCY,
      )
    : null;
  // What the queue gave up on goes into the dead-letter store, where `npm run dlq` finds it.
  const dlqPuller = config.CLOUDFLARE_DLQ_ID
    ? pullFrom(
        config.CLOUDFLARE_DLQ_ID,
        "tracker-events-dlq",
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
  // empty polls, as a counter: what the pull clients counted since the last scrape
  const emptySeen = new Map<PullConsumer, number>();
  const countEmptyPolls = setInterval(() => {
    for (const [p, queue] of [[puller, "tracker-events"], [dlqPuller, "tracker-events-dlq"]] as const) {
      if (!p) continue;
      metrics.recordEmptyPolls(queue, p.stats.emptyPulls - (emptySeen.get(p) ?? 0));
      emptySeen.set(p, p.stats.emptyPulls);
    }
  }, 5_000);
  countEmptyPolls.unref();

  // Visits are counted in the statistics once their session has been idle for the SDK's session timeout.
  const finalizer = startVisitFinalizer({ db: mongo.db, log, idleMs: config.VISIT_IDLE_MS }, { intervalMs: config.VISIT_FINALIZE_INTERVAL_MS });
  // CRM delivery: needs the config plane (destinations) and the key that seals their secrets
  const crm = mariadb && config.DESTINATION_SECRET_KEY ? await startCrm(config, mongo.db, mariadb.db, metrics, log) : null;
  if (mariadb && !crm) log("crm delivery off: set DESTINATION_SECRET_KEY (openssl rand -base64 32) to deliver leads", { level: "warn" });

  const readiness = async (): Promise<ReadinessPart[]> => {
    const parts: ReadinessPart[] = [];
    if (mariadb) {
      try {
        await mariadb.db.execute(sql`SELECT 1`);
        parts.push({ name: "mariadb", ok: true });
      } catch (err) {
        parts.push({ name: "mariadb", ok: false, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    if (lease) {
      const sync = lease.sync;
      if (!lease.holding) parts.push({ name: "kv-sync", ok: (lease.lastCheckAt ?? 0) > Date.now() - FRESH_MS, detail: "standby: another replica holds the sync lease" });
      else if (!sync) parts.push({ name: "kv-sync", ok: true, detail: "starting" });
      else parts.push(loopPart("kv-sync", sync));
    }
    for (const [p, name] of [[puller, "queue-pull"], [dlqPuller, "dlq-pull"]] as const) if (p) parts.push(loopPart(name, p));
    return parts;
  };

  const app = createApi({
    db: mongo.db,
    configDb: mariadb?.db ?? null,
    ...(config.INTERNAL_TOKEN ? { internalToken: config.INTERNAL_TOKEN } : {}),
    localQueueConsumer: config.LOCAL_QUEUE_CONSUMER,
    readiness,
    auth: { ...config.auth, session: await sessionKeys(config.SESSION_SIGNING_KEY) },
    sso: { ...(config.HIGHLEVEL_SHARED_SECRET ? { sharedSecret: config.HIGHLEVEL_SHARED_SECRET } : {}), autoCreateTenants: config.HIGHLEVEL_AUTO_CREATE_TENANTS },
    activity: config.ACTIVITY_SIGNING_KEY ? { keys: await actorKeys(config.ACTIVITY_SIGNING_KEY) } : {},
    edgeUrl: config.EDGE_PUBLIC_URL ?? "",
    ...(crm ? { crm: crm.deps } : {}),
    frameAncestors: [...DEFAULT_FRAME_ANCESTORS, ...config.frameAncestors],
    log,
    metrics,
    privacy: { key: privacyHashKey, leaseMs: config.PRIVACY_ERASE_LEASE_MS, ...(suppression ? { suppression, settleMs: suppression.settleMs } : {}) },
  });
  const server = serve({ fetch: app.fetch, port: config.BACKEND_PORT, hostname: config.BACKEND_HOST });
  log("backend listening", {
    host: config.BACKEND_HOST,
    port: config.BACKEND_PORT,
    configPlane: Boolean(mariadb),
    kvSync: Boolean(lease),
    pullConsumer: Boolean(puller),
    deadLetterConsumer: Boolean(dlqPuller),
    crmDelivery: Boolean(crm),
    localQueueConsumer: config.LOCAL_QUEUE_CONSUMER,
  });
  return {
    port: config.BACKEND_PORT,
    puller,
    log,
    /** Graceful: stop pulling and ack what is in hand, then close servers and connections. */
    async stop() {
      clearInterval(countEmptyPolls);
      eraseResumer?.stop();
      await retention?.stop();
      await Promise.all([puller?.stop(), dlqPuller?.stop()]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await lease?.stop();
      await crm?.worker.stop();
      await finalizer.stop();
      if (mariadb) await leadReadAudit(mariadb.db).stop(); // flushes the last minute of lead-read counts
      await mariadb?.close();
      await mongo.close();
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  try {
    backend = await startBackend();
  } catch (err) {
    // a configuration problem is one line, naming the variable; anything else keeps its stack
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
  const shutdown = async (): Promise<void> => {
    backend.log("shutting down");
    await backend.stop();
    backend.log("stopped", backend.puller ? { ...backend.puller.stats } : {});
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
