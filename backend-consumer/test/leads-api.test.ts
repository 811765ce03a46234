/**
 * The leads API on real parts (MariaDB for scopes, the MongoDB-compatible server for leads made by the real drain):
 * scoping by tenant and location on every route, filters, keyset pagination under concurrent inserts, the
 * timeline with time on page, owner edits with history, delete, and the streamed export (100,000 leads in a process
 * whose heap is too small to hold them).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { createAdminApi } from "../src/api/admin.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { sites, tenants } from "../src/config/schema.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const run = promisify(execFile);
const SECRET = "leads-api-test-secret-0123456789abcdef";
const A = crypto.randomUUID();
const B = crypto.randomUUID();
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let host: Hono;
const ids = { l1: "", l2: "", lb: "", s1: crypto.randomUUID(), s2: crypto.randomUUID(), s3: crypto.randomUUID(), sb: crypto.randomUUID() };
let agencyA: MadeUser;
let userL1: MadeUser;
let userL2: MadeUser;
let agencyB: MadeUser;
const T0 = Date.now() - 3 * 86_400_000;

type Json = Record<string, unknown> & { items?: Record<string, unknown>[]; nextCursor?: string | null };
async function call(user: MadeUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; text: string; headers: Headers }> {
  const res = await host.request(`/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // a CSV or NDJSON body
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

let seq = 0;
function ev(type: TrackerEvent["type"], session: string, over: Partial<TrackerEvent> = {}): TrackerEvent {
  return { id: crypto.randomUUID(), type, ts: T0 + seq++ * 1000, sessionId: session, visitorId: `v-${session}`, ...over };
}
/** One visitor's session on `siteId`: a campaign landing, two pages with engagement, and a lead of `kind`. */
async function visit(siteId: string, session: string, email: string, kind: "submission" | "partial", extra: { name?: string; utm?: Record<string, string>; formId?: string } = {}) {
  const page = (url: string) => ({ url, path: new URL(url).pathname, title: url });
  const events = [
    ev("session_start", session, { attribution: { utm: extra.utm ?? { source: "google", medium: "cpc", campaign: "spring" }, landingPage: "https://s.example/" } }),
    ev("page_view", session, { page: page("https://s.example/") }),
    ev("engagement", session, { page: page("https://s.example/"), props: { engagedMs: 4000 } }),
    ev("page_view", session, { page: page("https://s.example/contact") }),
    ev("engagement", session, { page: page("https://s.example/contact"), props: { engagedMs: 1500 } }),
    kind === "submission"
      ? ev("form_submission", session, { page: page("https://s.example/contact"), form: { formId: extra.formId ?? "contact", fields: { email, name: extra.name ?? "Ada Lovelace" } } })
      : ev("form_interaction", session, { page: page("https://s.example/contact"), form: { formId: extra.formId ?? "contact", fields: { email } } }),
  ];
  const message: QueueMessage = { v: 1, siteId, receivedAt: T0 + seq * 1000, geo: {}, ip: null, ua: "UA", events };
  const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: mongo.db });
  expect(outcome).toMatchObject({ action: "ack" });
}

