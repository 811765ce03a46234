/**
 * Team activity on real parts (MariaDB, the MongoDB-compatible server): activity messages go through the real drain
 * (beside website messages and a malformed one), the rollups are exact under redelivery and equal a recomputation
 * from the raw events, the read API answers hand-computed numbers, and an isolation matrix checks every route,
 * dimension and filter for five callers against the scope rules, worked out here from the fixture alone.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActivityQueueMessage, Actor } from "#contracts";
import { applyEvents, dayDocId, locationEntry, pageEntry, teamDocId, userKey, type ActivityEventDocument } from "../src/activity/days.ts";
import type { ActivityAnswer } from "../src/activity/query.ts";
import type { ActivityDayDocument, ActivityTeamDocument } from "../src/activity/store.ts";
import type { UserActivity } from "../src/activity/user-page.ts";
import { createAdminApi } from "../src/api/admin.ts";
import { mintSession, sessionKeys, type SessionKeys } from "../src/api/session.ts";
import { tenants } from "../src/config/schema.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const SECRET = "activity-test-secret-0123456789abcdefghij";
const TA = crypto.randomUUID();
const TB = crypto.randomUUID();
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let host: Hono;
let session: SessionKeys;
const L = { a1: "", a2: "", b1: "" };
const U = {} as Record<"agencyA" | "locA1" | "locA2" | "agencyB" | "idleA", MadeUser>;
// two UTC days of last month (the actors count days in UTC here)
const now = new Date();
const D1 = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10, 9);
const D2 = D1 + 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);
const RANGE: [string, string] = [day(D1), day(D2)];

/** The fixture, as the test's own oracle reads it: one row per event. */
interface Row {
  user: keyof typeof U;
  tenant: string;
  loc: string | null;
  t: number;
  session: string;
  view: string;
  page: string;
  type: "view" | "time";
  ms: number;
}
const rows: Row[] = [];
const messages: { id: string; body: ActivityQueueMessage }[] = [];

function actor(user: keyof typeof U, loc: string | null): Actor {
  const tenantId = user === "agencyB" ? TB : TA;
  return { userId: U[user].userId, tenantId, locationId: loc, role: user.startsWith("agency") ? "agency" : "location", timezone: "UTC", retentionDays: 90 };
}

/** A page view of `seconds` active time in a session: a view event and a time event; returns the message. */
function visit(user: keyof typeof U, loc: string | null, t: number, session: string, page: string, seconds: number): { id: string; body: ActivityQueueMessage } {
  const view = crypto.randomUUID();
  const path = `/${page.toLowerCase().replace(/ /g, "-")}`;
  const events = [
    { type: "view" as const, id: crypto.randomUUID(), ts: t, session, view, path, page },
    { type: "time" as const, id: crypto.randomUUID(), ts: t + seconds * 1000, session, view, path, page, ms: seconds * 1000 },
  ];
  const a = actor(user, loc);
  for (const e of events) rows.push({ user, tenant: a.tenantId, loc, t: e.ts, session, view, page, type: e.type, ms: e.type === "time" ? e.ms : 0 });
  const m = { id: crypto.randomUUID(), body: { v: 1 as const, kind: "activity" as const, receivedAt: t + seconds * 1000 + 500, actor: a, events } };
  messages.push(m);
  return m;
}

type Caller = { name: string; token: () => Promise<string>; sees: (r: Row) => boolean; self: keyof typeof U; tenant: string; role: "agency" | "location" };
const callers: Caller[] = [];

/** An answer, or an error body (`issues` of a 400). */
type Answer = ActivityAnswer & { error?: string; issues: { path: string }[] };

