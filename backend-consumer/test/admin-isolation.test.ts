/**
 * The isolation matrix of the admin API on the real MariaDB: every route, called by the agency of tenant A, by a
 * location user of A whose location holds site S1 only, and by the agency of tenant B. Objects of S1 are reachable
 * by the location user where its role permits; S2 (another location of the same tenant) answers 404; agency-only
 * routes answer 403; every object of A answers 404 to B. A refused request leaves tenant A's rows exactly as they
 * were. Every caller is a real user row: scopes come from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asc, eq, inArray } from "drizzle-orm";
import { Hono } from "hono";
import { createAdminApi } from "../src/api/admin.ts";
import { fieldMappings, fields, forms, locations, sites, tenants, users } from "../src/config/schema.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { makeLocation, makeUser } from "../../scripts/testing/principals.ts";

const SECRET = "admin-isolation-test-secret-0123456789";
const TENANT_A = crypto.randomUUID();
const TENANT_B = crypto.randomUUID();

let maria: TestMariadb;
let host: Hono;

/** One location of a tenant with a site, a form, a mapped field, an unmapped field, and a location user of it. */
interface Tree {
  locationId: string;
  siteId: string;
  formId: string;
  fieldId: string;
  bareFieldId: string;
  mappingId: string;
  userId: string;
}

async function makeTree(tenantId: string): Promise<Tree> {
  const t: Tree = {
    locationId: await makeLocation(maria.db, tenantId),
    siteId: crypto.randomUUID(),
    formId: crypto.randomUUID(),
    fieldId: crypto.randomUUID(),
    bareFieldId: crypto.randomUUID(),
    mappingId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
  };
  const db = maria.db;
  await db.insert(sites).values({ id: t.siteId, tenantId, locationId: t.locationId, name: "S", domain: "s.example", siteKey: `k_${t.siteId}` });
  await db.insert(forms).values({ id: t.formId, siteId: t.siteId, name: "F", selector: "#f" });
  await db.insert(fields).values([
    { id: t.fieldId, formId: t.formId, selector: "#e", name: "email", type: "email" },
    { id: t.bareFieldId, formId: t.formId, selector: "#p", name: "phone", type: "tel" },
  ]);
  await db.insert(fieldMappings).values({ id: t.mappingId, fieldId: t.fieldId, targetEntity: "contact", targetField: "email" });
  t.userId = (await makeUser(db, SECRET, { tenantId, role: "location", locationIds: [t.locationId] })).userId;
  return t;
}

/** Every row of tenant A, to prove a refused request changed nothing. */
async function snapshotTenantA() {
  const db = maria.db;
  const siteRows = await db.select().from(sites).where(eq(sites.tenantId, TENANT_A)).orderBy(asc(sites.id));
  const siteIds = siteRows.map((s) => s.id);
  const formRows = siteIds.length ? await db.select().from(forms).where(inArray(forms.siteId, siteIds)).orderBy(asc(forms.id)) : [];
  const formIds = formRows.map((f) => f.id);
  const fieldRows = formIds.length ? await db.select().from(fields).where(inArray(fields.formId, formIds)).orderBy(asc(fields.id)) : [];
  const fieldIds = fieldRows.map((f) => f.id);
  const mappingRows = fieldIds.length
    ? await db.select().from(fieldMappings).where(inArray(fieldMappings.fieldId, fieldIds)).orderBy(asc(fieldMappings.id))
    : [];
  const userRows = await db.select().from(users).where(eq(users.tenantId, TENANT_A)).orderBy(asc(users.id));
  const locationRows = await db.select().from(locations).where(eq(locations.tenantId, TENANT_A)).orderBy(asc(locations.id));
  return { siteRows, formRows, fieldRows, mappingRows, userRows, locationRows };
}

interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: (t: Tree) => string;
  body?: (t: Tree) => unknown;
  /** Status for a caller allowed to do it. */
  ok: number;
  agencyOnly?: boolean;
  /** What a location user gets when its role permits (default: `ok`). */
  locationOk?: number;
}

