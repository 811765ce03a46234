/** The MongoDB connection and the collections the backend writes. */
import { MongoClient, type Db, type MongoClientOptions } from "mongodb";

export const COLLECTIONS = {
  events: "events",
  sessions: "sessions",
  leads: "leads",
  leadKeys: "lead_keys",
  deadLetters: "dead_letters",
  rollups: "rollups",
  rollupRuns: "rollup_runs",
  // team activity (activity/store.ts)
  activityEvents: "activity_events",
  activityDays: "activity_days",
  activityTeam: "activity_team",
  activityTeamPages: "activity_team_pages",
} as const;

/** MongoDB's duplicate-key error code: for idempotent writes, "already there". */
export const DUPLICATE_KEY = 11000;

/** The per-document errors of a failed bulk write (the driver gives one object or an array), or [] if none. */
export function writeErrorsOf(err: unknown): { index: number; code: number; errmsg?: string }[] {
  const writeErrors = (err as { writeErrors?: unknown } | null)?.writeErrors;
  return (Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []) as { index: number; code: number; errmsg?: string }[];
}

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** The database name comes from the URI's path, defaulting to `tracker`. */
export async function connectMongo(uri: string, dbName?: string, options: MongoClientOptions = {}): Promise<Mongo> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, retryWrites: false, ...options });
  await client.connect();
  const db = client.db(dbName ?? (new URL(uri).pathname.slice(1) || "tracker"));
  return { client, db, close: () => client.close() };
}

/**
 * Every index the backend relies on. Safe to run at every start: same spec, same name, no-op.
 * Retention: events and sessions carry `expireAt` (receipt + the site's retention days, 90 by default), and a TTL
 * index with expireAfterSeconds 0 removes them then, so each site keeps its own retention with one index.
 */
export const INDEXES = {
  events: [
    // Idempotency: an event id is unique within its site, so a redelivered event is a duplicate-key no-op.
    { key: { siteId: 1, eventId: 1 }, name: "site_event_unique", unique: true },
    { key: { siteId: 1, ts: -1 }, name: "site_ts" },
    { key: { siteId: 1, type: 1, ts: -1 }, name: "site_type_ts" },
    { key: { sessionId: 1 }, name: "session" },
    { key: { visitorId: 1 }, name: "visitor" },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  sessions: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { siteId: 1, startedAt: -1 }, name: "site_started" },
    { key: { visitorId: 1 }, name: "visitor" },
    // the visit finalizer's queue: sessions not yet rolled up, oldest end first
    { key: { rollupRun: 1, endedAt: 1 }, name: "rollup_pending" },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  rollups: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { kind: 1, siteId: 1, dim: 1, day: 1 }, name: "kind_site_dim_day" },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  rollup_runs: [{ key: { state: 1, at: 1 }, name: "state_at" }],
  // exact-key unique indexes for the compare-and-set filters (the test server uses only those)
  lead_keys: [
    { key: { _id: 1, leadId: 1 }, name: "id_lead", unique: true },
    { key: { _id: 1, leadId: 1, lastAt: 1 }, name: "id_lead_last", unique: true },
  ],
  leads: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { siteId: 1, createdAt: -1 }, name: "site_created" },
    { key: { siteId: 1, email: 1 }, name: "site_email" },
    { key: { siteId: 1, status: 1, createdAt: -1 }, name: "site_status_created" },
    { key: { siteId: 1, updatedAt: -1 }, name: "site_updated" },
    { key: { siteId: 1, lastInteractionAt: -1 }, name: "site_last_interaction" },
    { key: { visitorIds: 1 }, name: "visitors" },
  ],
  // CRM delivery (crm/): the outbox is leased by {_id, v}; workers look for due entries by time
  lead_outbox: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { nextAt: 1 }, name: "next_at" },
  ],
  delivery_status: [{ key: { leadId: 1 }, name: "lead" }, { key: { destinationId: 1, status: 1 }, name: "destination_status" }],
  // team activity (activity/store.ts): raw events by `_id` (user:event), rollups read-modify-written by {_id, v}
  activity_events: [
    { key: { tenantId: 1, userId: 1, ts: -1 }, name: "tenant_user_ts" },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  activity_days: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  activity_team: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
  activity_team_pages: [
    { key: { _id: 1, v: 1 }, name: "id_version", unique: true },
    { key: { expireAt: 1 }, name: "retention_ttl", expireAfterSeconds: 0 },
  ],
} as const;

export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, specs] of Object.entries(INDEXES)) {
    await db.collection(collection).createIndexes(specs.map((s) => ({ ...s, key: { ...s.key } })));
  }
}
