/**
 * The retention sweep on the MongoDB-compatible server, which never expires TTL documents: documents made by the
 * real drain (processBatch), finalizer and delivery worker, a clock the test controls (received-at times in the
 * past, the sweep's `now`), and what is deleted, what stays, in which batches, and how fast.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ActivityQueueMessage, QueueMessage, TrackerEvent } from "#contracts";
import type { Connector, DeliveryItem, ItemResult } from "../src/crm/connectors/types.ts";
import type { DestinationDirectory, SiteRouting } from "../src/crm/directory.ts";
import { LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { DELIVERY_STATUS, DeliveryWorker } from "../src/crm/worker.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { RETENTION_STATE, ROLLUP_RUNS_KEEP_MS, startRetentionSweep, sweepRetention, type SweepCounts, type SweepResult } from "../src/privacy/retention.ts";
import { finalizeVisits } from "../src/rollups/finalizer.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";

let mongo: Awaited<ReturnType<typeof testMongo>>;
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The start of the story; every time below is relative to it. */
const T0 = Date.UTC(2025, 0, 6, 9);
const UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const SITES = { a: { id: "site-a", retentionDays: 30 }, b: { id: "site-b", retentionDays: 90 } } as const;

let seq = 0;
function event(type: TrackerEvent["type"], at: number, over: Partial<TrackerEvent> = {}): TrackerEvent {
  return { id: crypto.randomUUID(), type, ts: at - 1000 + (seq++ % 500), sessionId: "s1", visitorId: "v1", page: { url: "https://shop.example/" }, ...over };
}
/** A queue message as the edge makes it: the site's retention, received at `at`. */
function message(site: { id: string; retentionDays: number }, at: number, events: TrackerEvent[]): QueueMessage {
  return { v: 1, siteId: site.id, retentionDays: site.retentionDays, timezone: "Europe/Berlin", receivedAt: at, geo: { country: "DE" }, ip: "203.0.113.0", ua: UA, events };
}
let deliveryId = 0;
async function deliver(...messages: QueueMessage[]): Promise<void> {
  const outcomes = await processBatch(
    messages.map((body) => ({ id: `m${deliveryId++}`, body, attempts: 1 })),
    { db: mongo.db },
  );
  expect(outcomes.every((o) => o.action === "ack" && !("deadLettered" in o && o.deadLettered))).toBe(true);
}
/** A visit on `site` at `at`: session start, two page views, engagement, a custom event (rollups and a session). */
function visit(site: { id: string; retentionDays: number }, at: number, session: string): QueueMessage {
  const ids = { sessionId: session, visitorId: `vis-${session}` };
  return message(site, at, [
    event("session_start", at, { ...ids, attribution: { utm: { source: "news" }, landingPage: "https://shop.example/?utm_source=news" } }),
    event("page_view", at, { ...ids, page: { url: "https://shop.example/" } }),
    event("page_view", at, { ...ids, page: { url: "https://shop.example/pricing" } }),
    event("engagement", at, { ...ids, props: { engagedMs: 4000 } }),
    event("track", at, { ...ids, name: "cta", props: { plan: "pro" } }),
  ]);
}
const formEvent = (type: "form_interaction" | "form_submission", at: number, email: string, session: string) =>
  event(type, at, { sessionId: session, visitorId: `vis-${session}`, form: { formId: "contact", fields: { email, name: "Ada Lovelace" } } });

const count = (name: string, filter: Record<string, unknown> = {}) => mongo.db.collection(name).countDocuments(filter);
const leadByEmail = (email: string, siteId: string = SITES.a.id) => mongo.db.collection<{ _id: string }>(COLLECTIONS.leads).findOne({ siteId, email });

