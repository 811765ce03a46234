/** `npm run dlq` as an operator runs it, against the test MongoDB: list, show, replay a repaired body, drop. */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processBatch } from "../../backend-consumer/src/drain/process-batch.ts";
import { COLLECTIONS, ensureIndexes } from "../../backend-consumer/src/store/mongo.ts";
import { ROOT } from "../lib/paths.ts";
import { testMongo } from "../testing/mongo.ts";

const run = promisify(execFile);
let mongo: Awaited<ReturnType<typeof testMongo>>;

function dlq(...args: string[]) {
  return run(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "scripts/dlq.ts"), ...args], {
    env: { ...process.env, MONGODB_URI: mongo.uri, MONGODB_DB: mongo.dbName },
  }).catch((err: { stdout: string; stderr: string; code: number }) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code }));
}

const event = { id: crypto.randomUUID(), type: "track", name: "t", ts: Date.now(), sessionId: "s", visitorId: "v", props: { "a\u0000b": 1 } };

beforeAll(async () => {
  mongo = await testMongo("dlqcli");
  await ensureIndexes(mongo.db);
  await processBatch([{ id: "msg-1", body: { v: 1, siteId: "site-a", receivedAt: Date.now(), geo: {}, ip: null, ua: null, events: [event] }, attempts: 1 }], { db: mongo.db });
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("npm run dlq", () => {
  it("lists and shows a dead letter", async () => {
    const list = await dlq("list");
    expect(list.stdout).toMatch(/msg-1#unstorable .* unstorable:nul_in_key .*waiting/);
    expect(list.stdout).toContain("1 dead letter(s)");
    const show = JSON.parse((await dlq("show", "msg-1#unstorable")).stdout) as { body: { events: { id: string }[] } };
    expect(show.body.events[0]!.id).toBe(event.id);
  });

  it("replays a repaired body once, and drops", async () => {
    const failed = await dlq("replay", "msg-1#unstorable");
    expect(failed.stdout).toMatch(/failed \(still refused: unstorable\)/);
    const dir = mkdtempSync(join(tmpdir(), "dlq-"));
    const repaired = { v: 1, siteId: "site-a", receivedAt: Date.now(), geo: {}, ip: null, ua: null, events: [{ ...event, props: { ab: 1 } }] };
    writeFileSync(join(dir, "body.json"), JSON.stringify(repaired));
    expect((await dlq("replay", "msg-1#unstorable", "--body", join(dir, "body.json"))).stdout).toContain("msg-1#unstorable: stored");
    expect((await dlq("replay", "--all")).stdout).toBe("");
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments({ eventId: event.id })).toBe(1);
    expect((await dlq("list")).stdout).toContain("0 dead letter(s)");
    expect((await dlq("list", "--all")).stdout).toMatch(/msg-1#unstorable .* replayed /);
    expect((await dlq("drop", "msg-1#unstorable")).stdout).toContain("dropped 1");
    expect((await dlq("bogus")).stderr).toMatch(/usage: npm run dlq/);
  });
});