beforeAll(async () => {
  maria = await testMariadb("leads_api");
  mongo = await testMongo("leads_api");
  await ensureIndexes(mongo.db);
  await maria.db.insert(tenants).values([
    { id: A, name: "A" },
    { id: B, name: "B" },
  ]);
  ids.l1 = await makeLocation(maria.db, A, { name: "L1" });
  ids.l2 = await makeLocation(maria.db, A, { name: "L2" });
  ids.lb = await makeLocation(maria.db, B, { name: "LB" });
  const site = (id: string, tenantId: string, locationId: string) => ({ id, tenantId, locationId, name: "S", domain: "s.example", siteKey: `k_${id}` });
  await maria.db.insert(sites).values([site(ids.s1, A, ids.l1), site(ids.s2, A, ids.l1), site(ids.s3, A, ids.l2), site(ids.sb, B, ids.lb)]);
  agencyA = await makeUser(maria.db, SECRET, { tenantId: A, role: "agency" });
  userL1 = await makeUser(maria.db, SECRET, { tenantId: A, role: "location", locationIds: [ids.l1] });
  userL2 = await makeUser(maria.db, SECRET, { tenantId: A, role: "location", locationIds: [ids.l2] });
  agencyB = await makeUser(maria.db, SECRET, { tenantId: B, role: "agency" });
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, mongo: mongo.db, auth: { hs256Secret: SECRET }, log: () => {} }));

  await visit(ids.s1, "a1", "ada@s1.example", "submission", { name: "Ada Lovelace", formId: "quote" });
  await visit(ids.s1, "a2", "grace@s1.example", "partial");
  await visit(ids.s2, "a3", "linus@s2.example", "submission", { name: "Linus Torvalds", utm: { source: "newsletter", medium: "email", campaign: "may" } });
  await visit(ids.s3, "a4", "margaret@s3.example", "submission", { name: "Margaret Hamilton" });
  await visit(ids.sb, "b1", "secret@b.example", "submission", { name: "Other Tenant" });
});
afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

const emails = (r: { body: Json }) => (r.body.items ?? []).map((l) => l.email).sort();

describe("scopes", () => {
  it("an agency sees every lead of its tenant, a location user only its location's, another tenant none", async () => {
    expect(emails(await call(agencyA, "GET", "/leads"))).toEqual(["ada@s1.example", "grace@s1.example", "linus@s2.example", "margaret@s3.example"]);
    expect(emails(await call(userL1, "GET", "/leads"))).toEqual(["ada@s1.example", "grace@s1.example", "linus@s2.example"]);
    expect(emails(await call(userL2, "GET", "/leads"))).toEqual(["margaret@s3.example"]);
    expect(emails(await call(agencyB, "GET", "/leads"))).toEqual(["secret@b.example"]);
  });

  it("filters naming another location or another tenant's site answer 404, on the list and the export", async () => {
    for (const path of [`/leads?locationId=${ids.l2}`, `/leads?siteId=${ids.s3}`, `/leads/export?locationId=${ids.l2}`, `/leads?siteId=${ids.sb}`]) {
      const res = await call(userL1, "GET", path);
      expect(res.status, path).toBe(404);
      expect(res.body.error).toBe("not_found");
    }
    expect((await call(agencyA, "GET", `/leads?locationId=${ids.lb}`)).status).toBe(404);
  });

  it("another location's or tenant's lead is a 404 on read, edit and delete, and is left as it was", async () => {
    const theirs = (await call(userL2, "GET", "/leads")).body.items![0]!;
    const before = await mongo.db.collection(COLLECTIONS.leads).findOne({ _id: theirs.id as never });
    for (const [user, method, body] of [
      [userL1, "GET", undefined],
      [userL1, "PATCH", { notes: "mine now" }],
      [userL1, "DELETE", undefined],
      [agencyB, "GET", undefined],
      [agencyB, "PATCH", { tags: ["x"] }],
      [agencyB, "DELETE", undefined],
    ] as const) {
      const res = await call(user, method, `/leads/${theirs.id}`, body);
      expect(res.status, `${method}`).toBe(404);
    }
    expect(await mongo.db.collection(COLLECTIONS.leads).findOne({ _id: theirs.id as never })).toEqual(before);
  });
});

