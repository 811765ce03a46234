/**
 * An erase survives its backend being SIGKILLed in the middle: the plan is on record before anything is removed,
 * every step is idempotent, and another run (the resumer, after the lease lapses, or the client's retry) finishes
 * it. One kill lands in the settle step for sure; the others at random moments after the request was sent
 * (possibly before the request was recorded, when the client's retry starts it). Someone else's data is untouched.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage } from "#contracts";
import { mintToken } from "../src/api/auth.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { PRIVACY_REQUESTS, type EraseRequestDocument } from "../src/privacy/erase.ts";
import { connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";
import { prng } from "../../scripts/testing/prng.ts";

let stack: Stack;
let mongo: Mongo;
let token: string;
const tag = randomBytes(4).toString("hex");
const rand = prng(Number.parseInt(tag, 16));

function message(events: Record<string, unknown>[]): QueueMessage {
  return { v: 1, siteId: DEMO.siteId, retentionDays: 90, receivedAt: Date.now(), geo: {}, ip: "127.0.0.0", ua: "kill-test", events } as QueueMessage;
}

/** One person: three visitors (a submission, then two identifies with the same email) with page views around them. */
async function seedPerson(email: string): Promise<string[]> {
  const visitors = [0, 1, 2].map(() => crypto.randomUUID());
  const messages = visitors.map((visitorId, i) => {
    const sessionId = crypto.randomUUID();
    const base = { sessionId, visitorId, ts: Date.now() - 60_000 + i };
    const views = Array.from({ length: 30 }, (_, n) => ({ ...base, id: crypto.randomUUID(), type: "page_view", page: { url: `https://acme.example/p${n}`, path: `/p${n}` } }));
    const touch =
      i === 0
        ? { ...base, id: crypto.randomUUID(), type: "form_submission", form: { formId: "contact", fields: { email, name: "Kill Test" } } }
        : { ...base, id: crypto.randomUUID(), type: "identify", userId: email, traits: { email } };
    return message([...views, touch]);
  });
  const outcomes = await processBatch(messages.map((body, i) => ({ id: `seed-${email}-${i}`, body, attempts: 1 })), { db: mongo.db });
  expect(outcomes.every((o) => o.action === "ack" && !("deadLettered" in o && o.deadLettered))).toBe(true);
  await eventually(async () => ((await mongo.db.collection("leads").findOne({ email }))?.visitorIds?.length === 3 ? true : undefined), 10_000, "the lead with its three visitors");
  return visitors;
}

async function erase(email: string) {
  const res = await fetch(`${stack.backend.url}/v1/privacy/erase`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ email }) });
  return { status: res.status, body: (await res.json()) as { receiptId: string; state: string; removed: Record<string, number> } };
}

async function leftOf(email: string, visitors: string[]) {
  return {
    events: await mongo.db.collection("events").countDocuments({ visitorId: { $in: visitors } }),
    sessions: await mongo.db.collection("sessions").countDocuments({ visitorId: { $in: visitors } }),
    leads: await mongo.db.collection("leads").countDocuments({ email }),
    leadKeys: await mongo.db.collection("lead_keys").countDocuments({ _id: `${DEMO.siteId}|${email}` } as never),
  };
}

beforeAll(async () => {
  const dbName = uniqueDbName("erasekill");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, mariadbDb: uniqueDbName("erasekill"), siteKey: "demo-site", backendEnv: { PRIVACY_ERASE_LEASE_MS: "2000" } });
  mongo = await connectMongo(stack.mongo.url, dbName);
  token = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });
}, 180_000);

afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

describe("erase under SIGKILL", () => {
  it("finishes every erase whose backend was killed mid-way, removing the person and nothing else", async () => {
    const bystander = `bystander.${tag}@example.com`;
    const bystanderVisitors = await seedPerson(bystander);
    const before = await leftOf(bystander, bystanderVisitors);

    for (let round = 0; round < 4; round++) {
      const email = `kill${round}.${tag}@example.com`;
      const visitors = await seedPerson(email);
      expect(await leftOf(email, visitors)).toEqual({ events: 93, sessions: 3, leads: 1, leadKeys: 1 });
      const inFlight = erase(email).catch(() => null);
      if (round === 0) {
        // for sure in the middle: suppressed and the CRMs told, the settle wait running, nothing removed yet
        await eventually(async () => {
          const r = await mongo.db.collection<EraseRequestDocument>(PRIVACY_REQUESTS).findOne({ state: "running", done: "crm" });
          return r ?? undefined;
        }, 10_000, "the erase to reach its settle step");
      } else {
        // early (before or while the plan is recorded), in the settle wait, or around the removal at its end
        const windows = [[0, 60], [100, 1500], [1900, 2600]] as const;
        const [lo, hi] = windows[round - 1]!;
        await new Promise((r) => setTimeout(r, lo + Math.floor(rand() * (hi - lo))));
      }
      await stack.restartBackend("SIGKILL");
      await inFlight;

      const recorded = await mongo.db.collection<EraseRequestDocument>(PRIVACY_REQUESTS).find({ done: { $exists: true } }).sort({ createdAt: -1 }).limit(1).next();
      const mine = recorded && recorded.createdAt.getTime() > Date.now() - 30_000 && recorded.state === "running" ? recorded : null;
      const finished = recorded && recorded.createdAt.getTime() > Date.now() - 30_000 && recorded.state === "done" && round > 0 ? recorded : null;
      console.log(`erase kill round ${round}: ${mine ? `killed after [${mine.done.join(", ")}], resumed by the resumer` : finished ? "killed after it had finished" : "killed before it was recorded, started by the client's retry"}`);
      if (mine) {
        // the resumer finishes it once the dead runner's lease has lapsed
        await eventually(async () => ((await mongo.db.collection<EraseRequestDocument>(PRIVACY_REQUESTS).findOne({ _id: mine._id }))?.state === "done" ? true : undefined), 30_000, `erase ${round} to be resumed`);
      } else {
        // killed before it was recorded (or it had finished): the client's retry does it
        const retried = await erase(email);
        expect([200, 202]).toContain(retried.status);
        await eventually(async () => ((await mongo.db.collection<EraseRequestDocument>(PRIVACY_REQUESTS).findOne({ _id: retried.body.receiptId }))?.state === "done" ? true : undefined), 30_000, `erase ${round} to finish`);
      }
      expect(await leftOf(email, visitors), `round ${round}`).toEqual({ events: 0, sessions: 0, leads: 0, leadKeys: 0 });

      // asked again: nothing left to remove, and the answer says so
      const again = await erase(email);
      expect(again.status).toBe(200);
      expect(again.body.removed).toMatchObject({ events: 0, sessions: 0, leads: 0, leadKeys: 0 });
    }
    expect(await leftOf(bystander, bystanderVisitors)).toEqual(before);
  }, 240_000);
});
