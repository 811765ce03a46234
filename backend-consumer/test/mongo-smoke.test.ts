/**
 * Proves, against the server the tests run on (mongo-java-server locally, or MONGODB_URI), every MongoDB operation
 * the backend uses. If the compatible server ever lacks one, this file says which.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoBulkWriteError } from "mongodb";
import { COLLECTIONS, DUPLICATE_KEY, ensureIndexes } from "../src/store/mongo.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";

let mongo: Awaited<ReturnType<typeof testMongo>>;

beforeAll(async () => {
  mongo = await testMongo("smoke");
  await ensureIndexes(mongo.db);
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("MongoDB operations the backend relies on", () => {
  it("ping answers", async () => {
    expect(await mongo.db.command({ ping: 1 })).toMatchObject({ ok: 1 });
  });

  it("creating the same indexes twice is a no-op and the unique index exists", async () => {
    await ensureIndexes(mongo.db);
    const indexes = await mongo.db.collection(COLLECTIONS.events).indexes();
    const unique = indexes.find((i) => i.name === "site_event_unique");
    expect(unique).toMatchObject({ key: { siteId: 1, eventId: 1 }, unique: true });
  });

  it("an unordered insertMany stores every non-duplicate and reports each duplicate as code 11000 with its index", async () => {
    const events = mongo.db.collection(COLLECTIONS.events);
    await events.insertOne({ siteId: "s", eventId: "dup" });
    const err = await events
      .insertMany(
        [{ siteId: "s", eventId: "n1" }, { siteId: "s", eventId: "dup" }, { siteId: "s", eventId: "n2" }, { siteId: "t", eventId: "dup" }],
        { ordered: false },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    const writeErrors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
    expect(writeErrors.map((w) => [w.index, w.code])).toEqual([[1, DUPLICATE_KEY]]);
    // Not asserted: result.insertedCount. mongo-java-server reports the batch size there, so the code derives the
    // count from the write errors instead of trusting it.
    expect(await events.countDocuments({ eventId: { $in: ["n1", "n2", "dup"] } })).toBe(4);
  });

  it("bulkWrite upserts with $setOnInsert write once and leave the first value", async () => {
    const coll = mongo.db.collection(COLLECTIONS.deadLetters);
    const op = (v: number) => ({ updateOne: { filter: { messageId: "m" }, update: { $setOnInsert: { messageId: "m", v } }, upsert: true } });
    const first = await coll.bulkWrite([op(1)], { ordered: false });
    const second = await coll.bulkWrite([op(2)], { ordered: false });
    expect(first.upsertedCount).toBe(1);
    expect(second.upsertedCount).toBe(0);
    expect(await coll.find({ messageId: "m" }).project({ _id: 0 }).toArray()).toEqual([{ messageId: "m", v: 1 }]);
  });
});