describe("filters", () => {
  it.each([
    ["status=submitted", ["ada@s1.example", "linus@s2.example", "margaret@s3.example"]],
    ["status=partial", ["grace@s1.example"]],
    ["quality=medium", ["grace@s1.example"]],
    ["q=LOVELACE", ["ada@s1.example"]],
    ["q=s2.exa", ["linus@s2.example"]],
    ["utmSource=newsletter", ["linus@s2.example"]],
    ["utmCampaign=spring&status=submitted", ["ada@s1.example", "margaret@s3.example"]],
    ["formId=quote", ["ada@s1.example"]],
    ["locationId=LOC1", ["ada@s1.example", "grace@s1.example", "linus@s2.example"]],
    ["siteId=SITE2,SITE3", ["linus@s2.example", "margaret@s3.example"]],
    ["createdFrom=2000-01-01T00:00:00Z&createdTo=2001-01-01T00:00:00Z", []],
  ])("%s", async (query, expected) => {
    const q = query.replace("LOC1", ids.l1).replace("SITE2", ids.s2).replace("SITE3", ids.s3);
    expect(emails(await call(agencyA, "GET", `/leads?${q}`))).toEqual(expected);
  });

  it.each([
    ["status=won", "status"],
    ["createdFrom=yesterday", "createdFrom"],
    ["limit=201", "limit"],
    ["sort=email", "sort"],
    ["color=red", "color"],
  ])("refuses %s with 400 naming %s", async (query, field) => {
    const res = await call(agencyA, "GET", `/leads?${query}`);
    expect(res.status).toBe(400);
    expect((res.body.issues as { path: string }[]).some((i) => i.path === field || i.path.startsWith(`${field}.`))).toBe(true);
  });
});

