/**
 * Exactly-once under crashes: 50,000 events go through the local stack (edge Worker → local queue → dev sidecar
 * → backend processBatch → MongoDB) while the backend (the drain) is SIGKILLed at random moments, 20 times.
 * Afterwards: every event stored once, session counters adding up to exactly the events, one lead per email.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finalizeVisits } from "../src/rollups/finalizer.ts";
import { rebuildRollups } from "../src/rollups/rebuild.ts";
import { COLLECTIONS, connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { planBatches, postBatches } from "../../scripts/testing/load.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

const REQUESTS = Number(process.env.RELIABILITY_REQUESTS ?? 1000);
const EVENTS_PER_REQUEST = 50;
const KILLS = Number(process.env.RELIABILITY_KILLS ?? 20);

let stack: Stack;
let mongo: Mongo;

beforeAll(async () => {
  const dbName = uniqueDbName("reliability");
  // max_retries 100: while the drain is down the sidecar retries every 2 s; nothing should need the DLQ.
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, mariadbDb: uniqueDbName("reliability"), maxRetries: 100 });
  mongo = await connectMongo(stack.mongo.url, dbName);
});

afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

describe("reliability", () => {
  it(`${REQUESTS * EVENTS_PER_REQUEST} events, ${KILLS} SIGKILLs of the drain: 0 lost, 0 duplicated, 0 duplicate leads`, async () => {
    const { batches, emails, events } = planBatches({
      requests: REQUESTS,
      eventsPerRequest: EVENTS_PER_REQUEST,
      siteKey: "demo-site",
      submissionShare: 0.02,
      emails: 300,
      sessions: 400,
      seed: 7,
    });
    const sending = postBatches(stack.edge.url, batches, 8, stack.demoUrl.replace(/\/$/, ""));

    let kills = 0;
    const killing = (async () => {
      while (kills < KILLS) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
        await stack.restartBackend("SIGKILL");
        kills++;
      }
    })();
    await Promise.all([sending, killing]);
    expect(kills).toBe(KILLS);

    const eventsColl = mongo.db.collection(COLLECTIONS.events);
    // estimatedDocumentCount is cheap; a full count while the drain writes would compete with it for the 2 cores.
    let last = -1;
    await eventually(
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const n = await eventsColl.estimatedDocumentCount();
        if (n !== last) console.log(`reliability: ${n} / ${events} events stored`);
        last = n;
        return n >= events ? true : undefined;
      },
      300_000,
      `${events} events`,
    );
    // A batch in flight when the drain was killed may have stored its events but not yet its leads: its redelivery
    // (after the backend restarts and the queue's retry delay) completes them. Wait for that, then let any other
    // redelivery still in flight land before counting for duplicates.
    const leadsColl = mongo.db.collection(COLLECTIONS.leads);
    await eventually(async () => ((await leadsColl.countDocuments({ siteId: DEMO.siteId })) >= emails.size ? true : undefined), 60_000, `${emails.size} leads`);
    await new Promise((r) => setTimeout(r, 3000));

    expect(await eventsColl.countDocuments()).toBe(events);
    expect((await eventsColl.distinct("eventId")).length).toBe(events);
    const sessions = await mongo.db.collection(COLLECTIONS.sessions).find({}, { projection: { eventCount: 1 } }).toArray();
    expect(sessions.reduce((n, s) => n + s.eventCount, 0)).toBe(events);
    const leads = await mongo.db.collection(COLLECTIONS.leads).find({ siteId: DEMO.siteId }).toArray();
    expect(leads.length).toBe(emails.size);
    expect(new Set(leads.map((l) => l.email)).size).toBe(leads.length);
    expect(await mongo.db.collection(COLLECTIONS.deadLetters).countDocuments()).toBe(0);

    // The statistics kept at write time through all those crashes equal a rebuild from the raw events, and so do
    // the visits once counted (the finalizer runs here as if the sessions had long been idle).
    await finalizeVisits({ db: mongo.db, now: () => Date.now() + 2 * 3_600_000, batchSize: 100_000 });
    const dayAt = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const report = await rebuildRollups(mongo.db, { siteId: DEMO.siteId, from: dayAt(-1), to: dayAt(1), timezone: "UTC" });
    expect(report.events).toBe(events);
    expect(report.visits).toBe(sessions.length);
    expect(report.mismatches).toEqual([]);
  }, 400_000);
});
