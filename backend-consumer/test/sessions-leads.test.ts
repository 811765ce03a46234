/** Sessions and leads on the real MongoDB-compatible server: exactly-once counts, dedupe windows, merges, races. */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { processBatch, type Delivery } from "../src/drain/process-batch.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import type { LeadDocument } from "../src/store/leads.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR } from "../../scripts/testing/ports.ts";

const run = promisify(execFile);
let mongo: Awaited<ReturnType<typeof testMongo>>;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1, 12);
const CHROME_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

let seq = 0;
function event(type: TrackerEvent["type"], over: Partial<TrackerEvent> = {}): TrackerEvent {
  return { id: crypto.randomUUID(), type, ts: T0 + seq++ * 1000, sessionId: "s1", visitorId: "v1", ...over };
}
function message(events: TrackerEvent[], over: Partial<QueueMessage> = {}): QueueMessage {
  return { v: 1, siteId: "site-a", receivedAt: T0, geo: { country: "DE" }, ip: "203.0.113.0", ua: CHROME_WINDOWS, events, ...over };
}
let deliveryId = 0;
const deliver = (...messages: QueueMessage[]) =>
  processBatch(messages.map((body) => ({ id: `m${deliveryId++}`, body, attempts: 1 })), { db: mongo.db });
const submission = (fields: Record<string, string>, over: Partial<TrackerEvent> = {}) =>
  event("form_submission", { form: { formId: "contact", fields }, ...over });
const leads = () => mongo.db.collection(COLLECTIONS.leads).find({}).toArray();
const session = (id = "s1") => mongo.db.collection(COLLECTIONS.sessions).findOne({ _id: `site-a|${id}` as never });