/** Sweeps until caught up; returns every step's result. */
async function sweepAll(now: number, batchSize = 1000): Promise<SweepResult[]> {
  const steps: SweepResult[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const r = await sweepRetention({ db: mongo.db, now: new Date(now), batchSize, leadCursor: cursor });
    steps.push(r);
    cursor = r.leadCursor;
    if (!r.more) return steps;
  }
  throw new Error("the sweep never caught up");
}
const total = (steps: SweepResult[]): SweepCounts =>
  steps.reduce(
    (acc, s) => Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, v + s.deleted[k as keyof SweepCounts]])) as unknown as SweepCounts,
    { events: 0, sessions: 0, rollups: 0, rollup_runs: 0, leads: 0, lead_keys: 0, lead_outbox: 0, delivery_status: 0, activity_events: 0, activity_days: 0, activity_team: 0, activity_team_pages: 0 } as SweepCounts,
  );
const nothing = (c: SweepCounts) => Object.values(c).every((n) => n === 0);

beforeAll(async () => {
  mongo = await testMongo("retention");
  await ensureIndexes(mongo.db);
});
beforeEach(async () => {
  for (const c of [...Object.values(COLLECTIONS), LEAD_OUTBOX, DELIVERY_STATUS, RETENTION_STATE]) await mongo.db.collection(c).deleteMany({});
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("events, sessions and rollups", () => {
  it("deletes what expired and keeps what did not, per site retention", async () => {
    // site a (30 days): an old visit and a recent one; site b (90 days): an old visit
    await deliver(visit(SITES.a, T0, "a-old"), visit(SITES.b, T0, "b-old"));
    await deliver(visit(SITES.a, T0 + 20 * DAY, "a-new"));
    // the visits counted by the finalizer (visit rollups, a finalizer run)
    expect((await finalizeVisits({ db: mongo.db, now: () => T0 + 21 * DAY })).visits).toBe(3);
    const before = { events: await count(COLLECTIONS.events), sessions: await count(COLLECTIONS.sessions), rollups: await count(COLLECTIONS.rollups) };
    expect(before).toMatchObject({ events: 15, sessions: 3 });

    // day 31: site a's old visit is past its 30 days (rollups: a day more), site b's is not
    const now = T0 + 31 * DAY;
    const done = total(await sweepAll(now));
    for (const name of [COLLECTIONS.events, COLLECTIONS.sessions, COLLECTIONS.rollups]) {
      expect(await count(name, { expireAt: { $lte: new Date(now) } }), name).toBe(0);
    }
    expect(await count(COLLECTIONS.events, { sessionId: "a-old" })).toBe(0);
    expect(await count(COLLECTIONS.events, { sessionId: "a-new" })).toBe(5);
    expect(await count(COLLECTIONS.events, { sessionId: "b-old" })).toBe(5);
    expect((await mongo.db.collection(COLLECTIONS.sessions).find({}).toArray()).map((s) => s.sessionId).sort()).toEqual(["a-new", "b-old"]);
    expect(await count(COLLECTIONS.rollups, { siteId: SITES.b.id })).toBeGreaterThan(0);
    expect(done).toMatchObject({ events: 5, sessions: 1 });
    expect(done.rollups).toBe(before.rollups - (await count(COLLECTIONS.rollups)));
    // site a's old rollups went: what is left of site a is the recent visit's day
    const left = await mongo.db.collection(COLLECTIONS.rollups).find({ siteId: SITES.a.id }).toArray();
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((r) => r.expireAt.getTime() > now)).toBe(true);

    // day 91: site b's visit is past its 90 days, site a's recent one too (20 + 30 days)
    total(await sweepAll(T0 + 92 * DAY));
    expect(await count(COLLECTIONS.events)).toBe(0);
    expect(await count(COLLECTIONS.sessions)).toBe(0);
    expect(await count(COLLECTIONS.rollups)).toBe(0);
  });

  it("deletes team activity past the tenant's retention (raw events and every rollup), and keeps what is not", async () => {
    const activity = (at: number, user: string): ActivityQueueMessage => ({
      v: 1,
      kind: "activity",
      receivedAt: at,
      actor: { userId: user, tenantId: "tenant-1", locationId: "loc-1", role: "location", timezone: "Europe/Berlin", retentionDays: 30 },
      events: [
        { type: "view", id: `${user}-${at}-v`, ts: at - 2000, session: "s", view: `w-${at}`, path: "/v2/location/:locationId/contacts", page: "Contacts" },
        { type: "time", id: `${user}-${at}-t`, ts: at - 1000, session: "s", view: `w-${at}`, path: "/v2/location/:locationId/contacts", page: "Contacts", ms: 1000 },
      ],
    });
    const outcomes = await processBatch([activity(T0, "u-old"), activity(T0 + 20 * DAY, "u-new")].map((body) => ({ id: `m${deliveryId++}`, body, attempts: 1 })), { db: mongo.db });
    expect(outcomes.every((o) => o.action === "ack" && !("deadLettered" in o && o.deadLettered))).toBe(true);
    const names = [COLLECTIONS.activityEvents, COLLECTIONS.activityDays, COLLECTIONS.activityTeam, COLLECTIONS.activityTeamPages];
    for (const name of names) expect(await count(name), name).toBeGreaterThan(0);

    const now = T0 + 31 * DAY;
    const done = total(await sweepAll(now));
    for (const name of names) {
      expect(await count(name, { expireAt: { $lte: new Date(now) } }), name).toBe(0);
      expect(await count(name), `${name} keeps the recent day`).toBeGreaterThan(0);
    }
    expect(await count(COLLECTIONS.activityEvents, { userId: "u-old" })).toBe(0);
    expect(await count(COLLECTIONS.activityEvents, { userId: "u-new" })).toBe(2);
    expect(done).toMatchObject({ activity_events: 2, activity_days: 1 });
    expect(done.activity_team + done.activity_team_pages).toBeGreaterThanOrEqual(2);

    total(await sweepAll(T0 + 52 * DAY));
    for (const name of names) expect(await count(name), name).toBe(0);
  });

  it("removes finished finalizer runs after a week, never a claimed one", async () => {
    await deliver(visit(SITES.a, T0, "s1"));
    await finalizeVisits({ db: mongo.db, now: () => T0 + HOUR });
    await mongo.db.collection(COLLECTIONS.rollupRuns).insertOne({ _id: "claimed-run" as never, state: "claimed", at: new Date(T0) });
    expect(total(await sweepAll(T0 + 2 * DAY)).rollup_runs).toBe(0);
    expect(total(await sweepAll(T0 + HOUR + ROLLUP_RUNS_KEEP_MS + 1)).rollup_runs).toBe(1);
    expect(await mongo.db.collection(COLLECTIONS.rollupRuns).find({}).toArray()).toEqual([expect.objectContaining({ _id: "claimed-run", state: "claimed" })]);
  });

  it("is harmless where a TTL monitor deletes too: what is gone already is not an error", async () => {
    for (let i = 0; i < 4; i++) await deliver(visit(SITES.a, T0, `s${i}`));
    // a TTL monitor (real MongoDB) got to half of it first
    const some = await mongo.db.collection(COLLECTIONS.events).find({}).limit(10).toArray();
    await mongo.db.collection(COLLECTIONS.events).deleteMany({ _id: { $in: some.map((e) => e._id) } });
    await mongo.db.collection(COLLECTIONS.sessions).deleteOne({ sessionId: "s0" });
    const done = total(await sweepAll(T0 + 31 * DAY));
    expect(done).toMatchObject({ events: 10, sessions: 3 });
    expect(await count(COLLECTIONS.events)).toBe(0);
  });
});

/** A CRM stand-in: a destination taking partial leads, refusing those whose email starts with "refuse". */
function stubDirectory(delivered: DeliveryItem[]): DestinationDirectory {
  const connector: Connector = {
    kind: "stub",
    label: "Stub",
    configSchema: z.object({}),
    secret: { required: false, describe: "none" },
    maxBatch: 50,
    rateLimit: { requests: 10_000, windowMs: 1000 },
    sendsDeletes: false,
    async deliver(items): Promise<ItemResult[]> {
      delivered.push(...items);
      return items.map((i) => (i.lead?.email.startsWith("refuse") ? { ok: false, error: "400 invalid contact", retryable: false } : { ok: true, externalId: `c-${i.leadId}` }));
    },
  };
  const routing = (siteId: string): SiteRouting => ({
    siteId,
    tenantId: "t1",
    locationId: "l1",
    destinations: [{ id: "dest-1", tenantId: "t1", kind: "stub", name: "Stub CRM", sendPartial: true, config: {}, secret: null, connector }],
    mappings: [],
  });
  return { forSite: async (siteId: string) => routing(siteId), invalidate() {} } as unknown as DestinationDirectory;
}

describe("leads", () => {
  it("keeps submitted, delivered and edited leads; removes other leads once their sessions are past retention", async () => {
    // day 0, site a (30 days)
    await deliver(
      message(SITES.a, T0, [formEvent("form_submission", T0, "submitted@example.com", "s-sub")]),
      message(SITES.a, T0, [formEvent("form_interaction", T0, "partial@example.com", "s-par")]),
      message(SITES.a, T0, [event("identify", T0, { sessionId: "s-idf", visitorId: "vis-idf", traits: { email: "identified@example.com", plan: "pro" } })]),
      message(SITES.a, T0, [formEvent("form_interaction", T0, "later@example.com", "s-lat1")]),
      message(SITES.a, T0, [formEvent("form_interaction", T0, "upgraded@example.com", "s-upg")]),
      message(SITES.a, T0, [formEvent("form_interaction", T0, "edited@example.com", "s-edi")]),
      message(SITES.a, T0, [formEvent("form_interaction", T0, "refused@example.com", "s-ref")]),
      // site b (90 days)
      message(SITES.b, T0, [formEvent("form_interaction", T0, "partial@example.com", "s-b")]),
    );
    // the partial that later became a submission; the partial with a later interaction (day 5, a new session)
    await deliver(message(SITES.a, T0 + HOUR, [formEvent("form_submission", T0 + HOUR, "upgraded@example.com", "s-upg")]));
    await deliver(message(SITES.a, T0 + 5 * DAY, [formEvent("form_interaction", T0 + 5 * DAY, "later@example.com", "s-lat2")]));
    // the owner edited one (what PATCH /v1/leads/:id writes: a history entry, a new version)
    const edited = await leadByEmail("edited@example.com");
    await mongo.db
      .collection<{ _id: string }>(COLLECTIONS.leads)
      .updateOne({ _id: edited!._id }, { $set: { notes: "call back" }, $inc: { v: 1 }, $push: { history: { at: new Date(T0), by: { userId: "u1", email: "owner@agency.example" }, changes: [{ field: "notes", from: null, to: "call back" }] } } } as never);
    // CRM delivery: everything is offered to a destination taking partials; "refused@" is refused for good
    const delivered: DeliveryItem[] = [];
    const worker = new DeliveryWorker({ db: mongo.db, directory: stubDirectory(delivered) }, { batch: 100, parallelRounds: 1 });
    while ((await count(LEAD_OUTBOX)) > 0) await worker.tick();
    const delivery = mongo.db.collection(DELIVERY_STATUS);
    expect(await delivery.countDocuments({ status: "delivered" })).toBe(7);
    expect(await delivery.countDocuments({ status: "failed" })).toBe(1);
    // Undo the deliveries of all but the submitted leads (as if their destination had not taken partial leads):
    // below, the leads delivered are the submitted ones and "delivered@", and "refused@" failed for good.
    const undelivered = ["partial@example.com", "identified@example.com", "later@example.com", "edited@example.com"];
    for (const email of undelivered) for (const siteId of [SITES.a.id, SITES.b.id]) {
      const lead = await leadByEmail(email, siteId);
      if (lead) await delivery.deleteMany({ leadId: lead._id });
    }
    // a partial lead on site a delivered to the CRM: kept for the CRM's sake
    await deliver(message(SITES.a, T0, [formEvent("form_interaction", T0, "delivered@example.com", "s-del")]));
    while ((await count(LEAD_OUTBOX)) > 0) await worker.tick();
    expect(await delivery.countDocuments({ leadId: (await leadByEmail("delivered@example.com"))!._id, status: "delivered" })).toBe(1);
    const leadIds = Object.fromEntries(
      await Promise.all(
        ["submitted", "partial", "identified", "later", "upgraded", "edited", "refused", "delivered"].map(async (n) => [n, (await leadByEmail(`${n}@example.com`))!._id]),
      ),
    );
    const siteBPartial = (await leadByEmail("partial@example.com", SITES.b.id))!._id;
    expect(await count(COLLECTIONS.leads)).toBe(9);

    // day 29: nothing of site a has expired yet
    expect(total(await sweepAll(T0 + 29 * DAY)).leads).toBe(0);

    // day 31: the partial and identified leads of site a are past its 30 days
    const day31 = total(await sweepAll(T0 + 31 * DAY));
    const left = async () => (await mongo.db.collection(COLLECTIONS.leads).find({}, { projection: { _id: 1 } }).toArray()).map((l) => l._id as unknown as string).sort();
    expect(await left()).toEqual(
      [leadIds.submitted, leadIds.later, leadIds.upgraded, leadIds.edited, leadIds.delivered, siteBPartial].sort(),
    );
    expect(day31).toMatchObject({ leads: 3, lead_keys: 3, delivery_status: 1 });
    // their keys and delivery statuses went with them; the kept leads' stay
    const keys = await mongo.db.collection(COLLECTIONS.leadKeys).find({}).toArray();
    expect(keys.map((k) => k.leadId).sort()).toEqual((await left()).sort());
    expect(await delivery.countDocuments({ leadId: leadIds.refused })).toBe(0);
    expect(await delivery.countDocuments({ leadId: leadIds.delivered })).toBe(1);

    // day 36: the lead with an interaction on day 5 is past retention too; site b's is not
    expect(total(await sweepAll(T0 + 36 * DAY)).leads).toBe(1);
    expect(await leadByEmail("later@example.com")).toBeNull();
    expect(await leadByEmail("partial@example.com", SITES.b.id)).not.toBeNull();

    // day 91: site b's partial goes; a year on, the submitted, delivered and edited leads are still there
    expect(total(await sweepAll(T0 + 91 * DAY)).leads).toBe(1);
    expect(total(await sweepAll(T0 + 400 * DAY)).leads).toBe(0);
    expect(await left()).toEqual([leadIds.submitted, leadIds.upgraded, leadIds.edited, leadIds.delivered].sort());
    expect(await count(COLLECTIONS.leadKeys)).toBe(4);
    // and the raw data behind them is gone
    expect(await count(COLLECTIONS.events)).toBe(0);
    expect(await count(COLLECTIONS.sessions)).toBe(0);
  });

  it("leaves a lead the drain touches again: a new session keeps it, a new key keeps the email's new lead apart", async () => {
    await deliver(message(SITES.a, T0, [formEvent("form_interaction", T0, "back@example.com", "s1")]));
    const first = (await leadByEmail("back@example.com"))!._id;
    // day 40: the old lead expired, but the person is back before the sweep ran: the key's window (7 days) has
    // passed, so the drain made a new lead; the sweep removes the old one and not the new one's key
    await deliver(message(SITES.a, T0 + 40 * DAY, [formEvent("form_interaction", T0 + 40 * DAY, "back@example.com", "s2")]));
    const leads = await mongo.db.collection<{ _id: string }>(COLLECTIONS.leads).find({}).toArray();
    expect(leads).toHaveLength(2);
    const second = leads.find((l) => l._id !== first)!._id;
    expect(total(await sweepAll(T0 + 41 * DAY))).toMatchObject({ leads: 1, lead_keys: 0 });
    expect(await mongo.db.collection(COLLECTIONS.leadKeys).find({}).toArray()).toEqual([expect.objectContaining({ _id: "site-a|back@example.com", leadId: second })]);
    expect((await mongo.db.collection(COLLECTIONS.leads).find({}).toArray()).map((l) => l._id)).toEqual([second]);
  });
});

describe("batches, repetition, concurrency", () => {
  async function expiredSet(n: number): Promise<void> {
    // n visits and n partial leads on site a at day 0, all past retention on day 31
    const messages: QueueMessage[] = [];
    for (let i = 0; i < n; i++) messages.push(visit(SITES.a, T0, `s${i}`), message(SITES.a, T0, [formEvent("form_interaction", T0, `p${i}@example.com`, `s${i}`)]));
    for (let i = 0; i < messages.length; i += 20) await deliver(...messages.slice(i, i + 20));
  }

  it("a batch smaller than what expired takes several calls, each deleting at most the batch", async () => {
    await expiredSet(25);
    const counts = { events: await count(COLLECTIONS.events), sessions: await count(COLLECTIONS.sessions), rollups: await count(COLLECTIONS.rollups), leads: await count(COLLECTIONS.leads) };
    expect(counts).toMatchObject({ events: 150, sessions: 25, leads: 25 });
    const steps = await sweepAll(T0 + 31 * DAY, 10);
    for (const s of steps) {
      for (const [name, n] of Object.entries(s.deleted)) expect(n, name).toBeLessThanOrEqual(10);
      expect(s.leadsExamined).toBeLessThanOrEqual(10);
    }
    // 150 events in batches of 10: 15 full calls, and one to see that nothing is left
    expect(steps.length).toBeGreaterThanOrEqual(15);
    expect(steps.slice(0, 15).every((s) => s.deleted.events === 10)).toBe(true);
    expect(steps.filter((s) => s.deleted.sessions > 0).length).toBe(3);
    expect(steps.filter((s) => s.deleted.leads > 0).length).toBe(3);
    expect(total(steps)).toMatchObject({ events: 150, sessions: 25, rollups: counts.rollups, leads: 25, lead_keys: 25 });
    expect(steps.at(-1)!.more).toBe(false);
  });

  it("a second sweep deletes nothing", async () => {
    await expiredSet(5);
    expect(nothing(total(await sweepAll(T0 + 31 * DAY)))).toBe(false);
    expect(nothing(total(await sweepAll(T0 + 31 * DAY)))).toBe(true);
    expect(nothing(total(await sweepAll(T0 + 31 * DAY, 2)))).toBe(true);
  });

  it("sweeps running side by side delete each document once between them", async () => {
    await expiredSet(20);
    const expected = { events: await count(COLLECTIONS.events), sessions: await count(COLLECTIONS.sessions), rollups: await count(COLLECTIONS.rollups), leads: 20 };
    const [x, y, z2] = await Promise.all([sweepAll(T0 + 31 * DAY, 7), sweepAll(T0 + 31 * DAY, 7), sweepAll(T0 + 31 * DAY, 7)]);
    const sum = [x!, y!, z2!].map(total).reduce((a, b) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + b[k as keyof SweepCounts]])) as unknown as SweepCounts);
    expect(sum).toMatchObject(expected);
    for (const name of [COLLECTIONS.events, COLLECTIONS.sessions, COLLECTIONS.rollups, COLLECTIONS.leads, COLLECTIONS.leadKeys]) expect(await count(name), name).toBe(0);
  });
});