async function query(token: string, body: Record<string, unknown>): Promise<{ status: number; body: Answer }> {
  const res = await host.request("/v1/activity/query", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ date_range: RANGE, ...body }) });
  return { status: res.status, body: (await res.json()) as Answer };
}
async function userPage(token: string, userId: string): Promise<{ status: number; body: UserActivity & { error?: string } }> {
  const res = await host.request(`/v1/activity/users/${userId}?date_range=${RANGE.join(",")}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as UserActivity & { error?: string } };
}

beforeAll(async () => {
  maria = await testMariadb("activity");
  mongo = await testMongo("activity");
  await ensureIndexes(mongo.db);
  await maria.db.insert(tenants).values([
    { id: TA, name: "A" },
    { id: TB, name: "B" },
  ]);
  L.a1 = await makeLocation(maria.db, TA, { name: "A1 Plumbing" });
  L.a2 = await makeLocation(maria.db, TA, { name: "A2 Dental" });
  L.b1 = await makeLocation(maria.db, TB, { name: "B1" });
  U.agencyA = await makeUser(maria.db, SECRET, { tenantId: TA, role: "agency" });
  U.idleA = await makeUser(maria.db, SECRET, { tenantId: TA, role: "agency" });
  U.locA1 = await makeUser(maria.db, SECRET, { tenantId: TA, role: "location", locationIds: [L.a1] });
  U.locA2 = await makeUser(maria.db, SECRET, { tenantId: TA, role: "location", locationIds: [L.a2] });
  U.agencyB = await makeUser(maria.db, SECRET, { tenantId: TB, role: "agency" });
  session = await sessionKeys();
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, mongo: mongo.db, auth: { hs256Secret: SECRET, session }, log: () => {} }));
  const inA = (r: Row) => r.tenant === TA;
  callers.push(
    { name: "agency user of tenant A", token: async () => U.agencyA.token, sees: inA, self: "agencyA", tenant: TA, role: "agency" },
    { name: "agency user of A narrowed to A1", token: async () => (await mintSession(session, { userId: U.agencyA.userId, locationId: L.a1 })).token, sees: (r) => inA(r) && r.loc === L.a1, self: "agencyA", tenant: TA, role: "agency" },
    { name: "location user of A1", token: async () => (await mintSession(session, { userId: U.locA1.userId, locationId: L.a1 })).token, sees: (r) => r.user === "locA1", self: "locA1", tenant: TA, role: "location" },
    { name: "location user of A2 (API token)", token: async () => U.locA2.token, sees: (r) => r.user === "locA2", self: "locA2", tenant: TA, role: "location" },
    { name: "agency user of tenant B", token: async () => U.agencyB.token, sees: (r) => r.tenant === TB, self: "agencyB", tenant: TB, role: "agency" },
  );

  // agencyA: two page views in A1 in one session, one at agency level in another, on day 1
  visit("agencyA", L.a1, D1, "s-a-1", "Contacts", 30);
  visit("agencyA", L.a1, D1 + 60_000, "s-a-1", "Opportunities", 15);
  visit("agencyA", null, D1 + 3_600_000, "s-a-2", "Agency Dashboard", 10);
  // locA1: day 1 and day 2, a session each
  visit("locA1", L.a1, D1 + 600_000, "s-l1-1", "Contacts", 60);
  visit("locA1", L.a1, D2, "s-l1-2", "Calendar", 20);
  // locA2: day 2; agencyB: day 1 (another tenant, same page names)
  visit("locA2", L.a2, D2 + 120_000, "s-l2-1", "Contacts", 5);
  visit("agencyB", L.b1, D1, "s-b-1", "Contacts", 100);
});
afterAll(async () => {
  await maria.drop();
  await mongo.db.dropDatabase();
  await mongo.close();
});

/** Recomputes every user-day document from the raw events and compares with what the drain kept. */
async function expectRollupsEqualRecomputation(): Promise<void> {
  const raw = await mongo.db.collection<ActivityEventDocument>(COLLECTIONS.activityEvents).find({}).toArray();
  const byDay = new Map<string, ActivityEventDocument[]>();
  for (const e of raw) {
    const id = dayDocId(e.tenantId, e.userId, e.day);
    byDay.set(id, [...(byDay.get(id) ?? []), e]);
  }
  const stored = await mongo.db.collection<ActivityDayDocument>(COLLECTIONS.activityDays).find({}).toArray();
  expect(stored.map((d) => d._id).sort()).toEqual([...byDay.keys()].sort());
  const norm = (cells: ActivityDayDocument["cells"]) => cells.map((c) => ({ ...c, s: [...c.s].sort() })).sort((a, b) => (`${a.loc}|${a.page}` < `${b.loc}|${b.page}` ? -1 : 1));
  for (const d of stored) {
    const events = byDay.get(d._id)!.map((e) => ({ type: e.type, ts: e.ts.getTime(), loc: e.locationId ?? "agency", session: e.session, view: e.view, path: e.path, page: e.page, ms: e.ms ?? 0 }));
    const expected = applyEvents({ cells: [], views: [] }, events);
    expect(norm(d.cells)).toEqual(norm(expected.cells));
    expect([...d.views].sort((a, b) => (a.w < b.w ? -1 : 1))).toEqual([...expected.views].sort((a, b) => (a.w < b.w ? -1 : 1)));
    // the team documents hold the latest copy of it
    const team = await mongo.db.collection<ActivityTeamDocument>(COLLECTIONS.activityTeam).findOne({ _id: teamDocId(d.tenantId, d.day) });
    const pages = await mongo.db.collection<ActivityTeamDocument>(COLLECTIONS.activityTeamPages).findOne({ _id: teamDocId(d.tenantId, d.day) });
    expect(team!.vs[userKey(d.userId)]).toBe(d.v);
    expect(JSON.parse(team!.u[userKey(d.userId)]!)).toEqual(locationEntry(d.userId, d.role, d.cells));
    expect(JSON.parse(pages!.u[userKey(d.userId)]!)).toEqual(pageEntry(d.userId, d.role, d.cells));
  }
}

describe("the drain", () => {
  it("stores activity messages beside website messages, dead-letters a malformed activity message alone", async () => {
    const website = { v: 1, siteId: "site-x", receivedAt: D1, geo: {}, ip: null, ua: "UA", events: [{ id: crypto.randomUUID(), type: "page_view", ts: D1, sessionId: "s", visitorId: "v", page: { url: "https://x/" } }] };
    const bad = { v: 1, kind: "activity", receivedAt: D1, actor: { userId: "u" }, events: [{ type: "view" }] };
    const [first, ...rest] = messages;
    const outcomes = await processBatch(
      [
        { id: "web-1", body: JSON.stringify(website), attempts: 1 },
        { id: "bad-activity", body: JSON.stringify(bad), attempts: 1 },
        { id: first!.id, body: JSON.stringify(first!.body), attempts: 1 },
      ],
      { db: mongo.db },
    );
    expect(outcomes).toEqual([
      { id: "web-1", action: "ack" },
      { id: "bad-activity", action: "ack", deadLettered: "malformed" },
      { id: first!.id, action: "ack" },
    ]);
    expect(await mongo.db.collection(COLLECTIONS.deadLetters).findOne({ _id: "bad-activity" as never })).toMatchObject({ reason: "malformed" });
    expect(await mongo.db.collection(COLLECTIONS.events).countDocuments({ siteId: "site-x" })).toBe(1);
    expect(await mongo.db.collection(COLLECTIONS.activityEvents).countDocuments()).toBe(2);
    const rest2 = await processBatch(rest.map((m) => ({ id: m.id, body: m.body, attempts: 1 })), { db: mongo.db });
    expect(rest2.every((o) => o.action === "ack" && !("deadLettered" in o))).toBe(true);
    const stored = await mongo.db.collection<ActivityEventDocument>(COLLECTIONS.activityEvents).findOne({ _id: `${U.agencyA.userId}:${first!.body.events[0]!.id}` });
    expect(stored).toMatchObject({ tenantId: TA, locationId: L.a1, userId: U.agencyA.userId, role: "agency", type: "view", page: "Contacts", day: day(D1), msg: first!.id });
    expect(Object.keys(stored!).sort()).toEqual(["_id", "day", "expireAt", "locationId", "msg", "page", "path", "role", "session", "tenantId", "ts", "type", "userId", "view"]);
    await expectRollupsEqualRecomputation();
  });

  it("counts nothing twice: the same messages again, and another message re-sending some of their events", async () => {
    const before = await query(U.agencyA.token, { metrics: ["page_views", "time_spent", "sessions"], dimensions: ["activity:user"] });
    const again = await processBatch(messages.map((m) => ({ id: m.id, body: m.body, attempts: 2 })), { db: mongo.db });
    expect(again.every((o) => o.action === "ack")).toBe(true);
    // a retry by the browser: a new message with one event already stored (owned by its first message) and one new
    const old = messages[3]!.body;
    const fresh = { type: "time" as const, id: crypto.randomUUID(), ts: D1 + 700_000, session: "s-l1-1", view: old.events[0]!.view, path: "/contacts", page: "Contacts", ms: 4000 };
    rows.push({ user: "locA1", tenant: TA, loc: L.a1, t: fresh.ts, session: fresh.session, view: fresh.view, page: "Contacts", type: "time", ms: 4000 });
    const resend = { id: crypto.randomUUID(), body: { ...old, events: [old.events[1]!, fresh] } };
    messages.push(resend);
    await processBatch([{ id: resend.id, body: resend.body, attempts: 1 }, { id: resend.id, body: resend.body, attempts: 1 }], { db: mongo.db });
    const after = await query(U.agencyA.token, { metrics: ["page_views", "time_spent", "sessions"], dimensions: ["activity:user"] });
    const byUser = (b: Answer) => Object.fromEntries(b.results.map((r) => [r.dimensions[0], r.metrics]));
    expect(byUser(after.body)[U.agencyA.userId]).toEqual(byUser(before.body)[U.agencyA.userId]);
    expect(byUser(after.body)[U.locA1.userId]).toEqual([2, 84, 2]);
    await expectRollupsEqualRecomputation();
  });
});

describe("POST /v1/activity/query", () => {
  const all = ["active_users", "sessions", "page_views", "time_spent", "active_days", "last_seen"];
  const iso = (t: number) => new Date(t).toISOString();

  it("answers the totals of a tenant worked out by hand", async () => {
    const { status, body } = await query(U.agencyA.token, { metrics: all });
    expect(status).toBe(200);
    // agencyA 3 views 55 s (2 sessions), locA1 2 views 84 s (2 sessions), locA2 1 view 5 s
    expect(body.results).toEqual([{ dimensions: [], metrics: [3, 5, 6, 144, 2, iso(D2 + 125_000)] }]);
    expect(body.meta.total_rows).toBe(1);
  });

  it("breaks down by user, location, page and day, naming users and locations", async () => {
    const byUser = await query(U.agencyA.token, { metrics: all, dimensions: ["activity:user"] });
    expect(byUser.body.results).toEqual([
      { dimensions: [U.locA1.userId], metrics: [1, 2, 2, 84, 2, iso(D2 + 20_000)] },
      { dimensions: [U.agencyA.userId], metrics: [1, 2, 3, 55, 1, iso(D1 + 3_610_000)] },
      { dimensions: [U.locA2.userId], metrics: [1, 1, 1, 5, 1, iso(D2 + 125_000)] },
    ].sort((a, b) => (b.metrics[0] as number) - (a.metrics[0] as number) || (JSON.stringify(a.dimensions) < JSON.stringify(b.dimensions) ? -1 : 1)));
    expect(byUser.body.meta.users[U.locA1.userId]).toEqual({ name: null, email: `${U.locA1.userId}@users.test`, role: "location" });
    const byLoc = await query(U.agencyA.token, { metrics: ["active_users", "page_views", "time_spent"], dimensions: ["activity:location"], order_by: [["time_spent", "desc"]] });
    expect(byLoc.body.results).toEqual([
      { dimensions: [L.a1], metrics: [2, 4, 129] },
      { dimensions: ["agency"], metrics: [1, 1, 10] },
      { dimensions: [L.a2], metrics: [1, 1, 5] },
    ]);
    expect(byLoc.body.meta.locations).toEqual({ [L.a1]: { name: "A1 Plumbing" }, agency: { name: "Agency" }, [L.a2]: { name: "A2 Dental" } });
    const byPage = await query(U.agencyA.token, { metrics: ["active_users", "sessions", "page_views", "time_spent"], dimensions: ["activity:page"], order_by: [["activity:page", "asc"]] });
    expect(byPage.body.results).toEqual([
      { dimensions: ["Agency Dashboard"], metrics: [1, 1, 1, 10] },
      { dimensions: ["Calendar"], metrics: [1, 1, 1, 20] },
      { dimensions: ["Contacts"], metrics: [3, 3, 3, 99] },
      { dimensions: ["Opportunities"], metrics: [1, 1, 1, 15] },
    ]);
    const byDay = await query(U.agencyA.token, { metrics: ["active_users", "page_views", "time_spent"], dimensions: ["time:day"] });
    expect(byDay.body.results).toEqual([
      { dimensions: [day(D1)], metrics: [2, 4, 119] },
      { dimensions: [day(D2)], metrics: [2, 2, 25] },
    ]);
    const byMonth = await query(U.agencyA.token, { metrics: ["active_days"], dimensions: ["time:month", "activity:user"], filters: [["is", "activity:user", [U.locA1.userId]]] });
    const [m1, m2] = [day(D1).slice(0, 7), day(D2).slice(0, 7)];
    const months = m1 === m2 ? [[m1, 2]] : [[m1, 1], [m2, 1]];
    expect(byMonth.body.results).toEqual(months.map(([m, n]) => ({ dimensions: [m, U.locA1.userId], metrics: [n] })));
  });

  it("refuses what it cannot answer with a 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ metrics: ["visitors"] }, "metrics.0"],
      [{ metrics: ["page_views"], dimensions: ["event:page"] }, "dimensions.0"],
      [{ metrics: ["page_views"], dimensions: ["time:day", "time:week"] }, "dimensions"],
      [{ metrics: ["page_views"], filters: [["contains", "activity:page", ["x"]]] }, "filters.0.0"],
      [{ metrics: ["page_views"], order_by: [["time_spent", "desc"]] }, "order_by.0"],
      [{ metrics: ["page_views"], timezone: "Mars/Olympus" }, "timezone"],
      [{ metrics: ["page_views"], date_range: ["2025-02-01", "2025-01-01"] }, "date_range"],
    ];
    for (const [body, path] of cases) {
      const res = await query(U.agencyA.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.issues[0]?.path).toBe(path);
    }
  });
});

describe("isolation matrix", () => {
  const DIMS = ["activity:user", "activity:location", "activity:page", "time:day"] as const;
  const valueOf = (r: Row, d: (typeof DIMS)[number]) => (d === "activity:user" ? U[r.user].userId : d === "activity:location" ? (r.loc ?? "agency") : d === "activity:page" ? r.page : day(r.t));
  /** page views and users per dimension value, from the fixture rows the caller may see. */
  function oracle(c: Caller, dim: (typeof DIMS)[number] | null, keep: (r: Row) => boolean = () => true) {
    const out = new Map<string, { pv: number; users: Set<string> }>();
    for (const r of rows.filter((r) => c.sees(r) && keep(r))) {
      const k = dim ? valueOf(r, dim) : "";
      const g = out.get(k) ?? { pv: 0, users: new Set<string>() };
      if (r.type === "view") g.pv++;
      g.users.add(r.user);
      out.set(k, g);
    }
    // a time series has a row for every day of the range
    if (dim === "time:day") for (const d of RANGE) if (!out.has(d)) out.set(d, { pv: 0, users: new Set() });
    return [...out].map(([k, g]) => [k, g.pv, g.users.size] as const).sort();
  }
  const answer = (b: Answer) => b.results.map((r) => [r.dimensions[0] ?? "", r.metrics[0], r.metrics[1]] as const).sort();

  it("each caller sees exactly its scope by every dimension and every filter", async () => {
    for (const c of callers) {
      const token = await c.token();
      for (const dim of DIMS) {
        const res = await query(token, { metrics: ["page_views", "active_users"], dimensions: [dim] });
        expect(res.status).toBe(200);
        expect(answer(res.body), `${c.name} by ${dim}`).toEqual(oracle(c, dim));
        const named = Object.keys(dim === "activity:user" ? res.body.meta.users : dim === "activity:location" ? res.body.meta.locations : {});
        expect(named.sort()).toEqual(dim === "activity:user" || dim === "activity:location" ? oracle(c, dim).map((x) => x[0]).sort() : []);
      }
      // a filter for every user, location and page of either tenant: only what the caller may see comes back
      const filters: [string, string, (r: Row) => boolean][] = [
        ...Object.entries(U).map(([k, u]) => ["activity:user", u.userId, (r: Row) => r.user === k] as [string, string, (r: Row) => boolean]),
        ...[L.a1, L.a2, L.b1, "agency"].map((l) => ["activity:location", l, (r: Row) => (r.loc ?? "agency") === l] as [string, string, (r: Row) => boolean]),
        ...["Contacts", "Calendar"].map((p) => ["activity:page", p, (r: Row) => r.page === p] as [string, string, (r: Row) => boolean]),
      ];
      for (const [dim, value, keep] of filters) {
        const is = await query(token, { metrics: ["page_views", "active_users"], filters: [["is", dim, [value]]] });
        const expected = oracle(c, null, keep);
        expect(answer(is.body), `${c.name}: is ${dim} ${value}`).toEqual(expected.length ? expected : [["", 0, 0]]);
        const by = await query(token, { metrics: ["page_views", "active_users"], dimensions: ["activity:user"], filters: [["is_not", dim, [value]]] });
        expect(answer(by.body), `${c.name}: is_not ${dim} ${value}`).toEqual(oracle(c, "activity:user", (r) => !keep(r)));
      }
    }
  });

  it("the user page: 404 for a user the caller may not see, only the caller's scope of any other", async () => {
    for (const c of callers) {
      const token = await c.token();
      for (const [k, u] of Object.entries(U) as [keyof typeof U, MadeUser][]) {
        const tenant = k === "agencyB" ? TB : TA;
        const allowed = tenant === c.tenant && (c.role === "agency" || k === c.self);
        const res = await userPage(token, u.userId);
        expect(res.status, `${c.name} → ${k}`).toBe(allowed ? 200 : 404);
        if (!allowed) {
          expect(res.body).toMatchObject({ error: "not_found" });
          continue;
        }
        const mine = rows.filter((r) => r.user === k && c.sees(r));
        expect(res.body.totals.page_views, `${c.name} → ${k}`).toBe(mine.filter((r) => r.type === "view").length);
        expect(res.body.totals.time_spent).toBe(Math.round(mine.reduce((n, r) => n + r.ms, 0) / 1000));
        expect(res.body.sessions.map((s) => s.id).sort()).toEqual([...new Set(mine.map((r) => r.session))].sort());
        expect(res.body.user).toMatchObject({ id: u.userId, email: `${u.userId}@users.test` });
      }
      expect((await userPage(token, crypto.randomUUID())).status).toBe(404);
    }
  });

  it("the user page of agencyA for the whole tenant: totals, top pages and the timeline in order", async () => {
    const { body } = await userPage(U.agencyA.token, U.agencyA.userId);
    expect(body.totals).toEqual({ sessions: 2, page_views: 3, time_spent: 55, active_days: 1, last_seen: new Date(D1 + 3_610_000).toISOString() });
    expect(body.pages).toEqual([
      { page: "Contacts", views: 1, time_spent: 30 },
      { page: "Opportunities", views: 1, time_spent: 15 },
      { page: "Agency Dashboard", views: 1, time_spent: 10 },
    ]);
    expect(body.sessions).toEqual([
      {
        id: "s-a-2",
        start: new Date(D1 + 3_600_000).toISOString(),
        end: new Date(D1 + 3_610_000).toISOString(),
        location: { id: "agency", name: "Agency" },
        page_views: 1,
        time_spent: 10,
        pages: [{ page: "Agency Dashboard", path: "/agency-dashboard", at: new Date(D1 + 3_600_000).toISOString(), time_spent: 10 }],
      },
      {
        id: "s-a-1",
        start: new Date(D1).toISOString(),
        end: new Date(D1 + 75_000).toISOString(),
        location: { id: L.a1, name: "A1 Plumbing" },
        page_views: 2,
        time_spent: 45,
        pages: [
          { page: "Contacts", path: "/contacts", at: new Date(D1).toISOString(), time_spent: 30 },
          { page: "Opportunities", path: "/opportunities", at: new Date(D1 + 60_000).toISOString(), time_spent: 15 },
        ],
      },
    ]);
  });
});

describe("team documents", () => {
  it("questions that do not count sessions read the brief entries, and a day copied before briefs existed is read whole", async () => {
    const questions = [
      { metrics: ["active_users", "page_views", "time_spent", "active_days", "last_seen"], dimensions: ["activity:location"] },
      { metrics: ["active_users", "time_spent"], dimensions: ["time:day"] },
      { metrics: ["page_views"], dimensions: ["activity:user"] },
    ];
    const before = await Promise.all(questions.map((q) => query(U.agencyA.token, q)));
    const team = mongo.db.collection(COLLECTIONS.activityTeam);
    // the briefs hold no session keys, and are what these questions read: change one, and the answer follows it
    const doc = (await team.find({ tenantId: TA }).toArray()).find((d) => typeof d.b === "string" && d.b.length > 0)!;
    const b = doc.b as string;
    expect(b).not.toMatch(/"s"|\[/);
    expect(b.split("\n")).toHaveLength(Object.keys(doc.u as object).length);
    await team.updateOne({ _id: doc._id }, { $set: { b: b.replace(/,(\d+),(\d+),(\d+)(;|\n|$)/, (_m, pv, ms, z, end) => `,${pv},${Number(ms) + 1_000_000},${z}${end}`) } });
    const changed = await query(U.agencyA.token, questions[1]!);
    expect(changed.body.results).not.toEqual(before[1]!.body.results);
    await team.updateOne({ _id: doc._id }, { $set: { b } });
    // without briefs (days copied before they existed) the same answers, from the whole entries
    await team.updateMany({}, { $unset: { b: "" } });
    const after = await Promise.all(questions.map((q) => query(U.agencyA.token, q)));
    expect(after.map((a) => a.body.results)).toEqual(before.map((b) => b.body.results));
    // and the next copy to such a day writes the briefs of every user of it, not only of the one copied
    const more = visit("locA1", L.a1, doc.day === day(D1) ? D1 + 7_200_000 : D2 + 7_200_000, "s-more", "Contacts", 3);
    await processBatch([{ id: more.id, body: more.body, attempts: 1 }], { db: mongo.db });
    const rewritten = (await team.findOne({ _id: doc._id }))!;
    expect((rewritten.b as string).split("\n")).toHaveLength(Object.keys(rewritten.u as object).length);
  });
});
