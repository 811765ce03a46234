/**
 * The privacy API on real parts (MariaDB for scopes and the audit trail, the MongoDB-compatible server for data made
 * by the real drain): who may erase or export whom, bad input, the export's shape, suppression of later events and
 * lifting it, the per-location setting, and an export that streams a person with many events.
 */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { createAdminApi } from "../src/api/admin.ts";
import { auditLog, locations, sites, tenants } from "../src/config/schema.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { SuppressionFilter } from "../src/privacy/suppression.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const SECRET = "privacy-api-test-secret-0123456789abcdef";
const KEY = randomBytes(32);
const A = crypto.randomUUID();
const B = crypto.randomUUID();
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let host: Hono;
let suppression: SuppressionFilter;
const ids = { l1: "", l2: "", lb: "", s1: crypto.randomUUID(), s2: crypto.randomUUID(), sb: crypto.randomUUID() };
let agencyA: MadeUser;
let userL1: MadeUser;
let userL2: MadeUser;
let agencyB: MadeUser;

type Json = Record<string, unknown>;
async function call(user: MadeUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; text: string }> {
  const res = await host.request(`/v1${path}`, { method, headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Json, text };
}

/** A visit through the drain (with the suppression check, as the backend runs it). */
async function visit(siteId: string, visitorId: string, email: string | null, extraViews = 2): Promise<void> {
  const sessionId = crypto.randomUUID();
  const at = Date.now() - 60_000;
  const ev = (type: TrackerEvent["type"], over: Partial<TrackerEvent> = {}): TrackerEvent => ({ id: crypto.randomUUID(), type, ts: at, sessionId, visitorId, ...over }) as TrackerEvent;
  const events = [
    ...Array.from({ length: extraViews }, (_, i) => ev("page_view", { page: { url: `https://s.example/${i}`, path: `/${i}` } })),
    ...(email ? [ev("form_submission", { form: { formId: "contact", fields: { email, name: "Person Name", phone: "+1 202 555 0147" } } })] : []),
  ];
  const message: QueueMessage = { v: 1, siteId, receivedAt: at, geo: {}, ip: "203.0.113.0", ua: "UA", events };
  const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: mongo.db, suppression });
  expect(outcome).toMatchObject({ action: "ack" });
}

const leadsOf = (email: string) => mongo.db.collection(COLLECTIONS.leads).countDocuments({ email });
const eventsOf = (visitorId: string) => mongo.db.collection(COLLECTIONS.events).countDocuments({ visitorId });

beforeAll(async () => {
  maria = await testMariadb("privacy_api");
  mongo = await testMongo("privacy_api");
  await ensureIndexes(mongo.db);
  suppression = new SuppressionFilter(mongo.db, KEY, 100);
  await maria.db.insert(tenants).values([
    { id: A, name: "A" },
    { id: B, name: "B" },
  ]);
  ids.l1 = await makeLocation(maria.db, A, { name: "L1" });
  ids.l2 = await makeLocation(maria.db, A, { name: "L2" });
  ids.lb = await makeLocation(maria.db, B, { name: "LB" });
  const site = (id: string, tenantId: string, locationId: string) => ({ id, tenantId, locationId, name: "S", domain: "s.example", siteKey: `k_${id}` });
  await maria.db.insert(sites).values([site(ids.s1, A, ids.l1), site(ids.s2, A, ids.l2), site(ids.sb, B, ids.lb)]);
  agencyA = await makeUser(maria.db, SECRET, { tenantId: A, role: "agency" });
  userL1 = await makeUser(maria.db, SECRET, { tenantId: A, role: "location", locationIds: [ids.l1] });
  userL2 = await makeUser(maria.db, SECRET, { tenantId: A, role: "location", locationIds: [ids.l2] });
  agencyB = await makeUser(maria.db, SECRET, { tenantId: B, role: "agency" });
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, mongo: mongo.db, auth: { hs256Secret: SECRET }, log: () => {}, privacy: { key: KEY, settleMs: 250 } }));
});
afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

