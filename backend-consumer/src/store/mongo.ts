/** The MongoDB connection and the collections the backend writes. */
import { MongoClient, type Db } from "mongodb";

export const COLLECTIONS = { events: "events", deadLetters: "dead_letters" } as const;

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** The database name comes from the URI's path, defaulting to `tracker`. */
export async function connectMongo(uri: string, dbName?: string): Promise<Mongo> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, retryWrites: false });
  await client.connect();
  const db = client.db(dbName ?? (new URL(uri).pathname.slice(1) || "tracker"));
  return { client, db, close: () => client.close() };
}

/** Creates every index the backend relies on. Safe to run at every start: same spec, same name, no-op. */
export async function ensureIndexes(db: Db): Promise<void> {
  const events = db.collection(COLLECTIONS.events);
  await events.createIndexes([
    // Idempotency: an event id is unique within its site, so a redelivered event is a duplicate-key no-op.
    { key: { siteId: 1, eventId: 1 }, name: "site_event_unique", unique: true },
    { key: { siteId: 1, ts: -1 }, name: "site_ts" },
    { key: { sessionId: 1 }, name: "session" },
    { key: { visitorId: 1 }, name: "visitor" },
  ]);
}
