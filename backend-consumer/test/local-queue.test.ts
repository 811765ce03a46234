/**
 * The local push path keeps the queue's real semantics: a message the backend cannot take is retried up to
 * max_retries, then moved to the dead-letter queue, whose consumer stores it once the backend is back.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";
import { queueStats } from "../../scripts/testing/stack.ts";

let stack: Stack;
let mongo: Mongo;

beforeAll(async () => {
  const dbName = uniqueDbName("queue");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, maxRetries: 1 });
  mongo = await connectMongo(stack.mongo.url, dbName);
});

afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

function edgeLog(): string {
  return readFileSync(join(TEST_DATA_DIR, "edge.log"), "utf8");
}

describe("local queue semantics", () => {
  it("retries while the backend is down, dead-letters after max_retries, and keeps the dead letter", async () => {
    await stack.backend.stop();
    const logStart = edgeLog().length;
    const event = { id: crypto.randomUUID(), type: "page_view", ts: Date.now(), sessionId: "s", visitorId: "v", page: { url: "https://a/" } };
    const res = await fetch(`${stack.edge.url}/v1/events`, {
      method: "POST",
      body: JSON.stringify({ siteKey: "demo-site", events: [event] }),
      headers: { "content-type": "text/plain", origin: stack.demoUrl.replace(/\/$/, "") },
    });
    expect(res.status).toBe(202);

    // First delivery and its one retry fail; then the dead-letter consumer starts trying.
    await eventually(
      async () => (edgeLog().slice(logStart).includes("tracker-events-dlq batch of 1 retried") ? true : undefined),
      20_000,
      "the message to reach the dead-letter queue",
    );
    const mainAttempts = edgeLog().slice(logStart).split("tracker-events batch of 1 retried").length - 1;
    expect(mainAttempts).toBe(2);

    await stack.restartBackend();
    await eventually(async () => ((await queueStats(stack)).deadLettered >= 1 ? true : undefined), 20_000, "the dead letter to be stored");
    const letters = await mongo.db.collection("dead_letters").find({ queue: "tracker-events-dlq" }).toArray();
    const letter = letters.find((l) => typeof l.body === "string" && l.body.includes(event.id));
    expect(letter).toMatchObject({ reason: "queue", encoding: "text" });
    expect(JSON.parse(letter!.body)).toMatchObject({ siteId: DEMO.siteId, events: [{ id: event.id }] });
    expect(await mongo.db.collection("events").countDocuments({ eventId: event.id })).toBe(0);
  });
});
