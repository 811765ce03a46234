/**
 * The audit trail on real parts (MariaDB, the MongoDB-compatible server) through the backend's HTTP app: every admin
 * change writes its entry in the change's transaction (before and after of the changed fields, secrets never in
 * it), lead actions write theirs before acting, single sign-on writes one per sign-in, lead reads are aggregated;
 * the table refuses UPDATE and DELETE; an entry that cannot be written stops the change (and a change that fails
 * leaves no entry); `GET /v1/audit` shows each caller its tenant's (or its locations') entries, filtered and paged.
 */
import { createHash, randomBytes } from "node:crypto";
import CryptoJS from "crypto-js";
import { and, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { createApi } from "../src/api/app.ts";
import { sessionKeys } from "../src/api/session.ts";
import { leadReadAudit } from "../src/audit/reads.ts";
import { auditLog, destinations, forms, locations, sites, siteSecrets, tenants, userLocations, users } from "../src/config/schema.ts";
import { ConnectionStore } from "../src/crm/connections.ts";
import { loadConnectors } from "../src/crm/connectors/index.ts";
import { DestinationDirectory } from "../src/crm/directory.ts";
import { SecretBox } from "../src/crm/secret-box.ts";
import { LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { DELIVERY_STATUS, statusId } from "../src/crm/worker.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { freshConfigDb, type TestConfigDb } from "../../scripts/testing/config-db.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const JWT = "audit-test-secret-0123456789abcdef-xyz";
const SHARED = "hl-shared-" + randomBytes(8).toString("hex");
const A = { id: crypto.randomUUID(), company: `co-a-${randomBytes(3).toString("hex")}` };
const B = { id: crypto.randomUUID(), company: `co-b-${randomBytes(3).toString("hex")}` };
const MASK = "[changed]";

let maria: TestConfigDb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
const ids = { l1: "", l2: "", lb: "", s1: crypto.randomUUID(), s2: crypto.randomUUID(), sb: crypto.randomUUID() };
let agencyA: MadeUser;
let userL1: MadeUser;
let agencyB: MadeUser;

type Json = Record<string, unknown> & { items?: Record<string, unknown>[]; nextCursor?: string | null };
interface Answer {
  status: number;
  body: Json;
  text: string;
  headers: Headers;
}
async function call(user: MadeUser | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await app.request(path.startsWith("/v1") ? path : `/v1${path}`, {
    method,
    headers: { ...(user ? { authorization: `Bearer ${user.token}` } : {}), "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // CSV
  }
  return { status: res.status, body: json, text, headers: res.headers };
}
const ok = (r: Answer, status = 200): Json => {
  expect(r.status, r.text).toBe(status);
  return r.body;
};

type Entry = typeof auditLog.$inferSelect;
/** The stored entries for one target, oldest first (JSON columns parsed). */
async function entriesFor(targetId: string, action?: string): Promise<Entry[]> {
  const rows = await maria.db
    .select()
    .from(auditLog)
    .where(action ? and(eq(auditLog.targetId, targetId), eq(auditLog.action, action)) : eq(auditLog.targetId, targetId))
    .orderBy(auditLog.id);
  return rows.map((r) => ({ ...r, changes: parse(r.changes), meta: parse(r.meta) }));
}
const parse = <T>(v: T | string | null): T | null => (typeof v === "string" ? (JSON.parse(v) as T) : v);
async function onlyEntry(targetId: string, action: string): Promise<Entry> {
  const rows = await entriesFor(targetId, action);
  expect(rows, `${action} entries of ${targetId}`).toHaveLength(1);
  return rows[0]!;
}
const countEntries = async (): Promise<number> => Number(((await maria.sql("SELECT COUNT(*) AS n FROM audit_log")) as { n: number }[])[0]!.n);
/** Everything the table holds, as text: what must never contain a secret. */
const tableText = async (): Promise<string> => JSON.stringify(await maria.sql("SELECT * FROM audit_log"));

let seq = 0;
const T0 = Date.now() - 86_400_000;
function ev(type: TrackerEvent["type"], session: string, over: Partial<TrackerEvent> = {}): TrackerEvent {
  return { id: crypto.randomUUID(), type, ts: T0 + seq++ * 1000, sessionId: session, visitorId: `v-${session}`, ...over };
}
/** A visitor who submits a form on `siteId`: a lead (through the real drain). Returns the lead's id. */
async function lead(siteId: string, email: string): Promise<string> {
  const session = crypto.randomUUID();
  const page = { url: "https://s.example/contact", path: "/contact", title: "Contact" };
  const events = [ev("page_view", session, { page }), ev("form_submission", session, { page, form: { formId: "contact", fields: { email, name: "Ada Lovelace" } } })];
  const message: QueueMessage = { v: 1, siteId, receivedAt: T0 + seq * 1000, geo: {}, ip: null, ua: "UA", events };
  const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: mongo.db });
  expect(outcome).toMatchObject({ action: "ack" });
  const doc = await mongo.db.collection<{ _id: string; email: string }>(COLLECTIONS.leads).findOne({ email });
  return doc!._id;
}

/** Runs `fn` while a trigger refuses every insert into audit_log (the trail "failing" inside the transaction). */
async function withAuditRefused<T>(fn: () => Promise<T>): Promise<T> {
  await maria.sql("CREATE TRIGGER audit_log_refuse_test BEFORE INSERT ON audit_log FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit insert refused (test)'");
  try {
    return await fn();
  } finally {
    await maria.sql("DROP TRIGGER IF EXISTS audit_log_refuse_test");
  }
}

const payload = (ctx: Record<string, unknown>, secret = SHARED) => CryptoJS.AES.encrypt(JSON.stringify(ctx), secret).toString();
const signIn = (encryptedData: string) => call(null, "POST", "/v1/auth/highlevel", { encryptedData });

beforeAll(async () => {
  maria = await freshConfigDb("audit");
  mongo = await testMongo("audit");
  await ensureIndexes(mongo.db);
  await maria.db.insert(tenants).values([
    { id: A.id, name: "Agency A", externalId: A.company },
    { id: B.id, name: "Agency B", externalId: B.company },
  ]);
  ids.l1 = await makeLocation(maria.db, A.id, { name: "L1", externalId: "hl-l1" });
  ids.l2 = await makeLocation(maria.db, A.id, { name: "L2", externalId: "hl-l2" });
  ids.lb = await makeLocation(maria.db, B.id, { name: "LB" });
  const site = (id: string, tenantId: string, locationId: string) => ({ id, tenantId, locationId, name: "S", domain: "s.example", siteKey: `k_${id}` });
  await maria.db.insert(sites).values([site(ids.s1, A.id, ids.l1), site(ids.s2, A.id, ids.l2), site(ids.sb, B.id, ids.lb)]);
  agencyA = await makeUser(maria.db, JWT, { tenantId: A.id, role: "agency" });
  userL1 = await makeUser(maria.db, JWT, { tenantId: A.id, role: "location", locationIds: [ids.l1] });
  agencyB = await makeUser(maria.db, JWT, { tenantId: B.id, role: "agency" });

  const box = new SecretBox(randomBytes(32).toString("base64"));
  const connectors = await loadConnectors();
  const directory = new DestinationDirectory(maria.db, box, connectors, () => {});
  app = createApi({
    db: mongo.db,
    configDb: maria.db,
    auth: { hs256Secret: JWT, session: await sessionKeys() },
    sso: { sharedSecret: SHARED, autoCreateTenants: false },
    crm: { box, connectors, directory, connections: new ConnectionStore(maria.db, box, {}) },
    log: () => {},
    metrics: createMetrics(mongo.db),
  });
});
afterAll(async () => {
  await leadReadAudit(maria.db).stop();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

describe("admin changes: one entry each, in the change's transaction", () => {
  it("locations: create, update (before and after of the changed fields only), delete; actor and request id", async () => {
    const created = await call(agencyA, "POST", "/locations", { name: "Dental", timezone: "Europe/Berlin" }, { "x-request-id": "req-audit-1" });
    const loc = ok(created, 201);
    const create = await onlyEntry(loc.id as string, "location.create");
    expect(create).toMatchObject({
      tenantId: A.id,
      locationId: loc.id,
      actorId: agencyA.userId,
      actorRole: "agency",
      targetType: "location",
      requestId: "req-audit-1",
      // a create lists the fields it set (null ones left out)
      changes: { name: { before: null, after: "Dental" }, timezone: { before: null, after: "Europe/Berlin" } },
    });
    const patched = await call(agencyA, "PATCH", `/locations/${loc.id}`, { name: "Dental Care", timezone: "Europe/Berlin" });
    ok(patched);
    const update = await onlyEntry(loc.id as string, "location.update");
    // the request id the backend generated and echoed
    expect(update.requestId).toBe(patched.headers.get("x-request-id"));
    expect(update.changes).toEqual({ name: { before: "Dental", after: "Dental Care" } });
    ok(await call(agencyA, "DELETE", `/locations/${loc.id}`));
    expect((await onlyEntry(loc.id as string, "location.delete")).changes).toMatchObject({ name: { before: "Dental Care", after: null } });
  });

  it("sites: create, update, a move to another location, delete; the entry goes with the site's location", async () => {
    const site = ok(await call(agencyA, "POST", "/sites", { name: "Shop", domain: "shop.example", locationId: ids.l1 }), 201);
    const id = site.id as string;
    const create = await onlyEntry(id, "site.create");
    expect(create).toMatchObject({ locationId: ids.l1, targetType: "site" });
    expect(create.changes).toMatchObject({ name: { before: null, after: "Shop" }, siteKey: { before: null, after: site.siteKey }, allowedOrigins: { before: null, after: ["https://shop.example", "https://www.shop.example"] } });

    ok(await call(agencyA, "PATCH", `/sites/${id}`, { name: "Shop 2", domain: "shop.example", settings: { debug: true } }));
    // a location user edits a site of its own location
    ok(await call(userL1, "PATCH", `/sites/${id}`, { name: "Shop 3" }));
    const [first, second] = await entriesFor(id, "site.update");
    expect(first!.changes).toEqual({ name: { before: "Shop", after: "Shop 2" }, settings: { before: {}, after: { debug: true } } });
    expect(second).toMatchObject({ actorId: userL1.userId, actorRole: "location", locationId: ids.l1, changes: { name: { before: "Shop 2", after: "Shop 3" } } });

    ok(await call(agencyA, "PATCH", `/sites/${id}`, { locationId: ids.l2 }));
    const move = (await entriesFor(id, "site.update"))[2]!;
    expect(move).toMatchObject({ locationId: ids.l2, changes: { locationId: { before: ids.l1, after: ids.l2 } } });

    ok(await call(agencyA, "DELETE", `/sites/${id}`));
    expect(await onlyEntry(id, "site.delete")).toMatchObject({ locationId: ids.l2, changes: { name: { before: "Shop 3", after: null }, siteKey: { before: site.siteKey, after: null } } });
  });

  it("forms, fields and mappings, each under its site's location", async () => {
    const form = ok(await call(userL1, "POST", `/sites/${ids.s1}/forms`, { name: "Contact", selector: "#contact" }), 201);
    const field = ok(await call(userL1, "POST", `/forms/${form.id}/fields`, { selector: "[name=email]", name: "email", type: "email" }), 201);
    const mapping = ok(await call(userL1, "POST", `/fields/${field.id}/mapping`, { targetEntity: "contact", targetField: "email" }), 201);
    ok(await call(userL1, "PATCH", `/forms/${form.id}`, { name: "Contact us", alternativeSelectors: ["form.contact"] }));
    ok(await call(userL1, "PATCH", `/fields/${field.id}`, { label: "Your email", required: true }));
    ok(await call(userL1, "PATCH", `/mappings/${mapping.id}`, { transform: "lowercase" }));
    ok(await call(userL1, "DELETE", `/mappings/${mapping.id}`));
    ok(await call(userL1, "DELETE", `/fields/${field.id}`));
    ok(await call(userL1, "DELETE", `/forms/${form.id}`));

    for (const [kind, target] of [["form", form.id], ["field", field.id], ["mapping", mapping.id]] as const) {
      const rows = await entriesFor(target as string);
      expect(rows.map((r) => r.action), kind).toEqual([`${kind}.create`, `${kind}.update`, `${kind}.delete`]);
      for (const r of rows) expect(r).toMatchObject({ locationId: ids.l1, targetType: kind, actorId: userL1.userId });
    }
    expect((await onlyEntry(form.id as string, "form.create")).changes).toMatchObject({ siteId: { before: null, after: ids.s1 }, selector: { before: null, after: "#contact" } });
    expect((await onlyEntry(form.id as string, "form.update")).changes).toEqual({ name: { before: "Contact", after: "Contact us" }, alternativeSelectors: { before: [], after: ["form.contact"] } });
    expect((await onlyEntry(field.id as string, "field.update")).changes).toEqual({ label: { before: null, after: "Your email" }, required: { before: false, after: true } });
    expect((await onlyEntry(mapping.id as string, "mapping.update")).changes).toEqual({ transform: { before: null, after: "lowercase" } });
    expect((await onlyEntry(mapping.id as string, "mapping.delete")).changes).toMatchObject({ targetField: { before: "email", after: null } });
  });

  it("users: tenant-wide entries (no location), role and locations before and after, never an email address", async () => {
    const email = `new-${randomBytes(3).toString("hex")}@agency-a.example`;
    const user = ok(await call(agencyA, "POST", "/users", { email, role: "location", locationIds: [ids.l1] }), 201);
    const id = user.id as string;
    ok(await call(agencyA, "PATCH", `/users/${id}`, { locationIds: [ids.l1, ids.l2], email: `renamed-${email}` }));
    ok(await call(agencyA, "PATCH", `/users/${id}`, { role: "agency" }));
    ok(await call(agencyA, "DELETE", `/users/${id}`));
    const rows = await entriesFor(id);
    expect(rows.map((r) => r.action)).toEqual(["user.create", "user.update", "user.update", "user.delete"]);
    for (const r of rows) expect(r.locationId).toBeNull();
    expect(rows[0]!.changes).toMatchObject({ email: { before: MASK, after: MASK }, role: { before: null, after: "location" }, locationIds: { before: null, after: [ids.l1] } });
    expect(rows[1]!.changes).toEqual({ email: { before: MASK, after: MASK }, locationIds: { before: [ids.l1], after: [ids.l1, ids.l2].sort() } });
    expect(rows[2]!.changes).toEqual({ role: { before: "location", after: "agency" } });
    expect(rows[3]!.changes).toEqual({ role: { before: "agency", after: null } });
    expect(await tableText()).not.toContain(email);
  });

  it("server secret keys and destinations: recorded, and no secret, hash or sealed value ever in the table", async () => {
    const created = ok(await call(agencyA, "POST", `/sites/${ids.s1}/secret-keys`), 201);
    const secret = created.secret as string;
    expect(await onlyEntry(created.id as string, "secret.create")).toMatchObject({ locationId: ids.l1, targetType: "secret_key", changes: { prefix: { before: null, after: created.prefix } } });
    ok(await call(agencyA, "DELETE", `/secret-keys/${created.id}`));
    ok(await call(agencyA, "DELETE", `/secret-keys/${created.id}`)); // again: nothing changes, nothing recorded
    expect((await onlyEntry(created.id as string, "secret.revoke")).changes).toMatchObject({ revokedAt: { before: null, after: expect.any(String) } });

    const given = `whsec_${randomBytes(32).toString("base64")}`;
    const dest = ok(await call(agencyA, "POST", "/destinations", { kind: "webhook", name: "Hook", siteId: ids.s2, config: { url: "https://hooks.example/in" }, secret: given }), 201);
    const generated = ok(await call(agencyA, "POST", "/destinations", { kind: "webhook", name: "Hook 2", locationId: ids.l1, config: { url: "https://hooks.example/two" } }), 201);
    const rotated = `whsec_${randomBytes(32).toString("base64")}`;
    ok(await call(agencyA, "PATCH", `/destinations/${dest.id}`, { secret: rotated, enabled: false }));
    ok(await call(agencyA, "DELETE", `/destinations/${generated.id}`));
    expect(await onlyEntry(dest.id as string, "destination.create")).toMatchObject({
      locationId: ids.l2, // a site's destination: the site's location
      changes: { kind: { before: null, after: "webhook" }, siteId: { before: null, after: ids.s2 }, config: { before: null, after: { url: "https://hooks.example/in", maxPerSecond: 50 } } },
      meta: { hasSecret: true },
    });
    expect((await onlyEntry(dest.id as string, "destination.update")).changes).toEqual({ enabled: { before: true, after: false }, secret: { before: MASK, after: MASK } });
    expect(await onlyEntry(generated.id as string, "destination.delete")).toMatchObject({ locationId: ids.l1, changes: { name: { before: "Hook 2", after: null } } });

    const sealed = await maria.db.select({ enc: destinations.secretEnc }).from(destinations).where(eq(destinations.id, dest.id as string));
    const [hash] = await maria.db.select({ hash: siteSecrets.hash }).from(siteSecrets).where(eq(siteSecrets.id, created.id as string));
    const text = await tableText();
    for (const value of [secret, createHash("sha256").update(secret).digest("hex"), hash!.hash, given, rotated, generated.secret as string, sealed[0]!.enc!]) {
      expect(text).not.toContain(value);
      // nor a recognisable piece of it
      expect(text).not.toContain(value.slice(-16));
    }
  });

  it("a destination's replay is recorded first, with the number of deliveries it sends again", async () => {
    const dest = ok(await call(agencyA, "POST", "/destinations", { kind: "webhook", name: "Replay", locationId: ids.l2, config: { url: "https://hooks.example/r" } }), 201);
    const leadId = await lead(ids.s2, `replay-${randomBytes(3).toString("hex")}@x.example`);
    await mongo.db.collection(DELIVERY_STATUS).insertOne({
      _id: statusId(leadId, dest.id as string) as never,
      leadId,
      destinationId: dest.id,
      siteId: ids.s2,
      kind: "webhook",
      status: "dead",
      done: 0,
      tried: 1,
      attempts: 8,
      lastError: "HTTP 500",
      retryable: false,
      nextAt: null,
      externalId: null,
      deliveredAt: null,
      updatedAt: new Date(),
    });
    expect(ok(await call(agencyA, "POST", `/destinations/${dest.id}/replay`), 202)).toMatchObject({ replayed: 1 });
    expect(await onlyEntry(dest.id as string, "destination.replay")).toMatchObject({ locationId: ids.l2, actorId: agencyA.userId, meta: { deliveries: 1 } });
  });
});

describe("append-only", () => {
  it("refuses UPDATE and DELETE on audit_log, whoever runs them", async () => {
    const before = await countEntries();
    expect(before).toBeGreaterThan(0);
    await expect(maria.sql("UPDATE audit_log SET action = 'nothing.happened'")).rejects.toThrow(/append-only/);
    await expect(maria.sql("UPDATE audit_log SET changes = NULL WHERE id = (SELECT MAX(id) FROM (SELECT id FROM audit_log) AS x)")).rejects.toThrow(/append-only/);
    await expect(maria.sql("DELETE FROM audit_log")).rejects.toThrow(/append-only/);
    await expect(maria.sql(`DELETE FROM audit_log WHERE tenant_id = ?`, [A.id])).rejects.toThrow(/append-only/);
    expect(await countEntries()).toBe(before);
    expect(await maria.sql("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'nothing.happened'")).toEqual([{ n: 0 }]);
  });
});

describe("not skippable", () => {
  it("when the entry cannot be written, the admin change does not happen and the answer is an error", async () => {
    const site = ok(await call(agencyA, "POST", "/sites", { name: "Guarded", domain: "guarded.example", locationId: ids.l1 }), 201);
    const form = ok(await call(agencyA, "POST", `/sites/${site.id}/forms`, { name: "F", selector: "#f" }), 201);
    const user = ok(await call(agencyA, "POST", "/users", { email: `guard-${randomBytes(3).toString("hex")}@x.example`, role: "location", locationIds: [ids.l1] }), 201);
    const dest = ok(await call(agencyA, "POST", "/destinations", { kind: "webhook", name: "Guarded", locationId: ids.l1, config: { url: "https://hooks.example/g" } }), 201);
    const snapshot = async () => ({
      site: (await maria.db.select().from(sites).where(eq(sites.id, site.id as string)))[0],
      form: (await maria.db.select().from(forms).where(eq(forms.id, form.id as string)))[0],
      user: (await maria.db.select().from(users).where(eq(users.id, user.id as string)))[0],
      userLocations: await maria.db.select().from(userLocations).where(eq(userLocations.userId, user.id as string)),
      dest: (await maria.db.select().from(destinations).where(eq(destinations.id, dest.id as string)))[0],
      secrets: await maria.db.select().from(siteSecrets).where(eq(siteSecrets.siteId, site.id as string)),
      locations: (await maria.db.select().from(locations).where(eq(locations.tenantId, A.id))).length,
      sites: (await maria.db.select().from(sites).where(eq(sites.tenantId, A.id))).length,
    });
    const before = await snapshot();
    const entries = await countEntries();
    const attempts: [string, string, unknown?][] = [
      ["PATCH", `/sites/${site.id}`, { name: "Changed", allowedOrigins: [] }],
      ["POST", "/sites", { name: "Never", domain: "never.example", locationId: ids.l1 }],
      ["DELETE", `/forms/${form.id}`],
      ["PATCH", `/users/${user.id}`, { role: "agency", locationIds: [] }],
      ["POST", `/sites/${site.id}/secret-keys`],
      ["PATCH", `/destinations/${dest.id}`, { enabled: false }],
      ["POST", "/locations", { name: "Never" }],
    ];
    await withAuditRefused(async () => {
      for (const [method, path, body] of attempts) {
        const res = await call(agencyA, method, path, body);
        expect(res.status, `${method} ${path}: ${res.text}`).toBeGreaterThanOrEqual(500);
        expect(res.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
      }
    });
    expect(await snapshot()).toEqual(before);
    expect(await countEntries()).toBe(entries);
    // and with the trail back, the same change goes through, with its entry
    ok(await call(agencyA, "PATCH", `/sites/${site.id}`, { name: "Changed" }));
    expect((await onlyEntry(site.id as string, "site.update")).changes).toEqual({ name: { before: "Guarded", after: "Changed" } });
  });

  it("when the entry cannot be written, lead actions, exports, replays and sign-ins do not happen either", async () => {
    const leadId = await lead(ids.s1, `guarded-${randomBytes(3).toString("hex")}@x.example`);
    const leads = mongo.db.collection<{ _id: string }>(COLLECTIONS.leads);
    const stored = await leads.findOne({ _id: leadId });
    const outbox = await mongo.db.collection(LEAD_OUTBOX).countDocuments({});
    const dest = ok(await call(agencyA, "POST", "/destinations", { kind: "webhook", name: "G", locationId: ids.l1, config: { url: "https://hooks.example/g2" } }), 201);
    const entries = await countEntries();
    await withAuditRefused(async () => {
      for (const [method, path, body] of [
        ["PATCH", `/leads/${leadId}`, { status: { value: "spam", reason: "test" }, notes: "no" }],
        ["DELETE", `/leads/${leadId}`],
        ["POST", `/leads/${leadId}/sync`],
        ["GET", "/leads/export?format=ndjson"],
        ["POST", `/destinations/${dest.id}/replay`],
      ] as [string, string, unknown?][]) {
        const res = await call(agencyA, method, path, body);
        expect(res.status, `${method} ${path}: ${res.text}`).toBeGreaterThanOrEqual(500);
        expect(res.body.error).toEqual(expect.any(String));
        expect(res.text).not.toContain("guarded-");
      }
      const sso = await signIn(payload({ userId: "hl-refused", companyId: A.company, type: "agency", email: "refused@agency-a.example" }));
      expect(sso.status).toBeGreaterThanOrEqual(500);
      expect(sso.body.token).toBeUndefined();
    });
    // the sign-in's provisioning went with it: no user was created
    expect(await maria.db.select().from(users).where(eq(users.externalId, "hl-refused"))).toEqual([]);
    expect(await leads.findOne({ _id: leadId })).toEqual(stored);
    expect(await mongo.db.collection(LEAD_OUTBOX).countDocuments({})).toBe(outbox);
    expect(await countEntries()).toBe(entries);
  });

  it("a change that fails after its entry was written leaves no entry (one transaction)", async () => {
    const taken = ok(await call(agencyA, "POST", "/sites", { name: "Taken", domain: "taken.example", locationId: ids.l1 }), 201);
    const site = ok(await call(agencyA, "POST", "/sites", { name: "Other", domain: "other.example", locationId: ids.l1 }), 201);
    // the database refuses the write after the entry is in: a site key that is taken (409)
    expect((await call(agencyA, "PATCH", `/sites/${site.id}`, { siteKey: taken.siteKey })).status).toBe(409);
    expect(await entriesFor(site.id as string, "site.update")).toEqual([]);
    const dup = await call(agencyA, "POST", "/sites", { name: "Dup", domain: "dup.example", locationId: ids.l1, siteKey: taken.siteKey });
    expect(dup.status).toBe(409);
    expect(await maria.sql("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'site.create' AND JSON_VALUE(changes, '$.name.after') = 'Dup'")).toEqual([{ n: 0 }]);
    // and a failure of our own making, after the entry: a trigger refusing the site's update
    await maria.sql("CREATE TRIGGER sites_refuse_test BEFORE UPDATE ON sites FOR EACH ROW BEGIN IF NEW.name = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused (test)'; END IF; END");
    try {
      const res = await call(agencyA, "PATCH", `/sites/${site.id}`, { name: "boom" });
      expect(res.status).toBe(500);
    } finally {
      await maria.sql("DROP TRIGGER IF EXISTS sites_refuse_test");
    }
    expect(await entriesFor(site.id as string, "site.update")).toEqual([]);
    expect((await maria.db.select().from(sites).where(eq(sites.id, site.id as string)))[0]?.name).toBe("Other");
  });
});

describe("lead actions", () => {
  it("edits record field names and status values only; delete, CRM replay and export are recorded before they run", async () => {
    const email = `lead-${randomBytes(3).toString("hex")}@s1.example`;
    const leadId = await lead(ids.s1, email);
    ok(await call(userL1, "PATCH", `/leads/${leadId}`, { status: { value: "qualified", reason: "Called back: wants a quote for 3 rooms" }, notes: "Lives at 12 Baker Street", tags: ["vip"] }));
    expect(await onlyEntry(leadId, "lead.update")).toMatchObject({
      locationId: ids.l1,
      actorId: userL1.userId,
      targetType: "lead",
      changes: { status: { before: "submitted", after: "qualified" }, notes: { before: MASK, after: MASK }, tags: { before: MASK, after: MASK } },
      meta: { siteId: ids.s1 },
    });
    ok(await call(userL1, "POST", `/leads/${leadId}/sync`), 202);
    expect(await onlyEntry(leadId, "lead.sync")).toMatchObject({ locationId: ids.l1, actorId: userL1.userId });

    const csv = await call(userL1, "GET", `/leads/export?status=qualified&q=${encodeURIComponent(email)}`);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain(email);
    const exported = await maria.db.select().from(auditLog).where(and(eq(auditLog.action, "leads.export"), eq(auditLog.actorId, userL1.userId)));
    expect(exported).toHaveLength(1);
    expect({ ...exported[0]!, meta: parse(exported[0]!.meta) }).toMatchObject({ locationId: ids.l1, meta: { filters: { status: ["qualified"], q: MASK, format: "csv" }, locationIds: [ids.l1] } });

    ok(await call(agencyA, "DELETE", `/leads/${leadId}`));
    expect(await onlyEntry(leadId, "lead.delete")).toMatchObject({ locationId: ids.l1, actorId: agencyA.userId, meta: { siteId: ids.s1, status: "qualified" } });

    const text = await tableText();
    for (const personal of [email, "Baker Street", "wants a quote", "vip"]) expect(text).not.toContain(personal);
  });

  it("reads are aggregated per user, location and hour, written by the flush, not one entry per read", async () => {
    const leadId = await lead(ids.s1, `reader-${randomBytes(3).toString("hex")}@s1.example`);
    const reads = leadReadAudit(maria.db);
    await reads.flush();
    const before = await countEntries();
    ok(await call(userL1, "GET", "/leads"));
    ok(await call(userL1, "GET", `/leads/${leadId}`));
    ok(await call(userL1, "GET", `/leads/${leadId}?limit=1`));
    ok(await call(agencyA, "GET", `/leads?locationId=${ids.l2}`)); // an empty page of L2
    expect(await countEntries()).toBe(before); // nothing written per read
    // two entries (four, if the reads straddled the turn of an hour)
    expect([2, 3, 4]).toContain(await reads.flush());
    const rows = await maria.db.select().from(auditLog).where(eq(auditLog.action, "leads.read"));
    type ReadMeta = { reads: number; leads: number; kinds: Record<string, number> };
    const mine = rows.map((r) => ({ ...r, meta: parse(r.meta) as ReadMeta }));
    const l1 = mine.filter((r) => r.actorId === userL1.userId);
    for (const r of l1) expect(r).toMatchObject({ tenantId: A.id, locationId: ids.l1, actorRole: "location", targetType: "lead", targetId: null });
    expect(l1.reduce((n, r) => n + r.meta.reads, 0)).toBe(3);
    expect(l1.reduce((n, r) => n + r.meta.kinds.detail!, 0)).toBe(2);
    expect(l1.reduce((n, r) => n + r.meta.kinds.list!, 0)).toBe(1);
    expect(Math.max(...l1.map((r) => r.meta.leads))).toBeGreaterThanOrEqual(1);
    const agency = mine.filter((r) => r.actorId === agencyA.userId);
    expect(agency.map((r) => r.locationId)).toEqual(agency.map(() => ids.l2));
    expect(agency.reduce((n, r) => n + r.meta.reads, 0)).toBe(1);
    // a location user sees its own reads in the trail, not the agency's reads of another location
    const visible = ok(await call(userL1, "GET", "/audit?action=leads.read")).items!;
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.every((e) => e.locationId === ids.l1)).toBe(true);
  });
});

describe("single sign-on", () => {
  it("writes auth.sso for every sign-in (user, role, location; role changes before and after), nothing for a refused one", async () => {
    const agencyCtx = { userId: "hl-ada", companyId: A.company, type: "agency", userName: "Ada", email: "ada@agency-a.example" };
    const first = ok(await signIn(payload(agencyCtx)));
    const userId = (first.user as { userId: string }).userId;
    ok(await signIn(payload({ ...agencyCtx, activeLocation: "hl-l2" })));
    const rows = await entriesFor(userId, "auth.sso");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ tenantId: A.id, locationId: null, actorId: userId, actorRole: "agency", targetType: "user", meta: { provider: "highlevel", provisioned: "created", sessionLocationId: null } });
    expect(rows[1]).toMatchObject({ locationId: ids.l2, meta: { provisioned: "none", sessionLocationId: ids.l2 } });
    expect(JSON.stringify(rows)).not.toContain("ada@agency-a.example");

    // the CRM made Ada a location user: the sign-in records the role change
    ok(await signIn(payload({ ...agencyCtx, type: "location", activeLocation: "hl-l1" })));
    expect((await entriesFor(userId, "auth.sso"))[2]).toMatchObject({ locationId: ids.l1, actorRole: "location", changes: { role: { before: "agency", after: "location" } }, meta: { provisioned: "updated" } });

    const count = await countEntries();
    expect((await signIn(payload(agencyCtx, "wrong-secret"))).status).toBe(401);
    expect((await signIn(payload({ ...agencyCtx, companyId: "unknown-company" }))).status).toBe(401);
    expect(await countEntries()).toBe(count);
  });
});

describe("GET /v1/audit", () => {
  it("shows an agency its tenant, a location user only its locations' entries, another tenant nothing", async () => {
    // one change in each location and one tenant-wide
    ok(await call(agencyA, "PATCH", `/sites/${ids.s1}`, { name: "S1 seen" }));
    ok(await call(agencyA, "PATCH", `/sites/${ids.s2}`, { name: "S2 seen" }));
    const user = ok(await call(agencyA, "POST", "/users", { email: `seen-${randomBytes(3).toString("hex")}@x.example`, role: "agency" }), 201);
    ok(await call(agencyB, "PATCH", `/sites/${ids.sb}`, { name: "B seen" }));

    const agency = ok(await call(agencyA, "GET", "/audit?limit=200")).items!;
    expect(agency.every((e) => e.tenantId === A.id)).toBe(true);
    expect(agency.map((e) => e.targetId)).toEqual(expect.arrayContaining([ids.s1, ids.s2, user.id]));
    expect(agency.some((e) => e.locationId === null)).toBe(true);
    expect(agency[0]).toMatchObject({ id: expect.any(String), at: expect.any(String), action: expect.any(String), actor: expect.anything() });

    const local = ok(await call(userL1, "GET", "/audit?limit=200")).items!;
    expect(local.length).toBeGreaterThan(0);
    expect(new Set(local.map((e) => e.locationId))).toEqual(new Set([ids.l1]));
    expect(local.map((e) => e.targetId)).toContain(ids.s1);
    expect(local.map((e) => e.targetId)).not.toContain(ids.s2);
    expect(local.some((e) => String(e.action).startsWith("user."))).toBe(false);
    expect((await call(userL1, "GET", `/audit?locationId=${ids.l2}`)).status).toBe(404);
    expect(ok(await call(userL1, "GET", `/audit?locationId=${ids.l1}&targetId=${ids.s1}`)).items!.length).toBeGreaterThan(0);

    const other = ok(await call(agencyB, "GET", "/audit?limit=200")).items!;
    expect(other.map((e) => e.targetId)).toContain(ids.sb);
    expect(other.every((e) => e.tenantId === B.id)).toBe(true);
    expect(ok(await call(agencyB, "GET", `/audit?locationId=${ids.l1}`)).items).toEqual([]);
    expect(ok(await call(agencyB, "GET", `/audit?targetId=${ids.s1}`)).items).toEqual([]);
    expect((await call(null, "GET", "/audit")).status).toBe(401);
  });

  it("pages newest first with an opaque cursor, and filters by action, prefix, actor, target, location and time", async () => {
    const loc = ok(await call(agencyA, "POST", "/locations", { name: "Paged" }), 201);
    const site = ok(await call(agencyA, "POST", "/sites", { name: "P0", domain: "paged.example", locationId: loc.id }), 201);
    for (let i = 1; i <= 6; i++) ok(await call(agencyA, "PATCH", `/sites/${site.id}`, { name: `P${i}` }));
    await new Promise((r) => setTimeout(r, 20));
    const middle = new Date();
    await new Promise((r) => setTimeout(r, 20));
    ok(await call(agencyA, "PATCH", `/sites/${site.id}`, { name: "P7" }));

    // every entry of the location: location.create, site.create, 7 site.update
    const seen: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Json = ok(await call(agencyA, "GET", `/audit?locationId=${loc.id}&limit=4${cursor ? `&cursor=${cursor}` : ""}`));
      seen.push(...page.items!);
      cursor = page.nextCursor ?? null;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(9);
    const idsSeen = seen.map((e) => Number(e.id));
    expect(idsSeen).toEqual([...idsSeen].sort((a, b) => b - a));
    expect(new Set(idsSeen).size).toBe(9);
    expect(seen[0]).toMatchObject({ action: "site.update", changes: { name: { before: "P6", after: "P7" } } });
    expect(seen.at(-1)).toMatchObject({ action: "location.create", targetId: loc.id });

    const q = async (query: string) => ok(await call(agencyA, "GET", `/audit?locationId=${loc.id}&${query}`)).items!;
    expect((await q("action=site.update")).length).toBe(7);
    expect((await q("action=site.")).map((e) => e.action).sort()).toEqual(["site.create", ...Array(7).fill("site.update")].sort());
    expect((await q("action=site")).length).toBe(0); // exact, not a prefix without its dot
    expect((await q("action=location.")).length).toBe(1);
    expect((await q(`actorId=${agencyA.userId}`)).length).toBe(9);
    expect((await q("targetType=site")).length).toBe(8);
    expect((await q(`targetId=${site.id}&action=site.update&limit=2`)).map((e) => (e.changes as { name: { after: string } }).name.after)).toEqual(["P7", "P6"]);
    expect((await q(`from=${middle.toISOString()}`)).map((e) => e.action)).toEqual(["site.update"]);
    expect((await q(`to=${middle.toISOString()}`)).length).toBe(8);
    expect((await q(`from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z`)).length).toBe(0);
  });

  it("answers 400 naming the parameter", async () => {
    for (const [query, path] of [
      ["limit=500", "limit"],
      ["limit=0", "limit"],
      ["from=yesterday", "from"],
      ["to=2025-13-01T00:00:00Z", "to"],
      ["from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"],
      ["cursor=not-a-cursor", "cursor"],
      ["action=DROP%20TABLE", "action"],
      ["bogus=1", "bogus"],
    ]) {
      const res = await call(agencyA, "GET", `/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body).toMatchObject({ error: "validation_failed" });
      expect((res.body.issues as { path: string }[]).map((i) => i.path), query).toContain(path);
    }
  });
});