/** Every route that names an object of tenant A. */
const OBJECT_ROUTES: Record<string, Route> = {
  "GET /locations/:locationId": { method: "GET", path: (t) => `/locations/${t.locationId}`, ok: 200 },
  "PATCH /locations/:locationId": { method: "PATCH", path: (t) => `/locations/${t.locationId}`, body: () => ({ timezone: "Europe/Berlin" }), ok: 200, agencyOnly: true },
  // the tree's location holds a site: the agency is told to empty it first
  "DELETE /locations/:locationId": { method: "DELETE", path: (t) => `/locations/${t.locationId}`, ok: 409, agencyOnly: true },
  "GET /sites/:siteId": { method: "GET", path: (t) => `/sites/${t.siteId}`, ok: 200 },
  "PATCH /sites/:siteId": { method: "PATCH", path: (t) => `/sites/${t.siteId}`, body: () => ({ name: "Changed" }), ok: 200 },
  "DELETE /sites/:siteId": { method: "DELETE", path: (t) => `/sites/${t.siteId}`, ok: 200, agencyOnly: true },
  "GET /sites/:siteId/forms": { method: "GET", path: (t) => `/sites/${t.siteId}/forms`, ok: 200 },
  "POST /sites/:siteId/forms": { method: "POST", path: (t) => `/sites/${t.siteId}/forms`, body: () => ({ name: "N", selector: "#n" }), ok: 201 },
  "GET /forms/:formId": { method: "GET", path: (t) => `/forms/${t.formId}`, ok: 200 },
  "PATCH /forms/:formId": { method: "PATCH", path: (t) => `/forms/${t.formId}`, body: () => ({ active: false }), ok: 200 },
  "DELETE /forms/:formId": { method: "DELETE", path: (t) => `/forms/${t.formId}`, ok: 200 },
  "GET /forms/:formId/fields": { method: "GET", path: (t) => `/forms/${t.formId}/fields`, ok: 200 },
  "POST /forms/:formId/fields": {
    method: "POST",
    path: (t) => `/forms/${t.formId}/fields`,
    body: () => ({ selector: "#n", name: "n", type: "text" }),
    ok: 201,
  },
  "GET /fields/:fieldId": { method: "GET", path: (t) => `/fields/${t.fieldId}`, ok: 200 },
  "PATCH /fields/:fieldId": { method: "PATCH", path: (t) => `/fields/${t.fieldId}`, body: () => ({ required: true }), ok: 200 },
  "DELETE /fields/:fieldId": { method: "DELETE", path: (t) => `/fields/${t.fieldId}`, ok: 200 },
  "POST /fields/:fieldId/mapping": {
    method: "POST",
    path: (t) => `/fields/${t.bareFieldId}/mapping`,
    body: () => ({ targetEntity: "contact", targetField: "phone" }),
    ok: 201,
  },
  "GET /fields/:fieldId/mapping": { method: "GET", path: (t) => `/fields/${t.fieldId}/mapping`, ok: 200 },
  "PATCH /mappings/:mappingId": { method: "PATCH", path: (t) => `/mappings/${t.mappingId}`, body: () => ({ required: true }), ok: 200 },
  "DELETE /mappings/:mappingId": { method: "DELETE", path: (t) => `/mappings/${t.mappingId}`, ok: 200 },
  "GET /users/:userId": { method: "GET", path: (t) => `/users/${t.userId}`, ok: 200, agencyOnly: true },
  "PATCH /users/:userId": { method: "PATCH", path: (t) => `/users/${t.userId}`, body: () => ({ role: "agency" }), ok: 200, agencyOnly: true },
  "DELETE /users/:userId": { method: "DELETE", path: (t) => `/users/${t.userId}`, ok: 200, agencyOnly: true },
};