describe("the runner", () => {
  it("sweeps every interval until caught up; of two backends, one sweeps at a time", async () => {
    await deliver(visit(SITES.a, T0, "s1"), message(SITES.a, T0, [formEvent("form_interaction", T0, "p@example.com", "s1")]));
    let clock = T0 + 31 * DAY;
    const logs: string[] = [];
    const opts = { db: mongo.db, now: () => clock, intervalMs: 60 * 60_000, initialDelayMs: 10 * 60_000, batchSize: 2, log: (msg: string) => logs.push(msg) };
    const one = startRetentionSweep(opts);
    const two = startRetentionSweep(opts);
    try {
      const [a, b] = await Promise.all([one.runOnce(), two.runOnce()]);
      expect([a, b].sort()).toEqual([false, true]);
      const ran = a ? one : two;
      expect(ran.lastRun).toMatchObject({ events: 6, sessions: 1, leads: 1, lead_keys: 1 });
      expect(ran.lastRun!.steps).toBeGreaterThan(2);
      expect(ran.lastRunAt).toEqual(new Date(clock));
      expect(one.lastError).toBeNull();
      // not due again until an interval after the last one began, whichever backend asks
      clock += 30 * 60_000;
      expect(await one.runOnce()).toBe(false);
      expect(await two.runOnce()).toBe(false);
      expect(two.lastRunAt).toEqual(ran.lastRunAt);
      clock += 31 * 60_000;
      expect(await two.runOnce()).toBe(true);
      expect(two.lastRun).toMatchObject({ events: 0, leads: 0 });
      const state = await mongo.db.collection(RETENTION_STATE).findOne({});
      expect(state).toMatchObject({ lastRun: { events: 0 }, until: new Date(clock + 60 * 60_000) });
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it("runs on its own after the initial delay, and a holder that died is replaced once its lease runs out", async () => {
    await deliver(visit(SITES.a, T0, "s1"));
    let clock = T0 + 31 * DAY;
    // a backend that died mid-sweep: its lease runs until +60 s
    await mongo.db.collection(RETENTION_STATE).insertOne({ _id: "sweep" as never, v: 3, owner: "dead", until: new Date(clock + 60_000) });
    const sweeper = startRetentionSweep({ db: mongo.db, now: () => clock, intervalMs: 100, initialDelayMs: 0 });
    try {
      await new Promise((r) => setTimeout(r, 400));
      expect(await count(COLLECTIONS.events)).toBe(5);
      clock += 61_000;
      const deadline = Date.now() + 10_000;
      while ((await count(COLLECTIONS.events)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await count(COLLECTIONS.events)).toBe(0);
      expect(sweeper.lastError).toBeNull();
    } finally {
      await sweeper.stop();
    }
  });
});

describe("cost on the compatible server", () => {
  it("sweeps tens of thousands of documents in bounded batches in reasonable time", { timeout: 600_000 }, async () => {
    // 40,000 events in 800 messages of 50 (three in four expired), through the drain; 800 sessions; 267 partial
    // leads (200 expired)
    const messages: QueueMessage[] = [];
    for (let m = 0; m < 800; m++) {
      const old = m % 4 !== 3;
      const at = old ? T0 : T0 + 20 * DAY;
      const session = `load-${m % 1000}`;
      const events: TrackerEvent[] = [];
      for (let i = 0; i < 50; i++) {
        events.push(
          m % 3 === 0 && i === 0
            ? formEvent("form_interaction", at, `load${m}@example.com`, session)
            : event("page_view", at, { sessionId: session, visitorId: `vis-${session}`, page: { url: `https://shop.example/p/${(m * 7 + i) % 40}` } }),
        );
      }
      messages.push(message(SITES.a, at, events));
    }
    let t = performance.now();
    for (let i = 0; i < messages.length; i += 20) await deliver(...messages.slice(i, i + 20));
    const writeMs = performance.now() - t;
    const before = { events: await count(COLLECTIONS.events), sessions: await count(COLLECTIONS.sessions), rollups: await count(COLLECTIONS.rollups), leads: await count(COLLECTIONS.leads) };
    expect(before.events).toBe(40_000);

    t = performance.now();
    const steps = await sweepAll(T0 + 31 * DAY, 1000);
    const sweepMs = performance.now() - t;
    const done = total(steps);
    t = performance.now();
    const again = total(await sweepAll(T0 + 31 * DAY, 1000));
    const idleMs = performance.now() - t;
    console.log(
      `retention sweep on the compatible server: ${JSON.stringify(before)} stored in ${Math.round(writeMs)} ms; ` +
        `deleted ${JSON.stringify(done)} in ${steps.length} steps, ${Math.round(sweepMs)} ms; a sweep with nothing to do: ${Math.round(idleMs)} ms`,
    );
    expect(done.events).toBe(30_000);
    expect(done.sessions).toBe(600);
    expect(done.leads).toBe(200);
    expect(nothing(again)).toBe(true);
    expect(await count(COLLECTIONS.events)).toBe(10_000);
    expect(sweepMs).toBeLessThan(120_000);
  });
});