describe("pagination", () => {
  it("walks every lead once with a stable order while new leads arrive, and refuses another query's cursor", async () => {
    const all = emails(await call(agencyA, "GET", "/leads?limit=200"));
    const seen: string[] = [];
    let cursor: string | null | undefined;
    let page = 0;
    do {
      const res = await call(agencyA, "GET", `/leads?limit=1&sort=created&order=desc${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.items ?? []).map((l) => l.email as string));
      cursor = res.body.nextCursor;
      // a newer lead lands in the middle of the walk: it sorts before the cursor, so it neither shifts nor repeats a row
      if (page++ === 1) await visit(ids.s1, `late-${crypto.randomUUID()}`, "late@s1.example", "submission");
    } while (cursor);
    expect(seen.sort()).toEqual(all);

    const first = await call(agencyA, "GET", "/leads?limit=1&status=submitted");
    const wrong = await call(agencyA, "GET", `/leads?limit=1&status=partial&cursor=${first.body.nextCursor}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.issues).toEqual([{ path: "cursor", message: expect.any(String) }]);
    // another user with the same query but another scope cannot reuse it either
    expect((await call(userL1, "GET", `/leads?limit=1&status=submitted&cursor=${first.body.nextCursor}`)).status).toBe(400);
  });
});

describe("one lead", () => {
  it("comes with its timeline in time order, page views carrying the time spent on them", async () => {
    const lead = (await call(agencyA, "GET", "/leads?q=ada@s1")).body.items![0]!;
    const res = await call(agencyA, "GET", `/leads/${lead.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ email: "ada@s1.example", firstName: "Ada", lastName: "Lovelace", locationId: ids.l1, siteId: ids.s1, fields: { email: "ada@s1.example" } });
    const timeline = res.body.timeline as { items: { type: string; timeOnPageMs?: number; page: { url: string } | null }[]; nextCursor: string | null };
    expect(timeline.items.map((i) => i.type)).toEqual(["page_view", "page_view", "form_submission"]);
    expect(timeline.items.map((i) => i.timeOnPageMs)).toEqual([4000, 1500, undefined]);

    const paged = await call(agencyA, "GET", `/leads/${lead.id}?limit=1`);
    const next = await call(agencyA, "GET", `/leads/${lead.id}?limit=1&cursor=${(paged.body.timeline as { nextCursor: string }).nextCursor}`);
    expect((next.body.timeline as { items: { page: { url: string } }[] }).items[0]!.page.url).toBe("https://s.example/contact");
  });

  it("takes a status override with a reason, notes and tags, and records who changed what and when", async () => {
    const lead = (await call(userL1, "GET", "/leads?q=grace")).body.items![0]!;
    const res = await call(userL1, "PATCH", `/leads/${lead.id}`, { status: { value: "qualified", reason: "Called back, wants a quote" }, notes: "Prefers mornings", tags: ["vip", "callback"] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "qualified", capturedStatus: "partial", notes: "Prefers mornings", tags: ["vip", "callback"] });
    expect(res.body.history).toEqual([
      {
        at: expect.any(String),
        by: { userId: userL1.userId, email: `${userL1.userId}@users.test` },
        reason: "Called back, wants a quote",
        changes: [
          { field: "status", from: "partial", to: "qualified" },
          { field: "notes", from: null, to: "Prefers mornings" },
          { field: "tags", from: [], to: ["vip", "callback"] },
        ],
      },
    ]);
    expect(emails(await call(agencyA, "GET", "/leads?status=qualified"))).toEqual(["grace@s1.example"]);
    // a later capture upgrades the captured status, never the owner's
    await visit(ids.s1, "a2-again", "grace@s1.example", "submission");
    const after = (await call(agencyA, "GET", `/leads/${lead.id}`)).body;
    expect(after).toMatchObject({ status: "qualified", capturedStatus: "submitted" });
  });

  it("shows a stranger's conflicting submission, and the owner accepts or dismisses it", async () => {
    // the lead of ada@s1.example was made by visitor v-a1; another visitor submits other values for that email
    await visit(ids.s1, "stranger", "ada@s1.example", "submission", { name: "Eve Mallory", formId: "quote" });
    const lead = (await call(agencyA, "GET", "/leads?q=ada@s1")).body.items![0]!;
    const before = (await call(agencyA, "GET", `/leads/${lead.id}`)).body as Record<string, unknown> & { submissions: unknown[] };
    expect(before).toMatchObject({ firstName: "Ada", lastName: "Lovelace" });
    const conflicts = before.conflicts as { id: string; field: string; value: string; current: string }[];
    expect(conflicts.map((k) => [k.field, k.value, k.current]).sort()).toEqual([
      ["fields.name", "Eve Mallory", "Ada Lovelace"],
      ["firstName", "Eve", "Ada"],
      ["lastName", "Mallory", "Lovelace"],
    ]);
    expect(before.submissions).toHaveLength(2);
    const first = conflicts.find((k) => k.field === "firstName")!;
    const rest = conflicts.filter((k) => k !== first).map((k) => k.id);
    const res = await call(userL1, "PATCH", `/leads/${lead.id}`, { acceptConflicts: [first.id], dismissConflicts: rest });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ firstName: "Eve", lastName: "Lovelace", conflicts: [] });
    expect((res.body.history as { changes: unknown[] }[]).at(-1)!.changes).toEqual([{ field: "firstName", from: "Ada", to: "Eve" }]);
    expect((await call(userL1, "PATCH", `/leads/${lead.id}`, { acceptConflicts: [first.id] })).status).toBe(400);
  });

  it.each([
    [{}, ""],
    [{ status: { value: "qualified" } }, "status.reason"],
    [{ status: { value: "won", reason: "x" } }, "status.value"],
    [{ tags: ["a", "a"] }, "tags"],
    [{ owner: "me" }, "owner"],
  ])("refuses the edit %j with 400", async (body, path) => {
    const lead = (await call(agencyA, "GET", "/leads?q=linus")).body.items![0]!;
    const res = await call(agencyA, "PATCH", `/leads/${lead.id}`, body);
    expect(res.status).toBe(400);
    expect((res.body.issues as { path: string }[]).map((i) => i.path)).toContain(path);
  });

  it("deletes a lead and its dedupe keys: the next submission of that email is a new lead", async () => {
    const lead = (await call(agencyA, "GET", "/leads?q=margaret")).body.items![0]!;
    expect((await call(agencyA, "DELETE", `/leads/${lead.id}`)).body).toEqual({ id: lead.id, deleted: true });
    expect((await call(agencyA, "GET", `/leads/${lead.id}`)).status).toBe(404);
    expect(await mongo.db.collection(COLLECTIONS.leadKeys).countDocuments({ leadId: lead.id })).toBe(0);
    await visit(ids.s3, "a4-again", "margaret@s3.example", "submission");
    const again = (await call(agencyA, "GET", "/leads?q=margaret")).body.items![0]!;
    expect(again.id).not.toBe(lead.id);
  });
});

describe("export", () => {
  it("streams CSV and NDJSON with the list's filters and scope, and defuses spreadsheet formulas", async () => {
    await visit(ids.s2, "formula", "evil@s2.example", "submission", { name: "=HYPERLINK(\"http://x\")" });
    const csv = await call(userL1, "GET", "/leads/export?format=csv&status=submitted");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const lines = csv.text.trim().split("\r\n");
    expect(lines[0]).toMatch(/^id,siteId,locationId,email,firstName/);
    const rows = lines.slice(1);
    expect(rows.some((r) => r.includes("margaret@s3.example"))).toBe(false);
    expect(rows.some((r) => r.includes("ada@s1.example"))).toBe(true);
    expect(rows.find((r) => r.includes("evil@s2.example"))).toContain(`"'=HYPERLINK(""http://x"")"`);

    const nd = await call(agencyA, "GET", "/leads/export?format=ndjson&locationId=" + ids.l2);
    const docs = nd.text.trim().split("\n").map((l) => JSON.parse(l) as { email: string; locationId: string });
    expect(docs.every((d) => d.locationId === ids.l2)).toBe(true);
    expect(docs.map((d) => d.email)).toContain("margaret@s3.example");
  });

  it("exports 100,000 leads from a process whose heap could not hold them", async () => {
    const site = crypto.randomUUID();
    const loc = await makeLocation(maria.db, A, { name: "Big" });
    await maria.db.insert(sites).values({ id: site, tenantId: A, locationId: loc, name: "Big", domain: "big.example", siteKey: `k_${site}` });
    const leads = mongo.db.collection(COLLECTIONS.leads);
    const now = new Date();
    for (let i = 0; i < 100_000; i += 10_000) {
      await leads.insertMany(
        Array.from({ length: 10_000 }, (_, j) => ({
          _id: crypto.randomUUID() as never,
          siteId: site,
          email: `bulk${i + j}@big.example`,
          status: "submitted",
          statusRank: 2,
          quality: "high",
          fields: { email: `bulk${i + j}@big.example`, message: "x".repeat(200) },
          formIds: ["contact"],
          visitorIds: [`v${i + j}`],
          sessionIds: [`s${i + j}`],
          firstName: "Bulk",
          lastName: `Lead ${i + j}`,
          utm: { source: "google", medium: "cpc", campaign: "bulk" },
          lastInteractionAt: now,
          createdAt: new Date(now.getTime() - (i + j)),
          updatedAt: now,
        })),
      );
    }
    // 48 MB of heap: the 100,000 documents alone would take several times that if the export held them
    const { stdout, stderr } = await run(
      join(ROOT, "node_modules/.bin/node"),
      [`--max-old-space-size=${process.env.EXPORT_HEAP_MB ?? 48}`, ...(process.env.TRACE_GC ? ["--expose-gc"] : []), join(ROOT, "backend-consumer/test/fixtures/export-child.ts")],
      {
        env: { ...process.env, MARIADB_URL: maria.url, MONGODB_URI: mongo.uri, MONGODB_DB: mongo.dbName, SECRET, TOKEN: agencyA.token, QUERY: `locationId=${loc}&format=csv` },
        maxBuffer: 1024 * 1024,
      },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, number>;
    console.log("export of 100,000 leads:", result, stderr);
    // every lead once: 100,000 rows whose numbers add up to 0 + 1 + … + 99,999
    expect(result).toMatchObject({ status: 200, rows: 100_000, idSum: (99_999 * 100_000) / 2 });
  }, 240_000);
});
