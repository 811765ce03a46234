/**
 * The whole local stack in one call: services (unless MARIADB_URL / MONGODB_URI), the backend, the edge on
 * miniflare with the dev queue consumer, and the demo page. `npm start`, the integration tests and the benchmarks
 * all use this, each with its own ports and data dir.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { SiteConfig } from "#contracts";
import { compileSiteConfig, contentHash, loadSiteBundle } from "../../backend-consumer/src/config/compile.ts";
import { connectMariadb, migrateMariadb } from "../../backend-consumer/src/config/db.ts";
import { startBackend, type BackendHandle } from "./backend.ts";
import { startDemo } from "./demo.ts";
import { startEdge, type EdgeHandle } from "./edge.ts";
import { createDatabase } from "./mariadb.ts";
import { answersOk, waitUntil, type ServiceHandle } from "./process.ts";
import { LOCAL_APP_ID, localActivityKeys, localDestinationKey, localJwtSecret, localPrivacyKey, localSharedSecret } from "./secrets.ts";
import { DEMO, seedDemo } from "./seed.ts";
import { demoHistory } from "./demo-history.ts";
import { demoActivity, demoCrmUsers, type DemoActor } from "./demo-activity.ts";
import { decodeJwt } from "jose";
import { actorClaimsSchema } from "#contracts";
import { encryptPassphrasePayload } from "../../backend-consumer/src/api/sso/crypto-js-passphrase.ts";
import { connectMongo } from "../../backend-consumer/src/store/mongo.ts";
import { startServices } from "./services.ts";

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
  /** MariaDB database name (created if missing, migrated, seeded with the demo tenant). */
  mariadbDb?: string;
  /** Extra backend environment (e.g. SYNC_INTERVAL_MS). */
  backendEnv?: Record<string, string>;
  siteKey?: string;
  batchTimeout?: number;
  maxRetries?: number;
  /** Extra `[vars]` for the edge Worker (e.g. ACTIVITY_IDLE_SECONDS). */
  edgeVars?: Record<string, string>;
  /** Put this many days of demo traffic for the demo tenant's sites on the queue, once per MongoDB database. */
  demoHistoryDays?: number;
}

export interface Stack {
  mariadb: ServiceHandle;
  mongo: ServiceHandle;
  backend: BackendHandle;
  edge: EdgeHandle;
  demoUrl: string;
  internalToken: string;
  jwtSecret: string;
  /** The CRM app's shared secret the backend and the CRM stand-in (`<demoUrl>crm`) use for single sign-on. */
  sharedSecret: string;
  /** Where the dashboard is served (the backend's /app). */
  appUrl: string;
  /** Connection URL of the stack's MariaDB database. */
  mariadbUrl: string;
  /** Team activity: the local app id the Custom JS passes to exposeSessionDetails, and the actor token keys. */
  activity: { appId: string; signingKey: string; publicKey: string };
  /** Restarts the backend process (for crash and recovery tests). */
  restartBackend(signal?: NodeJS.Signals): Promise<BackendHandle>;
  stop(): Promise<void>;
}

/** Creates the database if needed, applies migrations, and returns its URL. */
async function prepareMariadb(serverUrl: string, dbName: string): Promise<string> {
  const url = new URL(serverUrl).pathname.slice(1) === dbName ? serverUrl : await createDatabase(serverUrl, dbName);
  await migrateMariadb(url);
  return url;
}