describe("privacy API: who and what", () => {
  it("refuses bad input with a 400 naming the field, and needs a person", async () => {
    for (const body of [{}, { email: "not-an-email" }, { email: "a@b.co", visitorId: "v" }, { email: "a@b.co", extra: 1 }, { email: "a@b.co", locationId: "nope" }]) {
      const res = await call(agencyA, "POST", "/privacy/erase", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe("validation_failed");
    }
    expect((await call(agencyA, "GET", "/privacy/export")).status).toBe(400);
    expect((await call(agencyA, "GET", "/privacy/export?email=a@b.co&visitorId=v")).status).toBe(400);
  });

  it("a location user cannot reach another location or tenant: 404, and their data stays", async () => {
    await visit(ids.s2, "v-l2", "kept@l2.example");
    await visit(ids.sb, "v-b", "kept@b.example");
    for (const [path, body] of [
      ["/privacy/erase", { email: "kept@l2.example", locationId: ids.l2 }],
      ["/privacy/erase", { email: "kept@l2.example", siteId: ids.s2 }],
      ["/privacy/erase", { email: "kept@b.example", siteId: ids.sb }],
    ] as const) {
      const res = await call(userL1, "POST", path, body);
      expect(res.status, JSON.stringify(body)).toBe(404);
      expect(res.body.error).toBe("not_found");
    }
    expect((await call(userL1, "GET", `/privacy/export?email=kept@l2.example&locationId=${ids.l2}`)).status).toBe(404);
    // without a filter the location user's erase covers its own sites only: the other location's lead stays
    const own = await call(userL1, "POST", "/privacy/erase", { email: "kept@l2.example" });
    expect(own.status).toBe(200);
    expect(own.body.removed).toMatchObject({ leads: 0, events: 0 });
    expect(await leadsOf("kept@l2.example")).toBe(1);
    // another tenant's agency: nothing of tenant A, and A's receipts are 404
    const theirs = await call(agencyB, "POST", "/privacy/erase", { email: "kept@l2.example" });
    expect(theirs.body.removed).toMatchObject({ leads: 0, events: 0 });
    expect(await leadsOf("kept@l2.example")).toBe(1);
    expect((await call(agencyB, "GET", `/privacy/erase/${own.body.receiptId as string}`)).status).toBe(404);
    expect((await call(userL2, "GET", `/privacy/erase/${own.body.receiptId as string}`)).status).toBe(404);
    expect((await call(userL1, "GET", `/privacy/erase/${own.body.receiptId as string}`)).status).toBe(200);
    expect(await leadsOf("kept@b.example")).toBe(1);
  });

  it("exports a person, erases them, suppresses their later events, and lifts the suppression on request", async () => {
    await visit(ids.s1, "v-ada-1", "Ada@Example.com");
    await visit(ids.s1, "v-ada-2", "ada@example.com", 5);
    await visit(ids.s1, "v-other", "other@example.com");
    const exported = await call(userL1, "GET", "/privacy/export?email=ADA@example.com");
    expect(exported.status).toBe(200);
    const doc = JSON.parse(exported.text) as { subject: string; leads: { email: string; visitorIds: string[] }[]; events: { visitorId: string }[]; sessions: unknown[] };
    expect(doc.subject).toMatch(/^email:[0-9a-f]{64}$/);
    expect(doc.leads).toHaveLength(1);
    expect(doc.leads[0]!.visitorIds.sort()).toEqual(["v-ada-1", "v-ada-2"]);
    expect(doc.events).toHaveLength(3 + 6);
    expect(new Set(doc.events.map((e) => e.visitorId))).toEqual(new Set(["v-ada-1", "v-ada-2"]));
    expect(doc.sessions).toHaveLength(2);
    expect(exported.text).not.toContain("other@example.com");

    const erased = await call(userL1, "POST", "/privacy/erase", { email: "ada@example.com" });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ state: "done", subject: doc.subject, suppressed: true, removed: { leads: 1, events: 9, sessions: 2, suppressions: 3 } });
    expect(await leadsOf("ada@example.com")).toBe(0);
    expect(await eventsOf("v-ada-1")).toBe(0);
    expect(await leadsOf("other@example.com")).toBe(1);

    // later: the same visitor is not stored at all; a new device with the email is stored without a lead
    await visit(ids.s1, "v-ada-1", "ada@example.com");
    await visit(ids.s1, "v-ada-3", "ADA@example.com");
    expect(await eventsOf("v-ada-1")).toBe(0);
    expect(await leadsOf("ada@example.com")).toBe(0);
    const stripped = await mongo.db.collection(COLLECTIONS.events).findOne({ visitorId: "v-ada-3", type: "form_submission" });
    expect(stripped?.form?.fields).toEqual({});
    expect(JSON.stringify(await mongo.db.collection(COLLECTIONS.events).find({ visitorId: "v-ada-3" }).toArray())).not.toContain("ada@");
    // suppression entries are hashes; the location user sees its own
    const listed = await call(userL1, "GET", "/privacy/suppressions");
    expect((listed.body.items as { subject: string }[]).map((s) => s.subject)).toContain(doc.subject);
    expect(listed.text).not.toContain("ada@");
    expect(((await call(userL2, "GET", "/privacy/suppressions")).body.items as unknown[]).length).toBe(0);

    // lifted: the email makes a lead again
    const lifted = await call(userL1, "DELETE", "/privacy/suppressions", { email: "ada@example.com" });
    expect(lifted.body).toMatchObject({ removed: 1 });
    await new Promise((r) => setTimeout(r, 250)); // the drain's "no match" is not cached, but be fair to it
    await visit(ids.s1, "v-ada-4", "ada@example.com");
    expect(await leadsOf("ada@example.com")).toBe(1);

    // every privacy action is in the audit trail under the hash, never the email
    const entries = await maria.db.select().from(auditLog).where(eq(auditLog.tenantId, A));
    const privacy = entries.filter((e) => e.action.startsWith("privacy."));
    expect(privacy.map((e) => e.action)).toEqual(expect.arrayContaining(["privacy.export", "privacy.erase", "privacy.erase.done", "privacy.unsuppress"]));
    expect(JSON.stringify(entries)).not.toContain("ada@");
  });

  it("a location that turned suppression off lets the person come back as a new lead", async () => {
    await maria.db.update(locations).set({ suppressErased: false }).where(eq(locations.id, ids.l2));
    await visit(ids.s2, "v-bob", "bob@l2.example");
    const erased = await call(userL2, "POST", "/privacy/erase", { email: "bob@l2.example" });
    expect(erased.body).toMatchObject({ state: "done", suppressed: false, removed: { leads: 1, suppressions: 0 } });
    await visit(ids.s2, "v-bob", "bob@l2.example");
    expect(await leadsOf("bob@l2.example")).toBe(1);
  });

  it("erasing by visitor id takes the lead that visitor made, with its other visitors", async () => {
    await visit(ids.s1, "v-cy-1", "cy@example.com");
    await visit(ids.s1, "v-cy-2", "cy@example.com");
    const erased = await call(agencyA, "POST", "/privacy/erase", { visitorId: "v-cy-2" });
    expect(erased.body).toMatchObject({ state: "done", subject: expect.stringMatching(/^visitor:/), removed: { leads: 1, events: 6, sessions: 2 } });
    expect(await eventsOf("v-cy-1")).toBe(0);
    expect(await leadsOf("cy@example.com")).toBe(0);
  });

  it("streams a person with 20,000 events as one JSON document", async () => {
    const visitorId = "v-many";
    const sessionId = crypto.randomUUID();
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ id: crypto.randomUUID(), type: "page_view", ts: Date.now() - 1e6 + b * 1000 + i, sessionId, visitorId, page: { url: `https://s.example/${i}`, path: `/${i}` } }) as TrackerEvent);
      await processBatch([{ id: crypto.randomUUID(), body: { v: 1, siteId: ids.s1, receivedAt: Date.now(), geo: {}, ip: null, ua: "UA", events } satisfies QueueMessage, attempts: 1 }], { db: mongo.db });
    }
    const res = await call(agencyA, "GET", `/privacy/export?visitorId=${visitorId}`);
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.text) as { events: unknown[]; sessions: unknown[] };
    expect(doc.events).toHaveLength(20_000);
    expect(doc.sessions).toHaveLength(1);
  }, 120_000);
});
