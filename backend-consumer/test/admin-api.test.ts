/**
 * The admin API against the real MariaDB: CRUD of every resource with the stored rows checked, validation,
 * authentication, conflicts, and the change-capture rows the triggers write for each edit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { createAdminApi } from "../src/api/admin.ts";
import { mintToken } from "../src/api/auth.ts";
import { configChanges, fieldMappings, fields, forms, sites, tenants, users } from "../src/config/schema.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { makeLocation, makeUser } from "../../scripts/testing/principals.ts";

const SECRET = "admin-api-test-secret-0123456789abcdef";
const TENANT = crypto.randomUUID();
const OTHER_TENANT = crypto.randomUUID();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let maria: TestMariadb;
let host: Hono;
let agency: string;
let otherLocation: string;

type Json = Record<string, unknown> & { items?: Record<string, unknown>[] };

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = opts.token === undefined ? agency : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await host.request(`/v1${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as Json };
}

beforeAll(async () => {
  maria = await testMariadb("admin_api");
  await maria.db.insert(tenants).values([
    { id: TENANT, name: "Agency A" },
    { id: OTHER_TENANT, name: "Agency B" },
  ]);
  // Mounted the way the backend mounts it: the parent's own catch-all error handler must never see our errors.
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, auth: { hs256Secret: SECRET }, log: () => {} }));
  host.onError((_err, c) => c.json({ error: "parent_error" }, 500));
  agency = (await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "agency" })).token;
  otherLocation = await makeLocation(maria.db, OTHER_TENANT);
});
afterAll(async () => {
  await maria?.drop();
});

async function newSite(extra: Record<string, unknown> = {}) {
  const res = await call("POST", "/sites", { body: { name: "Shop", domain: "shop.example", ...extra } });
  expect(res.status).toBe(201);
  return res.body as { id: string; siteKey: string };
}

describe("authentication", () => {
  const cases: [string, () => Promise<string | null>, RegExp][] = [
    ["no token", async () => null, /Bearer/],
    ["a token that is not a JWT", async () => "not-a-jwt", /not a JWT/],
    ["an expired token", () => mintToken(SECRET, { sub: "u", tid: TENANT, role: "agency" }, Math.floor(Date.now() / 1000) - 60), /expired/],
    ["a token signed with another secret", () => mintToken("x".repeat(40), { sub: "u", tid: TENANT, role: "agency" }), /signature/],
    ["a valid token of a user that does not exist", () => mintToken(SECRET, { sub: crypto.randomUUID(), tid: TENANT, role: "agency" }), /No such user/],
  ];
  it.each(cases)("answers 401 JSON to %s", async (_name, token, message) => {
    const res = await call("GET", "/sites", { token: await token() });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: "unauthorized" });
    expect(res.body.message).toMatch(message);
  });

  it("answers 401 before touching the database on writes", async () => {
    const res = await call("POST", "/sites", { token: null, body: { name: "x", domain: "x.example" } });
    expect(res.status).toBe(401);
    expect(await maria.db.select().from(sites).where(eq(sites.name, "x"))).toEqual([]);
  });
});

describe("sites", () => {
  it("creates a site with a generated key and defaults, and stores it", async () => {
    const res = await call("POST", "/sites", {
      body: { name: " Shop ", domain: "Shop.Example", allowedOrigins: ["https://shop.example"], settings: { consentMode: "opt-in" } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      tenantId: TENANT,
      name: "Shop",
      domain: "shop.example",
      active: true,
      allowedOrigins: ["https://shop.example"],
      settings: { consentMode: "opt-in" },
    });
    expect(res.body.siteKey).toMatch(/^sk_[a-z2-7]{24}$/);
    expect(res.body.createdAt).toMatch(ISO);
    expect(res.body.updatedAt).toMatch(ISO);
    const [row] = await maria.db.select().from(sites).where(eq(sites.id, res.body.id as string));
    expect(row).toMatchObject({ tenantId: TENANT, name: "Shop", siteKey: res.body.siteKey, active: true });
  });

  it("keeps a caller-chosen site key and answers 409 to a duplicate, on create and on update", async () => {
    const key = `key_${crypto.randomUUID().slice(0, 8)}`;
    const site = await newSite({ siteKey: key });
    expect(site.siteKey).toBe(key);
    const dup = await call("POST", "/sites", { body: { name: "Again", domain: "again.example", siteKey: key } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ error: "conflict", field: "siteKey" });
    const other = await newSite();
    const patch = await call("PATCH", `/sites/${other.id}`, { body: { siteKey: key } });
    expect(patch.status).toBe(409);
    const [row] = await maria.db.select().from(sites).where(eq(sites.id, other.id));
    expect(row?.siteKey).toBe(other.siteKey);
  });

  it("lists, reads, updates and deletes", async () => {
    const site = await newSite();
    const list = await call("GET", "/sites");
    expect(list.status).toBe(200);
    expect(list.body.items?.map((s) => s.id)).toContain(site.id);
    expect((await call("GET", `/sites/${site.id}`)).body).toMatchObject({ id: site.id, name: "Shop" });

    const patched = await call("PATCH", `/sites/${site.id}`, { body: { name: "Renamed", active: false, settings: { debug: true } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Renamed", active: false, settings: { debug: true }, domain: "shop.example" });
    const [row] = await maria.db.select().from(sites).where(eq(sites.id, site.id));
    expect(row).toMatchObject({ name: "Renamed", active: false });

    const deleted = await call("DELETE", `/sites/${site.id}`);
    expect(deleted).toEqual({ status: 200, body: { id: site.id, deleted: true } });
    expect(await maria.db.select().from(sites).where(eq(sites.id, site.id))).toEqual([]);
    expect((await call("GET", `/sites/${site.id}`)).status).toBe(404);
  });

  it("deletes a site's forms, fields and mappings with it and drops it from users' allowed sites", async () => {
    const site = await newSite();
    const keep = await newSite();
    const form = (await call("POST", `/sites/${site.id}/forms`, { body: { name: "F", selector: "#f" } })).body;
    const field = (await call("POST", `/forms/${form.id}/fields`, { body: { selector: "[name=email]", name: "email", type: "email" } })).body;
    await call("POST", `/fields/${field.id}/mapping`, { body: { targetEntity: "contact", targetField: "email" } });
    const user = (await call("POST", "/users", { body: { email: `loc-${crypto.randomUUID()}@x.test`, role: "location", allowedSites: [site.id, keep.id] } })).body;

    expect((await call("DELETE", `/sites/${site.id}`)).status).toBe(200);
    expect(await maria.db.select().from(forms).where(eq(forms.siteId, site.id))).toEqual([]);
    expect(await maria.db.select().from(fields).where(eq(fields.id, field.id as string))).toEqual([]);
    expect(await maria.db.select().from(fieldMappings).where(eq(fieldMappings.fieldId, field.id as string))).toEqual([]);
    expect((await call("GET", `/users/${user.id}`)).body.allowedSites).toEqual([keep.id]);
  });
});

describe("forms, fields and mappings", () => {
  it("runs the whole lifecycle and stores each row", async () => {
    const site = await newSite();
    const created = await call("POST", `/sites/${site.id}/forms`, {
      body: { name: "Contact", selector: "#contact", pageUrlPattern: "/contact*", alternativeSelectors: ["form.contact"], metadata: { team: "sales" } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ siteId: site.id, name: "Contact", active: true, alternativeSelectors: ["form.contact"], metadata: { team: "sales" } });
    const formId = created.body.id as string;
    expect((await call("GET", `/sites/${site.id}/forms`)).body.items?.map((f) => f.id)).toEqual([formId]);
    expect((await call("PATCH", `/forms/${formId}`, { body: { active: false, pageUrlPattern: "" } })).body).toMatchObject({ active: false, pageUrlPattern: "" });
    expect((await maria.db.select().from(forms).where(eq(forms.id, formId)))[0]).toMatchObject({ active: false, selector: "#contact" });

    const second = await call("POST", `/forms/${formId}/fields`, { body: { selector: "#phone", name: "phone", type: "tel", displayOrder: 2 } });
    const first = await call("POST", `/forms/${formId}/fields`, {
      body: { selector: "#email", name: "email", type: "email", label: "Email", required: true, validationRules: { maxLength: 200 }, displayOrder: 1 },
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ formId, label: "Email", required: true, sensitive: false, validationRules: { maxLength: 200 } });
    expect(second.body).toMatchObject({ label: null, required: false, displayOrder: 2 });
    const fieldId = first.body.id as string;
    expect((await call("GET", `/forms/${formId}/fields`)).body.items?.map((f) => f.name)).toEqual(["email", "phone"]);
    expect((await call("PATCH", `/fields/${fieldId}`, { body: { label: null, sensitive: true } })).body).toMatchObject({ label: null, sensitive: true });
    expect((await maria.db.select().from(fields).where(eq(fields.id, fieldId)))[0]).toMatchObject({ label: null, sensitive: true });
    expect((await call("GET", `/fields/${fieldId}`)).body).toMatchObject({ id: fieldId, name: "email" });

    expect((await call("GET", `/fields/${fieldId}/mapping`)).status).toBe(404);
    const mapping = await call("POST", `/fields/${fieldId}/mapping`, { body: { targetEntity: "contact", targetField: "email", transform: "lowercase" } });
    expect(mapping.status).toBe(201);
    expect(mapping.body).toMatchObject({ fieldId, targetEntity: "contact", targetField: "email", transform: "lowercase", required: false });
    const again = await call("POST", `/fields/${fieldId}/mapping`, { body: { targetEntity: "contact", targetField: "email2" } });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe("conflict");
    const mappingId = mapping.body.id as string;
    expect((await call("GET", `/fields/${fieldId}/mapping`)).body).toMatchObject({ id: mappingId });
    expect((await call("PATCH", `/mappings/${mappingId}`, { body: { transform: null, required: true } })).body).toMatchObject({ transform: null, required: true });
    expect((await maria.db.select().from(fieldMappings).where(eq(fieldMappings.id, mappingId)))[0]).toMatchObject({ transform: null, required: true });

    expect((await call("DELETE", `/mappings/${mappingId}`)).body).toEqual({ id: mappingId, deleted: true });
    expect(await maria.db.select().from(fieldMappings).where(eq(fieldMappings.id, mappingId))).toEqual([]);
    expect((await call("DELETE", `/fields/${fieldId}`)).status).toBe(200);
    expect(await maria.db.select().from(fields).where(eq(fields.id, fieldId))).toEqual([]);
    expect((await call("DELETE", `/forms/${formId}`)).status).toBe(200);
    expect(await maria.db.select().from(forms).where(eq(forms.id, formId))).toEqual([]);
    expect((await call("GET", `/forms/${formId}`)).status).toBe(404);
  });

  it("records each edit in config_changes under the site's key (the triggers)", async () => {
    const site = await newSite();
    const changes = () =>
      maria.db.select({ id: configChanges.id, source: configChanges.source }).from(configChanges).where(eq(configChanges.siteKey, site.siteKey));
    const before = await changes();
    expect(before.map((c) => c.source)).toEqual(["sites"]);
    const form = (await call("POST", `/sites/${site.id}/forms`, { body: { name: "F", selector: "#f" } })).body;
    await call("PATCH", `/forms/${form.id}`, { body: { name: "G" } });
    const field = (await call("POST", `/forms/${form.id}/fields`, { body: { selector: "#e", name: "e", type: "email" } })).body;
    await call("POST", `/fields/${field.id}/mapping`, { body: { targetEntity: "contact", targetField: "email" } });
    const after = await changes();
    expect(after.map((c) => c.source)).toEqual(["sites", "forms", "forms", "fields", "field_mappings"]);
    expect(after.every((c, i) => i === 0 || c.id > after[i - 1]!.id)).toBe(true);
  });
});

describe("users", () => {
  it("creates, lists, reads, updates and deletes users of the tenant", async () => {
    const site = await newSite();
    const email = `Loc-${crypto.randomUUID()}@Example.test`;
    const created = await call("POST", "/users", { body: { email, role: "location", allowedSites: [site.id] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenantId: TENANT, email: email.toLowerCase(), role: "location", allowedSites: [site.id] });
    const userId = created.body.id as string;
    expect((await maria.db.select().from(users).where(eq(users.id, userId)))[0]).toMatchObject({ email: email.toLowerCase(), role: "location" });
    expect((await call("GET", "/users")).body.items?.map((u) => u.id)).toContain(userId);
    expect((await call("PATCH", `/users/${userId}`, { body: { role: "agency", allowedSites: [] } })).body).toMatchObject({ role: "agency", allowedSites: [] });
    const location = (await call("POST", "/locations", { body: { name: "L" } })).body.id as string;
    expect((await call("PATCH", `/users/${userId}`, { body: { role: "location", locationIds: [location] } })).body).toMatchObject({ role: "location", locationIds: [location] });
    expect((await call("PATCH", `/users/${userId}`, { body: { locationIds: [] } })).body).toMatchObject({ locationIds: [] });
    expect((await call("DELETE", `/users/${userId}`)).body).toEqual({ id: userId, deleted: true });
    expect(await maria.db.select().from(users).where(eq(users.id, userId))).toEqual([]);
  });

  it("answers 409 to a duplicate email (case-insensitively)", async () => {
    const email = `dup-${crypto.randomUUID()}@example.test`;
    expect((await call("POST", "/users", { body: { email, role: "agency" } })).status).toBe(201);
    const dup = await call("POST", "/users", { body: { email: email.toUpperCase(), role: "agency" } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ error: "conflict", field: "email" });
  });

  it("answers 409 only within the caller's tenant: another tenant's user's email is no oracle", async () => {
    const email = `shared-${crypto.randomUUID()}@example.test`;
    const otherAgency = (await makeUser(maria.db, SECRET, { tenantId: OTHER_TENANT, role: "agency" })).token;
    expect((await call("POST", "/users", { token: otherAgency, body: { email, role: "agency" } })).status).toBe(201);
    // the same person may be a user of both agencies, and nothing tells tenant A that tenant B has them
    const mine = await call("POST", "/users", { body: { email, role: "location" } });
    expect(mine.status).toBe(201);
    expect(mine.body).toMatchObject({ tenantId: TENANT, email });
    expect((await maria.db.select().from(users).where(eq(users.email, email))).map((u) => u.tenantId).sort()).toEqual([TENANT, OTHER_TENANT].sort());
    expect((await call("PATCH", `/users/${mine.body.id as string}`, { body: { role: "agency" } })).status).toBe(200);
  });

  it("refuses allowed sites that are not the tenant's, naming each", async () => {
    const mine = await newSite();
    const theirs = { id: crypto.randomUUID() };
    await maria.db.insert(sites).values({ ...theirs, tenantId: OTHER_TENANT, locationId: otherLocation, name: "B", domain: "b.example", siteKey: `b_${crypto.randomUUID()}` });
    const email = `x-${crypto.randomUUID()}@example.test`;
    const res = await call("POST", "/users", { body: { email, role: "location", allowedSites: [mine.id, theirs.id, "nope"] } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: "validation_failed",
      issues: [
        { path: "allowedSites.1", message: expect.any(String) },
        { path: "allowedSites.2", message: expect.any(String) },
      ],
    });
    expect(await maria.db.select().from(users).where(and(eq(users.email, email), eq(users.tenantId, TENANT)))).toEqual([]);
  });
});

describe("bad input", () => {
  it("answers 400 invalid_json to a malformed or empty body", async () => {
    for (const raw of ["{", "", "nope"]) {
      const res = await call("POST", "/sites", { raw });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_json");
    }
  });

  it("answers 400 validation_failed with every issue, naming the path", async () => {
    const res = await call("POST", "/sites", {
      body: { name: "", domain: "not a host", allowedOrigins: ["https://a.example/path"], settings: { consentMode: "maybe" }, colour: "red" },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("validation_failed");
    expect(res.body.message).toMatch(/name/);
    const paths = (res.body.issues as { path: string }[]).map((i) => i.path).sort();
    expect(paths).toEqual(["allowedOrigins.0", "colour", "domain", "name", "settings.consentMode"]);
  });

  it.each([
    ["a body that is not an object", "/sites", []],
    ["a bad site key", "/sites", { name: "a", domain: "a.example", siteKey: "a b" }],
    ["an unknown settings key", "/sites", { name: "a", domain: "a.example", settings: { tracking: true } }],
    ["a duplicated origin", "/sites", { name: "a", domain: "a.example", allowedOrigins: ["https://a.example", "https://a.example"] }],
    ["a bad email", "/users", { email: "nope", role: "agency" }],
    ["an unknown role", "/users", { email: "a@b.example", role: "admin" }],
  ])("answers 400 to %s", async (_name, path, body) => {
    const res = await call("POST", path, { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("validation_failed");
    expect((res.body.issues as unknown[]).length).toBeGreaterThan(0);
  });

  it("refuses an empty patch and a patch of a field that cannot change", async () => {
    const site = await newSite();
    const form = (await call("POST", `/sites/${site.id}/forms`, { body: { name: "F", selector: "#f" } })).body;
    const field = (await call("POST", `/forms/${form.id}/fields`, { body: { selector: "#e", name: "e", type: "email" } })).body;
    for (const [path, body] of [
      [`/sites/${site.id}`, {}],
      [`/sites/${site.id}`, { tenantId: OTHER_TENANT }],
      [`/forms/${form.id}`, { siteId: site.id }],
      [`/fields/${field.id}`, { displayOrder: -1 }],
      [`/fields/${field.id}`, { displayOrder: 1.5 }],
    ] as const) {
      const res = await call("PATCH", path, { body });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error).toBe("validation_failed");
    }
    expect((await maria.db.select().from(sites).where(eq(sites.id, site.id)))[0]?.tenantId).toBe(TENANT);
  });

  it("answers 400, not a database error, to JSON MariaDB would refuse", async () => {
    const site = await newSite();
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const tooDeep = await call("POST", `/sites/${site.id}/forms`, { body: { name: "F", selector: "#f", metadata: deep } });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error).toBe("validation_failed");
    const surrogate = await call("POST", `/sites/${site.id}/forms`, { raw: '{"name":"F","selector":"#f","metadata":{"k":"\\ud800"}}' });
    expect(surrogate.status).toBe(400);
    expect(surrogate.body.issues).toEqual([{ path: "metadata.k", message: expect.stringMatching(/surrogate/) }]);
    expect(await maria.db.select().from(forms).where(eq(forms.siteId, site.id))).toEqual([]);
  });

  it("answers 413 to a body over the limit", async () => {
    const res = await call("POST", "/sites", { raw: JSON.stringify({ name: "a", domain: "a.example", settings: {}, pad: "x".repeat(70_000) }) });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("payload_too_large");
  });

  it("answers a JSON 404 to an unknown route or an unknown id", async () => {
    expect(await call("GET", "/nope")).toEqual({ status: 404, body: { error: "not_found", message: "No such route." } });
    expect((await call("PUT", "/sites")).status).toBe(404);
    const missing = await call("GET", `/forms/${crypto.randomUUID()}`);
    expect(missing).toEqual({ status: 404, body: { error: "not_found", message: "No such form." } });
    expect((await call("GET", `/sites/${"x".repeat(5000)}`)).status).toBe(404);
  });
});
