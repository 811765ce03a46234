/**
 * The Cloudflare pull client against a local server that follows the documented pull/ack shapes (with leases,
 * retries, visibility timeouts and a dead-letter list), writing to the real MongoDB-compatible server through the
 * same processBatch as the local push path.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { QueueMessage } from "#contracts";
import { storeQueueDeadLetters } from "../src/drain/dead-letter-queue.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import type { DeadLetter } from "../src/store/dead-letters.ts";
import { PullConsumer } from "../src/drain/pull-client.ts";
import { COLLECTIONS, connectMongo, ensureIndexes } from "../src/store/mongo.ts";
import { ensureMongo } from "../../scripts/lib/mongo.ts";
import { ROOT, toolEnv } from "../../scripts/lib/paths.ts";
import { FakeCloudflareQueue } from "../../scripts/testing/fake-cf-queue.ts";
import { eventually, testMongo } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, testPort } from "../../scripts/testing/ports.ts";

const TOKEN = "pull-test-token";
let mongo: Awaited<ReturnType<typeof testMongo>>;
let queue: FakeCloudflareQueue;
let consumer: PullConsumer | null = null;

function message(n: number, site = "site-a"): QueueMessage {
  return {
    v: 1,
    siteId: site,
    receivedAt: Date.now(),
    geo: {},
    ip: null,
    ua: null,
    events: Array.from({ length: n }, () => ({ id: crypto.randomUUID(), type: "page_view" as const, ts: Date.now(), sessionId: "s", visitorId: "v" })),
  };
}

function makeConsumer(db = mongo.db, over: Partial<ConstructorParameters<typeof PullConsumer>[0]> = {}) {
  consumer = new PullConsumer({
    baseUrl: queue.url,
    accountId: "acct",
    queueId: "tracker-events",
    apiToken: TOKEN,
    batchSize: 10,
    visibilityTimeoutMs: 5000,
    concurrency: 2,
    emptyBackoffMs: { min: 20, max: 400 },
    process: (deliveries) => processBatch(deliveries, { db }),
    ...over,
  });
  return consumer;
}

const eventCount = () => mongo.db.collection(COLLECTIONS.events).countDocuments();

beforeAll(async () => {
  mongo = await testMongo("pull");
  await ensureIndexes(mongo.db);
});
beforeEach(async () => {
  await mongo.db.collection(COLLECTIONS.events).deleteMany({});
  await mongo.db.collection(COLLECTIONS.deadLetters).deleteMany({});
  queue = new FakeCloudflareQueue({ token: TOKEN, maxRetries: 3 });
  await queue.start();
});
afterEach(async () => {
  await consumer?.stop();
  consumer = null;
  await queue.stop();
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("Cloudflare pull client", () => {
  it("drains the queue into MongoDB and acks every lease", async () => {
    for (let i = 0; i < 40; i++) queue.send(message(5));
    makeConsumer().start();
    await eventually(async () => (queue.backlog === 0 ? true : undefined), 15_000, "an empty queue");
    expect(await eventCount()).toBe(200);
    expect(queue.stats.acks).toBe(40);
    expect(queue.deadLetters).toHaveLength(0);
  });

  it("decodes bodies by CF-Content-Type: json, text and base64 bytes", async () => {
    const bodies = [message(1), message(1), message(1)];
    queue.send(bodies[0], "json");
    queue.send(JSON.stringify(bodies[1]), "text");
    queue.send(JSON.stringify(bodies[2]), "bytes");
    makeConsumer().start();
    await eventually(async () => (queue.backlog === 0 ? true : undefined), 10_000);
    const ids = (await mongo.db.collection(COLLECTIONS.events).find({}).toArray()).map((d) => d.eventId).sort();
    expect(ids).toEqual(bodies.map((b) => b.events[0]!.id).sort());
  });

  it("dead-letters a malformed or undecodable message at once into the store, without holding back the rest", async () => {
    const bad = queue.send("{not json", "text");
    const undecodable = queue.send("AAAA", "v8");
    for (let i = 0; i < 5; i++) queue.send(message(2));
    makeConsumer().start();
    await eventually(async () => (queue.backlog === 0 ? true : undefined), 15_000, "the queue to empty");
    expect(queue.deadLetters).toEqual([]); // nothing was retried until the queue gave up
    expect(queue.stats.retries).toBe(0);
    const letters = await mongo.db.collection<DeadLetter>(COLLECTIONS.deadLetters).find({ _id: { $in: [bad, undecodable] } }).sort({ _id: 1 }).toArray();
    expect(letters.map((l) => [l._id, l.reason, l.body])).toEqual(
      [
        [bad, "malformed", "{not json"],
        [undecodable, "malformed", "AAAA"],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
    expect(letters.find((l) => l._id === undecodable)!.error).toMatch(/v8/);
    expect(await eventCount()).toBe(10);
  });

  it("drains the dead-letter queue into the dead-letter store (production: what the queue gave up on)", async () => {
    await queue.stop();
    queue = new FakeCloudflareQueue({ token: TOKEN, maxRetries: 1, deadLetterQueue: "tracker-events-dlq" });
    await queue.start();
    const stuck = queue.send(message(1));
    for (let i = 0; i < 3; i++) queue.send(message(1));
    // a message whose every delivery fails transiently (as if its writes always timed out)
    const main = makeConsumer(mongo.db, {
      process: async (deliveries) => {
        const outcomes = await processBatch(deliveries.filter((d) => d.id !== stuck), { db: mongo.db });
        return [...outcomes, ...deliveries.filter((d) => d.id === stuck).map((d) => ({ id: d.id, action: "retry" as const, delaySeconds: 0, reason: "timeout" }))];
      },
    });
    main.start();
    const dlq = new PullConsumer({
      baseUrl: queue.url,
      accountId: "acct",
      queueId: "tracker-events-dlq",
      apiToken: TOKEN,
      emptyBackoffMs: { min: 20, max: 200 },
      process: (deliveries) => storeQueueDeadLetters(deliveries, { db: mongo.db, queue: "tracker-events-dlq" }),
    });
    dlq.start();
    try {
      const letter = await eventually(async () => (await mongo.db.collection<DeadLetter>(COLLECTIONS.deadLetters).findOne({ _id: stuck })) ?? undefined, 15_000, "the dead letter");
      expect(letter).toMatchObject({ queue: "tracker-events-dlq", reason: "queue", attempts: 1 });
      expect(JSON.parse(letter.body)).toMatchObject({ v: 1, siteId: "site-a" });
      await eventually(async () => (queue.dlqMessages.size === 0 ? true : undefined), 5_000, "an empty dead-letter queue");
      expect(await eventCount()).toBe(3);
    } finally {
      await dlq.stop();
    }
  });

  it("backs off while the queue is empty, and never runs more pulls at once than its concurrency", async () => {
    makeConsumer(mongo.db, { concurrency: 3 }).start();
    await new Promise((r) => setTimeout(r, 1500));
    // With 20 ms doubling to 400 ms, three loops make about 3 × 8 pulls in 1.5 s, not 3 × 75.
    expect(queue.stats.pulls).toBeLessThan(40);
    for (let i = 0; i < 60; i++) queue.send(message(1));
    await eventually(async () => (queue.backlog === 0 ? true : undefined), 10_000);
    expect(queue.stats.maxConcurrentPulls).toBeLessThanOrEqual(3);
  });

  it("MongoDB stopped in the middle of a drain: retries with delay, and once it is back nothing is lost or doubled", async () => {
    const port = testPort(41);
    const dataDir = join(TEST_DATA_DIR, `mongo-pull-outage-${Date.now()}`);
    // A file-backed server of our own: what was stored before the outage survives its restart.
    let server = await ensureMongo({ port, dataDir });
    // Fail fast while the server is down, so retries show up within the test's patience.
    const own = await connectMongo(server.url, "pull_outage", { serverSelectionTimeoutMS: 1000 });
    await ensureIndexes(own.db);
    for (let i = 0; i < 150; i++) queue.send(message(4));
    const c = makeConsumer(own.db, { process: (d) => processBatch(d, { db: own.db }) });
    c.start();
    await eventually(async () => (queue.stats.acks >= 20 ? true : undefined), 20_000, "the drain to be under way");
    await server.stop();
    const acksAtOutage = queue.stats.acks;
    await eventually(async () => (queue.stats.retries >= 10 ? true : undefined), 60_000, "retries while the database is down");
    expect(queue.stats.acks - acksAtOutage).toBeLessThanOrEqual(20); // at most the batches already written
    expect(queue.deadLetters).toHaveLength(0);
    server = await ensureMongo({ port, dataDir });
    try {
      // processBatch asks for a 5 s delay on a first failure, 10 s on a second; the fake queue honours them.
      await eventually(async () => (queue.backlog === 0 ? true : undefined), 60_000, "the queue to drain after the outage");
      const events = own.db.collection(COLLECTIONS.events);
      expect(await events.countDocuments()).toBe(600);
      expect((await events.distinct("eventId")).length).toBe(600);
      expect(queue.deadLetters).toHaveLength(0);
    } finally {
      await c.stop();
      consumer = null;
      await own.db.dropDatabase();
      await own.close();
      await server.stop();
    }
  }, 120_000);

  it("on SIGTERM stops pulling, finishes and acks what it holds; after SIGKILL, expired leases are redelivered; nothing is lost or doubled", async () => {
    for (let i = 0; i < 300; i++) queue.send(message(10));
    const env = toolEnv({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      INTERNAL_TOKEN: randomBytes(32).toString("hex"),
      BACKEND_PORT: String(testPort(42)),
      CLOUDFLARE_QUEUE_ID: "tracker-events",
      CLOUDFLARE_ACCOUNT_ID: "acct",
      CLOUDFLARE_API_TOKEN: TOKEN,
      QUEUES_API_URL: queue.url,
      PULL_BATCH_SIZE: "20",
      PULL_VISIBILITY_TIMEOUT_MS: "1500",
    });
    const startDrain = () => {
      const child = spawn(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "backend-consumer/src/main.ts")], { env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      return { child, exited, output: () => out };
    };

    const first = startDrain();
    await eventually(async () => (queue.stats.acks >= 50 ? true : undefined), 30_000, "some progress");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');
    // Graceful: every lease it held was settled before it exited.
    expect([...queue.messages.values()].filter((m) => m.lease && m.lease.until > Date.now())).toEqual([]);

    const second = startDrain();
    await eventually(async () => (queue.stats.acks >= 150 ? true : undefined), 30_000, "more progress");
    second.child.kill("SIGKILL");
    await second.exited;

    const third = startDrain();
    await eventually(async () => (queue.backlog === 0 ? true : undefined), 60_000, "the queue to drain");
    third.child.kill("SIGTERM");
    await third.exited;
    expect(await eventCount()).toBe(3000);
    expect(queue.deadLetters).toHaveLength(0);
  }, 120_000);
});