beforeAll(async () => {
  mongo = await testMongo("leads");
  await ensureIndexes(mongo.db);
});
beforeEach(async () => {
  for (const c of Object.values(COLLECTIONS)) await mongo.db.collection(c).deleteMany({});
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("sessions", () => {
  it("upserts start, end, duration, counts, pages, attribution, device and geo", async () => {
    const attribution = { utm: { source: "google", medium: "cpc" }, clickIds: { gclid: "g1" }, referrer: "https://google.com/", landingPage: "https://shop.example/?utm_source=google" };
    await deliver(message([event("session_start", { attribution }), event("page_view", { page: { url: "https://shop.example/" } })]));
    await deliver(message([event("page_view", { page: { url: "https://shop.example/contact" } }), submission({ email: "a@b.co" })]));
    const s = await session();
    expect(s).toMatchObject({
      siteId: "site-a",
      visitorId: "v1",
      eventCount: 4,
      pageViews: 2,
      formSubmissions: 1,
      attribution,
      landingPage: attribution.landingPage,
      referrer: attribution.referrer,
      browser: "Chrome",
      os: "Windows",
      device: "desktop",
      geo: { country: "DE" },
    });
    expect(s!.pages.map((p: { url: string }) => p.url)).toEqual(["https://shop.example/", "https://shop.example/contact"]);
    expect(s!.durationMs).toBe(s!.endedAt.getTime() - s!.startedAt.getTime());
    expect(s!.durationMs).toBe(3000);
  });

  it("counts each event once, however often and in whatever grouping it is delivered", async () => {
    const a = event("page_view");
    const b = event("page_view");
    const c = event("track", { name: "x" });
    await deliver(message([a, b]));
    await deliver(message([a, b])); // redelivery of the same message
    await deliver(message([b, c])); // a browser retry that mixes an old event with a new one
    await deliver(message([a]), message([c])); // both old, in one batch
    expect(await session()).toMatchObject({ eventCount: 3, pageViews: 2 });
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments()).toBe(3);
  });
});

describe("leads", () => {
  it("a submission makes a submitted, high-quality lead with the session's attribution", async () => {
    const attribution = { utm: { source: "news" }, referrer: "https://news.example/", landingPage: "https://shop.example/l" };
    await deliver(message([event("session_start", { attribution }), submission({ email: "Ada@Example.com", name: "Ada King Lovelace", phone: "+44 20" })]));
    const [lead] = await leads();
    expect(lead).toMatchObject({
      siteId: "site-a",
      email: "ada@example.com",
      status: "submitted",
      quality: "high",
      firstName: "Ada",
      lastName: "King Lovelace",
      phone: "+44 20",
      utm: { source: "news" },
      referrer: "https://news.example/",
      landingPage: "https://shop.example/l",
      visitorIds: ["v1"],
      sessionIds: ["s1"],
      formIds: ["contact"],
    });
    expect(lead!.submittedAt).toEqual(new Date(T0));
  });

  it("a partial then a submission is one lead, upgraded; a later partial never downgrades it", async () => {
    await deliver(message([event("form_interaction", { form: { formId: "contact", fields: { email: "a@b.co" } } })]));
    expect((await leads())[0]).toMatchObject({ status: "partial", quality: "medium" });
    await deliver(message([submission({ email: "a@b.co", name: "Ada" })], { receivedAt: T0 + HOUR }));
    await deliver(message([event("form_interaction", { form: { formId: "contact", fields: { email: "a@b.co", company: "AE" } } })], { receivedAt: T0 + 2 * HOUR }));
    const all = await leads();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ status: "submitted", quality: "high", firstName: "Ada", company: "AE", fields: { email: "a@b.co", name: "Ada", company: "AE" } });
    expect(all[0]!.lastInteractionAt).toEqual(new Date(T0 + 2 * HOUR));
  });

  it("dedupes submissions within 24 h and partials within 7 days, per site and normalised email", async () => {
    await deliver(message([submission({ email: "a@b.co" })]));
    await deliver(message([submission({ email: " A@B.CO " })], { receivedAt: T0 + 23 * HOUR }));
    expect(await leads()).toHaveLength(1);
    await deliver(message([submission({ email: "a@b.co" })], { receivedAt: T0 + 23 * HOUR + 25 * HOUR }));
    expect(await leads()).toHaveLength(2);
    await deliver(message([event("form_interaction", { form: { formId: "f", fields: { email: "p@b.co" } } })]));
    await deliver(message([event("form_interaction", { form: { formId: "f", fields: { email: "p@b.co" } } })], { receivedAt: T0 + 6 * 24 * HOUR }));
    expect((await leads()).filter((l) => l.email === "p@b.co")).toHaveLength(1);
    await deliver(message([submission({ email: "a@b.co" })], { siteId: "site-b" }));
    expect((await leads()).filter((l) => l.email === "a@b.co")).toHaveLength(3);
  });

  it("identify links the visitor to the lead and merges traits", async () => {
    await deliver(message([submission({ email: "a@b.co" })]));
    await deliver(message([event("identify", { userId: "a@b.co", visitorId: "v2", traits: { plan: "pro" } })]));
    await deliver(message([event("identify", { userId: "user-7", visitorId: "v2", traits: { seats: 5 } })]));
    const all = await leads();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ status: "submitted", visitorIds: ["v1", "v2"], traits: { plan: "pro", seats: 5 }, userId: "user-7" });
  });

  describe("merge rules: a lead keeps its first, trusted values", () => {
    const lead = async () => (await leads())[0] as unknown as LeadDocument;

    it("a stranger's submission with a known email fills only what is empty; the rest become conflicts", async () => {
      await deliver(message([submission({ email: "ada@b.co", name: "Ada Lovelace", phone: "+44 1" }, { visitorId: "owner" })]));
      await deliver(message([submission({ email: "ADA@b.co", name: "Eve Mallory", phone: "+1 666", company: "Evil Inc" }, { visitorId: "stranger", sessionId: "s2" })]));
      const l = await lead();
      expect(l).toMatchObject({ firstName: "Ada", lastName: "Lovelace", phone: "+44 1", company: "Evil Inc", fields: { name: "Ada Lovelace", phone: "+44 1", company: "Evil Inc" } });
      expect(l.conflicts!.map((c: { field: string; value: unknown; current: unknown; visitorId: string }) => [c.field, c.value, c.current, c.visitorId]).sort()).toEqual(
        [
          ["fields.name", "Eve Mallory", "Ada Lovelace", "stranger"],
          ["fields.phone", "+1 666", "+44 1", "stranger"],
          ["firstName", "Eve", "Ada", "stranger"],
          ["lastName", "Mallory", "Lovelace", "stranger"],
          ["phone", "+1 666", "+44 1", "stranger"],
        ].sort(),
      );
      // both submissions are in the lead's history, with their values
      expect(l.submissions!.map((x: { visitorId: string; fields: Record<string, string> }) => [x.visitorId, x.fields.name])).toEqual([
        ["owner", "Ada Lovelace"],
        ["stranger", "Eve Mallory"],
      ]);
    });

    it("the visitor who created the lead may correct it", async () => {
      await deliver(message([submission({ email: "ada@b.co", phone: "+44 1" }, { visitorId: "owner" })]));
      await deliver(message([submission({ email: "ada@b.co", phone: "+44 2" }, { visitorId: "owner" })]));
      expect(await lead()).toMatchObject({ phone: "+44 2", fields: { phone: "+44 2" }, conflicts: [] });
    });

    it("a visitor linked by someone else's submission cannot rewrite the lead with identify: it fills empty traits only", async () => {
      await deliver(message([event("identify", { traits: { email: "ada@b.co", plan: "pro" }, visitorId: "owner" })]));
      await deliver(message([submission({ email: "ada@b.co" }, { visitorId: "stranger", sessionId: "s2" })]));
      await deliver(message([event("identify", { traits: { plan: "free", role: "admin" }, visitorId: "stranger", sessionId: "s2" })]));
      expect((await lead()).traits).toEqual({ email: "ada@b.co", plan: "pro", role: "admin" });
    });

    it("a redelivered event adds no second conflict or submission", async () => {
      await deliver(message([submission({ email: "ada@b.co", name: "Ada" }, { visitorId: "owner" })]));
      const strangers = message([submission({ email: "ada@b.co", name: "Eve" }, { visitorId: "stranger", sessionId: "s2" })]);
      await deliver(strangers);
      await deliver(strangers);
      const l = await lead();
      expect(l.conflicts!.filter((c: { field: string }) => c.field === "fields.name")).toHaveLength(1);
      expect(l.submissions).toHaveLength(2);
    });
  });

  it("stores nothing sensitive", async () => {
    await deliver(message([submission({ email: "a@b.co", card_number: "4111111111111111", message: "ssn 123-45-6789" })]));
    const raw = JSON.stringify([await leads(), await mongo.db.collection(COLLECTIONS.events).find({}).toArray()]);
    expect(raw).not.toContain("4111111111111111");
    expect(raw).not.toContain("123-45-6789");
  });

  it("two drain processes handling the same emails at the same moment make one lead per email", async () => {
    const rounds = 15;
    const perProcess: Delivery[][][] = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const p of [0, 1]) {
        perProcess[p]!.push([
          { id: `race-${r}-${p}`, body: message([submission({ email: `race${r}@b.co`, name: `P${p}` }, { sessionId: `s-${r}-${p}` })]), attempts: 1 },
        ]);
      }
    }
    const startAt = Date.now() + 3000;
    const child = join(ROOT, "backend-consumer/test/fixtures/drain-child.ts");
    const outputs = await Promise.all(
      perProcess.map((rs, p) => {
        const file = join(TEST_DATA_DIR, `race-${p}.json`);
        writeFileSync(file, JSON.stringify(rs));
        return run(join(ROOT, "node_modules/.bin/node"), [child, file, String(startAt)], {
          env: { ...process.env, MONGODB_URI: mongo.uri, MONGODB_DB: mongo.dbName },
        });
      }),
    );
    for (const o of outputs) expect(JSON.parse(o.stdout).every((x: { action: string }) => x.action === "ack")).toBe(true);
    const all = await leads();
    const perEmail = new Map<string, number>();
    for (const l of all) perEmail.set(l.email, (perEmail.get(l.email) ?? 0) + 1);
    expect(perEmail.size).toBe(rounds);
    expect([...perEmail.values()].every((n) => n === 1)).toBe(true);
    // Each lead saw both processes' sessions.
    for (const l of all) expect([...l.sessionIds].sort()).toHaveLength(2);
  });
});

describe("retention", () => {
  it("has TTL indexes on events and sessions that expire each document at its own expireAt", async () => {
    for (const name of [COLLECTIONS.events, COLLECTIONS.sessions]) {
      const ttl = (await mongo.db.collection(name).indexes()).find((i) => i.name === "retention_ttl");
      expect(ttl).toMatchObject({ key: { expireAt: 1 }, expireAfterSeconds: 0 });
    }
    await deliver(message([event("page_view")], { retentionDays: 30 }));
    const doc = await mongo.db.collection(COLLECTIONS.events).findOne({});
    expect(doc!.expireAt).toEqual(new Date(T0 + 30 * 24 * HOUR));
    expect((await session())!.expireAt).toEqual(new Date(T0 + 30 * 24 * HOUR));
  });
});
