/** processBatch against the real MongoDB-compatible server: idempotent writes and per-message outcomes. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { processBatch } from "../src/drain/process-batch.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../src/store/mongo.ts";
import { ensureMongo } from "../../scripts/lib/mongo.ts";
import { TEST_DATA_DIR, testPort } from "../../scripts/testing/ports.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";

let mongo: Awaited<ReturnType<typeof testMongo>>;

function message(siteId: string, ids: string[]) {
  return {
    v: 1,
    siteId,
    receivedAt: Date.now(),
    geo: {},
    ip: null,
    ua: "UA",
    events: ids.map((id) => ({ id, type: "page_view", ts: Date.now(), sessionId: "s", visitorId: "v", page: { url: "https://a/" } })),
  };
}
const uuid = () => crypto.randomUUID();

beforeAll(async () => {
  mongo = await testMongo("process");
  await ensureIndexes(mongo.db);
});
beforeEach(async () => {
  await mongo.db.collection(COLLECTIONS.events).deleteMany({});
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("processBatch", () => {
  it("writes every event of every message and acks each message", async () => {
    const ids = [uuid(), uuid(), uuid()];
    const outcomes = await processBatch(
      [
        { id: "m1", body: message("site-a", ids.slice(0, 2)), attempts: 1 },
        { id: "m2", body: JSON.stringify(message("site-a", ids.slice(2))), attempts: 1 },
      ],
      { db: mongo.db },
    );
    expect(outcomes).toEqual([{ id: "m1", action: "ack" }, { id: "m2", action: "ack" }]);
    const stored = await mongo.db.collection(COLLECTIONS.events).find({}).sort({ eventId: 1 }).toArray();
    expect(stored.map((d) => d.eventId)).toEqual([...ids].sort());
  });

  it("treats a redelivered message as success and stores each event once", async () => {
    const body = message("site-a", [uuid(), uuid()]);
    const first = await processBatch([{ id: "m1", body, attempts: 1 }], { db: mongo.db });
    const again = await processBatch([{ id: "m1", body, attempts: 2 }, { id: "m1b", body, attempts: 1 }], { db: mongo.db });
    expect(first).toEqual([{ id: "m1", action: "ack" }]);
    expect(again.map((o) => o.action)).toEqual(["ack", "ack"]);
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments()).toBe(2);
  });

  it("keeps the same event id of two sites apart", async () => {
    const id = uuid();
    await processBatch([{ id: "a", body: message("site-a", [id]), attempts: 1 }, { id: "b", body: message("site-b", [id]), attempts: 1 }], { db: mongo.db });
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments({ eventId: id })).toBe(2);
  });

  it("dead-letters a malformed message at once, without holding back the valid ones beside it", async () => {
    const good = uuid();
    const outcomes = await processBatch(
      [
        { id: "bad", body: "{not json", attempts: 1 },
        { id: "good", body: message("site-a", [good]), attempts: 1 },
      ],
      { db: mongo.db },
    );
    expect(outcomes[0]).toEqual({ id: "bad", action: "ack", deadLettered: "malformed" });
    expect(outcomes[1]).toEqual({ id: "good", action: "ack" });
    expect(await mongo.db.collection(COLLECTIONS.deadLetters).findOne({ _id: "bad" as never })).toMatchObject({ body: "{not json", reason: "malformed" });
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments({ eventId: good })).toBe(1);
  });

  it("retries everything with a delay when the database is unreachable, and nothing is lost once it is back", async () => {
    // A server of our own, so stopping it does not disturb the other tests.
    const port = testPort(38);
    const server = await ensureMongo({ port, dataDir: join(TEST_DATA_DIR, "mongo-outage"), memory: true });
    const own = await connectMongo(server.url, "outage");
    await ensureIndexes(own.db);
    const deliveries = [{ id: "m1", body: message("site-a", [uuid(), uuid()]), attempts: 3 }];
    await server.stop();
    const outcomes = await processBatch(deliveries, { db: own.db });
    expect(outcomes).toEqual([{ id: "m1", action: "retry", delaySeconds: 20, reason: expect.any(String) }]);
    await own.close();

    const restarted = await ensureMongo({ port, dataDir: join(TEST_DATA_DIR, "mongo-outage"), memory: true });
    const back = await connectMongo(restarted.url, "outage");
    try {
      await ensureIndexes(back.db);
      expect(await processBatch(deliveries, { db: back.db })).toEqual([{ id: "m1", action: "ack" }]);
      expect(await back.db.collection(COLLECTIONS.events).countDocuments()).toBe(2);
    } finally {
      await back.close();
      await restarted.stop();
    }
  });
});