/** Puts messages on the local queue through the dev sidecar, 200 per request. */
async function enqueueOnSidecar(edgeUrl: string, internalToken: string, messages: unknown[], what: string): Promise<void> {
  for (let i = 0; i < messages.length; i += 200) {
    const res = await fetch(`${edgeUrl}/__dev/enqueue`, {
      method: "POST",
      headers: { authorization: `Bearer ${internalToken}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: messages.slice(i, i + 200) }),
    });
    if (!res.ok) throw new Error(`enqueueing ${what}: ${res.status} ${await res.text()}`);
  }
}

/**
 * Weeks of demo traffic onto the local queue (through the dev sidecar), once per MongoDB database: the drain,
 * rollups and visit finalizer then handle them as live traffic.
 */
async function enqueueDemoHistory(edgeUrl: string, internalToken: string, mongoUri: string, mongoDb: string, days: number): Promise<number> {
  const mongo = await connectMongo(mongoUri, mongoDb);
  try {
    const marker = mongo.db.collection<{ _id: string; at: Date; messages: number }>("demo_meta");
    if (await marker.findOne({ _id: "history" })) return 0;
    const messages = demoHistory(
      [
        { siteId: DEMO.siteId, origin: "https://acme-plumbing.example", timezone: "UTC", formId: DEMO.formId, pages: ["/", "/services", "/pricing", "/about", "/contact", "/blog/leaky-faucets"], visitsPerDay: 70 },
        { siteId: DEMO.site2Id, origin: "https://brightsmile.example", timezone: "America/New_York", formId: "book-appointment", pages: ["/", "/treatments", "/whitening", "/team", "/contact"], visitsPerDay: 40 },
      ],
      { days, now: Date.now() },
    );
    await enqueueOnSidecar(edgeUrl, internalToken, messages, "demo history");
    await marker.insertOne({ _id: "history", at: new Date(), messages: messages.length });
    return messages.length;
  } finally {
    await mongo.close();
  }
}

/**
 * Weeks of team activity for the demo tenant's CRM users onto the local queue, once per MongoDB database. Each user
 * is signed in through the backend's real actor-token exchange (as the Custom JS does), which provisions them; the
 * messages carry the actor the token names.
 */
async function enqueueDemoActivity(edgeUrl: string, backendUrl: string, sharedSecret: string, internalToken: string, mongoUri: string, mongoDb: string, days: number): Promise<number> {
  const mongo = await connectMongo(mongoUri, mongoDb);
  try {
    const marker = mongo.db.collection<{ _id: string; at: Date; messages: number }>("demo_meta");
    if (await marker.findOne({ _id: "activity" })) return 0;
    const actors: DemoActor[] = [];
    const users = demoCrmUsers({ companyId: DEMO.companyExternalId, location1: DEMO.locationExternalId, location2: DEMO.location2ExternalId, agencyEmail: DEMO.agencyEmail, locationEmail: DEMO.locationEmail });
    for (const { sessionsPerDay, ...context } of users) {
      const res = await fetch(`${backendUrl}/v1/auth/highlevel/actor`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: JSON.stringify({ encryptedData: encryptPassphrasePayload(JSON.stringify(context), sharedSecret) }),
      });
      if (!res.ok) throw new Error(`demo activity: the token exchange for ${context.userName} answered ${res.status} ${await res.text()}`);
      const { token } = (await res.json()) as { token: string };
      const payload = decodeJwt(token);
      const claims = actorClaimsSchema.parse(payload);
      actors.push({
        actor: { userId: String(payload.sub), tenantId: claims.ten, locationId: claims.loc, role: claims.role, timezone: claims.tz, retentionDays: claims.ret },
        ...(context.activeLocation ? { crmLocationId: context.activeLocation } : {}),
        sessionsPerDay,
      });
    }
    const messages = demoActivity(actors, { days, now: Date.now() });
    await enqueueOnSidecar(edgeUrl, internalToken, messages, "demo activity");
    await marker.insertOne({ _id: "activity", at: new Date(), messages: messages.length });
    return messages.length;
  } finally {
    await mongo.close();
  }
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error("stop failed:", e));
    stops.length = 0;
  };
  try {
    const { mariadb, mongo, stop: stopServices } = await startServices({ dataDir: opts.dataDir, ports: opts.ports });
    stops.push(stopServices);

    const mariadbUrl = await prepareMariadb(mariadb.url, opts.mariadbDb ?? "tracker");
    const demoOrigin = `http://127.0.0.1:${opts.ports.demo}`;
    const config = connectMariadb(mariadbUrl, { connectionLimit: 2 });
    let expected: SiteConfig;
    try {
      await seedDemo(config.db, { siteKey: opts.siteKey ?? "demo-site", demoOrigin });
      expected = compileSiteConfig((await loadSiteBundle(config.db, opts.siteKey ?? "demo-site"))!, 1);
    } finally {
      await config.close();
    }

    const internalToken = randomBytes(32).toString("hex");
    const jwtSecret = localJwtSecret(opts.dataDir);
    const sharedSecret = localSharedSecret(opts.dataDir);
    const edgeUrl = `http://127.0.0.1:${opts.ports.worker}`;
    const activityKeys = localActivityKeys(opts.dataDir);
    const backendOpts = {
      port: opts.ports.backend,
      mongoUri: mongo.url,
      mongoDb: opts.mongoDb,
      mariadbUrl,
      internalToken,
      jwtSecret,
      kvApiUrl: `${edgeUrl}/client/v4`,
      logFile: join(opts.dataDir, "backend.log"),
      env: {
        HIGHLEVEL_SHARED_SECRET: sharedSecret,
        DESTINATION_SECRET_KEY: localDestinationKey(opts.dataDir),
        PRIVACY_HASH_KEY: localPrivacyKey(opts.dataDir),
        ACTIVITY_SIGNING_KEY: activityKeys.signingKey,
        EDGE_PUBLIC_URL: process.env.EDGE_PUBLIC_URL ?? edgeUrl,
        // the CRM stand-in on the demo origin frames the dashboard
        DASHBOARD_FRAME_ANCESTORS: demoOrigin,
        ...opts.backendEnv,
      },
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
      // team activity: the CRM stand-in's Custom JS exchanges its session details at the backend, the edge verifies
      vars: {
        HIGHLEVEL_APP_ID: LOCAL_APP_ID,
        ACTIVITY_TOKEN_URL: `${stack.backend.url}/v1/auth/highlevel/actor`,
        ACTIVITY_TOKEN_PUBLIC_KEY: activityKeys.publicKey,
        ...opts.edgeVars,
      },
    });
    stops.push(() => edge.stop());

    // Ready when the edge serves this database's demo site: the local KV persists across runs, and may still hold
    // another run's version of the same site key until the sync's first reconcile has replaced it.
    const siteKey = opts.siteKey ?? "demo-site";
    const servesExpected = async (): Promise<boolean> => {
      const res = await fetch(`${edge.url}/v1/config/${siteKey}`).catch(() => null);
      if (!res?.ok) return false;
      return contentHash(expected) === contentHash((await res.json()) as SiteConfig);
    };
    await waitUntil(servesExpected, 30_000, `the edge to serve config for ${siteKey} (see backend.log)`);
    // and the backend says it is ready: MongoDB, MariaDB and the KV sync all fine
    await waitUntil(() => answersOk(`${stack.backend.url}/readyz`), 30_000, `the backend to be ready (GET ${stack.backend.url}/readyz names what is not)`);

    const appUrl = `${stack.backend.url}/app`;
    const demo = await startDemo({ port: opts.ports.demo, edgeUrl: edge.url, siteKey: opts.siteKey ?? "demo-site", crm: { appUrl, sharedSecret, appId: LOCAL_APP_ID } });
    stops.push(() => demo.stop());
    if (opts.demoHistoryDays) {
      await enqueueDemoHistory(edge.url, internalToken, mongo.url, opts.mongoDb, opts.demoHistoryDays);
      await enqueueDemoActivity(edge.url, stack.backend.url, sharedSecret, internalToken, mongo.url, opts.mongoDb, opts.demoHistoryDays);
    }

    return {
      mariadb,
      mongo,
      get backend() {
        return stack.backend;
      },
      edge,
      demoUrl: demo.url,
      internalToken,
      jwtSecret,
      sharedSecret,
      appUrl,
      mariadbUrl,
      activity: { appId: LOCAL_APP_ID, ...activityKeys },
      async restartBackend(signal?: NodeJS.Signals) {
        await stack.backend.stop(signal);
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