async function call(token: string, method: string, path: string, body?: unknown) {
  const res = await host.request(`/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { items?: { id: string }[] } };
}

const agencyA = async () => (await makeUser(maria.db, SECRET, { tenantId: TENANT_A, role: "agency" })).token;
const agencyB = async () => (await makeUser(maria.db, SECRET, { tenantId: TENANT_B, role: "agency" })).token;
/** A location user of tenant A who belongs to the locations of `siteIds` (a foreign one is a corrupt row it must not gain by). */
async function locationA(siteIds: string[]): Promise<string> {
  const rows = siteIds.length ? await maria.db.select({ locationId: sites.locationId }).from(sites).where(inArray(sites.id, siteIds)) : [];
  return (await makeUser(maria.db, SECRET, { tenantId: TENANT_A, role: "location", locationIds: rows.map((r) => r.locationId) })).token;
}

beforeAll(async () => {
  maria = await testMariadb("admin_iso");
  await maria.db.insert(tenants).values([
    { id: TENANT_A, name: "A" },
    { id: TENANT_B, name: "B" },
  ]);
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, auth: { hs256Secret: SECRET }, log: () => {} }));
});
afterAll(async () => {
  await maria?.drop();
});

describe.each(Object.entries(OBJECT_ROUTES))("%s", (_name, route) => {
  async function run(token: string, t: Tree) {
    return call(token, route.method, route.path(t), route.body?.(t));
  }
  async function expectRefused(token: string, t: Tree, status: number, error: string) {
    const before = await snapshotTenantA();
    const res = await run(token, t);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect(await snapshotTenantA()).toEqual(before);
  }

  it(`agency of A: ${route.ok}`, async () => {
    const t = await makeTree(TENANT_A);
    expect((await run(await agencyA(), t)).status).toBe(route.ok);
  });

  it(`location user of A on its own site S1: ${route.agencyOnly ? 403 : route.ok}`, async () => {
    const s1 = await makeTree(TENANT_A);
    const token = await locationA([s1.siteId]);
    if (route.agencyOnly) await expectRefused(token, s1, 403, "forbidden");
    else expect((await run(token, s1)).status).toBe(route.ok);
  });

  it(`location user of A on S2 of the same tenant: ${route.agencyOnly ? 403 : 404}`, async () => {
    const s1 = await makeTree(TENANT_A);
    const s2 = await makeTree(TENANT_A);
    const token = await locationA([s1.siteId]);
    await expectRefused(token, s2, route.agencyOnly ? 403 : 404, route.agencyOnly ? "forbidden" : "not_found");
  });

  it("agency of B on objects of A: 404", async () => {
    const t = await makeTree(TENANT_A);
    await expectRefused(await agencyB(), t, 404, "not_found");
  });

  it("location user linked (by a stray row) to another tenant's location: 404 or 403", async () => {
    const foreign = await makeTree(TENANT_B);
    const token = await locationA([foreign.siteId]);
    const res = await run(token, foreign);
    expect(res.status).toBe(route.agencyOnly ? 403 : 404);
  });
});

describe("routes without an object id", () => {
  it("GET /sites: agency of A sees both sites, location user only S1, agency of B none of A's", async () => {
    const s1 = await makeTree(TENANT_A);
    const s2 = await makeTree(TENANT_A);
    const ids = async (token: string) => ((await call(token, "GET", "/sites")).body.items ?? []).map((s) => s.id);
    expect(await ids(await agencyA())).toEqual(expect.arrayContaining([s1.siteId, s2.siteId]));
    expect(await ids(await locationA([s1.siteId]))).toEqual([s1.siteId]);
    const seenByB = await ids(await agencyB());
    expect(seenByB).not.toContain(s1.siteId);
    expect(seenByB).not.toContain(s2.siteId);
    expect(await ids(await locationA([]))).toEqual([]);
  });

  it("POST /sites: agency 201 in its own tenant, location user 403", async () => {
    const created = await call(await agencyB(), "POST", "/sites", { name: "B site", domain: "b.example" });
    expect(created.status).toBe(201);
    expect(created.body.tenantId).toBe(TENANT_B);
    const s1 = await makeTree(TENANT_A);
    const token = await locationA([s1.siteId]);
    const before = await snapshotTenantA();
    const refused = await call(token, "POST", "/sites", { name: "x", domain: "x.example" });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("forbidden");
    expect(await snapshotTenantA()).toEqual(before);
  });

  it("POST /sites: a location user gets 403 even for an invalid body", async () => {
    expect((await call(await locationA([]), "POST", "/sites", { nonsense: true })).status).toBe(403);
  });

  it("GET /users: agency sees only its tenant's users, location user 403", async () => {
    const a = await makeTree(TENANT_A);
    const b = await makeTree(TENANT_B);
    const seenByA = ((await call(await agencyA(), "GET", "/users")).body.items ?? []).map((u) => u.id);
    expect(seenByA).toContain(a.userId);
    expect(seenByA).not.toContain(b.userId);
    const seenByB = ((await call(await agencyB(), "GET", "/users")).body.items ?? []).map((u) => u.id);
    expect(seenByB).toContain(b.userId);
    expect(seenByB).not.toContain(a.userId);
    expect((await call(await locationA([a.siteId]), "GET", "/users")).status).toBe(403);
  });

  it("POST /users: agency 201, location user 403, another tenant's site or location 400", async () => {
    const a = await makeTree(TENANT_A);
    const ok = await call(await agencyA(), "POST", "/users", { email: `${crypto.randomUUID()}@a.test`, role: "location", locationIds: [a.locationId] });
    expect(ok.status).toBe(201);
    const foreignLocation = await call(await agencyB(), "POST", "/users", { email: `${crypto.randomUUID()}@b.test`, role: "location", locationIds: [a.locationId] });
    expect(foreignLocation.status).toBe(400);
    expect(foreignLocation.body.issues).toEqual([{ path: "locationIds.0", message: expect.any(String) }]);
    const forbidden = await call(await locationA([a.siteId]), "POST", "/users", { email: `${crypto.randomUUID()}@a.test`, role: "agency" });
    expect(forbidden.status).toBe(403);
    const email = `${crypto.randomUUID()}@b.test`;
    const foreign = await call(await agencyB(), "POST", "/users", { email, role: "location", allowedSites: [a.siteId] });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe("validation_failed");
    expect(await maria.db.select().from(users).where(eq(users.email, email))).toEqual([]);
  });

  it("PATCH /users/:userId: agency of B cannot grant its user a site of A", async () => {
    const a = await makeTree(TENANT_A);
    const b = await makeTree(TENANT_B);
    const res = await call(await agencyB(), "PATCH", `/users/${b.userId}`, { allowedSites: [b.siteId, a.siteId] });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ path: "allowedSites.1", message: expect.any(String) }]);
  });
});

describe("locations", () => {
  it("GET /locations: agency sees its tenant's, a location user only its own, B none of A's", async () => {
    const a1 = await makeTree(TENANT_A);
    const a2 = await makeTree(TENANT_A);
    const ids = async (token: string) => ((await call(token, "GET", "/locations")).body.items ?? []).map((l) => l.id);
    expect(await ids(await agencyA())).toEqual(expect.arrayContaining([a1.locationId, a2.locationId]));
    expect(await ids(await locationA([a1.siteId]))).toEqual([a1.locationId]);
    expect(await ids(await agencyB())).not.toContain(a1.locationId);
  });

  it("POST /locations: agency 201 in its own tenant, location user 403; an external id is unique per tenant", async () => {
    const created = await call(await agencyA(), "POST", "/locations", { name: "Shop", externalId: "loc-1", timezone: "America/New_York" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenantId: TENANT_A, name: "Shop", externalId: "loc-1", timezone: "America/New_York" });
    expect((await call(await agencyA(), "POST", "/locations", { name: "Again", externalId: "loc-1" })).status).toBe(409);
    // the same external id in another tenant is another location
    expect((await call(await agencyB(), "POST", "/locations", { name: "B", externalId: "loc-1" })).status).toBe(201);
    expect((await call(await agencyA(), "POST", "/locations", { name: "Bad zone", timezone: "Mars/Base" })).status).toBe(400);
    const a = await makeTree(TENANT_A);
    expect((await call(await locationA([a.siteId]), "POST", "/locations", { name: "x" })).status).toBe(403);
  });

  it("DELETE /locations/:id of an empty location: 200", async () => {
    const created = await call(await agencyA(), "POST", "/locations", { name: "Empty" });
    expect((await call(await agencyA(), "DELETE", `/locations/${created.body.id}`)).status).toBe(200);
  });

  it("PATCH /sites/:id moving a site to another location: agency only, and only to its own tenant's locations", async () => {
    const a1 = await makeTree(TENANT_A);
    const a2 = await makeTree(TENANT_A);
    const b = await makeTree(TENANT_B);
    expect((await call(await locationA([a1.siteId, a2.siteId]), "PATCH", `/sites/${a1.siteId}`, { locationId: a2.locationId })).status).toBe(403);
    expect((await call(await agencyA(), "PATCH", `/sites/${a1.siteId}`, { locationId: b.locationId })).status).toBe(400);
    const moved = await call(await agencyA(), "PATCH", `/sites/${a1.siteId}`, { locationId: a2.locationId });
    expect(moved.status).toBe(200);
    expect(moved.body.locationId).toBe(a2.locationId);
  });
});
