/**
 * Who may change a site's security, on the real MariaDB: every security field is agency-only (a location user's
 * PATCH of each one is refused and changes nothing, while forms, fields and everything else stay theirs); site keys
 * belong to one site forever (a retired key, in any case, is refused to every tenant); a new site's allowlist
 * starts with its own domain; server secret keys are agency-only, shown once, kept as hashes.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminApi } from "../src/api/admin.ts";
import { hashSecret } from "../src/api/admin/secrets.ts";
import { siteSecrets, sites, tenants } from "../src/config/schema.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const SECRET = "site-security-test-secret-0123456789ab";
const A = crypto.randomUUID();
const B = crypto.randomUUID();
let maria: TestMariadb;
let host: Hono;
let agencyA: MadeUser;
let agencyB: MadeUser;
let locationA: MadeUser;
let locA: string;

async function call(user: MadeUser, method: string, path: string, body?: unknown) {
  const res = await host.request(`/v1${path}`, { method, headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { items?: Record<string, unknown>[] } };
}

beforeAll(async () => {
  maria = await testMariadb("site_security");
  await maria.db.insert(tenants).values([
    { id: A, name: "A" },
    { id: B, name: "B" },
  ]);
  locA = await makeLocation(maria.db, A);
  await makeLocation(maria.db, B);
  agencyA = await makeUser(maria.db, SECRET, { tenantId: A, role: "agency" });
  agencyB = await makeUser(maria.db, SECRET, { tenantId: B, role: "agency" });
  locationA = await makeUser(maria.db, SECRET, { tenantId: A, role: "location", locationIds: [locA] });
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, auth: { hs256Secret: SECRET }, log: () => {} }));
});
afterAll(async () => {
  await maria?.drop();
});

async function newSite(extra: Record<string, unknown> = {}): Promise<Record<string, unknown> & { id: string; siteKey: string }> {
  const res = await call(agencyA, "POST", "/sites", { name: "Shop", domain: "shop.example", settings: { retentionDays: 90, consentMode: "opt-out", debug: false, respectDoNotTrack: false, features: { spa: true } }, ...extra });
  expect(res.status).toBe(201);
  return res.body as never;
}

describe("security settings are agency-only", () => {
  const settings = { retentionDays: 90, consentMode: "opt-out", debug: false, respectDoNotTrack: false, features: { spa: true } };
  it.each([
    ["siteKey", () => ({ siteKey: `taken-${crypto.randomUUID().slice(0, 8)}` })],
    ["active", () => ({ active: false })],
    ["allowedOrigins", () => ({ allowedOrigins: [] })],
    ["settings.retentionDays", () => ({ settings: { ...settings, retentionDays: 3650 } })],
    ["settings.consentMode", () => ({ settings: { ...settings, consentMode: "cookieless" } })],
    ["settings.debug", () => ({ settings: { ...settings, debug: true } })],
    ["settings.respectDoNotTrack", () => ({ settings: { ...settings, respectDoNotTrack: true } })],
    ["settings.retentionDays", () => ({ settings: { features: { spa: false } } })], // dropping a setting changes it too
  ])("a location user's PATCH of %s is refused and changes nothing; the agency's goes through", async (field, body) => {
    const site = await newSite();
    const before = (await maria.db.select().from(sites).where(eq(sites.id, site.id)))[0];
    const refused = await call(locationA, "PATCH", `/sites/${site.id}`, body());
    expect(refused.status).toBe(403);
    expect(refused.body.fields).toContain(field);
    expect((await maria.db.select().from(sites).where(eq(sites.id, site.id)))[0]).toEqual(before);
    expect((await call(agencyA, "PATCH", `/sites/${site.id}`, body())).status).toBe(200);
  });

  it("a location user still manages what is theirs: name, features, time zone, forms", async () => {
    const site = await newSite();
    expect((await call(locationA, "PATCH", `/sites/${site.id}`, { name: "Renamed", timezone: "Europe/Paris", settings: { ...settings, features: { spa: false } } })).status).toBe(200);
    // sending a security field with its current value is no change
    expect((await call(locationA, "PATCH", `/sites/${site.id}`, { active: true, siteKey: site.siteKey })).status).toBe(200);
    expect((await call(locationA, "POST", `/sites/${site.id}/forms`, { name: "Contact", selector: "#c" })).status).toBe(201);
  });
});

describe("site keys belong to one site forever", () => {
  it("a renamed site's old key cannot be taken by another tenant, in any case, nor given back", async () => {
    const site = await newSite({ siteKey: "acme-main" });
    expect(site.siteKey).toBe("acme-main");
    expect((await call(agencyA, "PATCH", `/sites/${site.id}`, { siteKey: "acme-renamed" })).status).toBe(200);
    for (const key of ["acme-main", "ACME-MAIN", "Acme-Main"]) {
      const theft = await call(agencyB, "POST", "/sites", { name: "B", domain: "b.example", siteKey: key });
      expect(theft.status, key).toBe(409);
      expect(theft.body).toMatchObject({ error: "conflict", field: "siteKey" });
    }
    expect((await call(agencyA, "PATCH", `/sites/${site.id}`, { siteKey: "acme-main" })).status).toBe(409);
    // a deleted site's key is retired too
    const gone = await newSite({ siteKey: "acme-gone" });
    expect((await call(agencyA, "DELETE", `/sites/${gone.id}`)).status).toBe(200);
    expect((await call(agencyB, "POST", "/sites", { name: "B", domain: "b.example", siteKey: "acme-gone" })).status).toBe(409);
  });

  it("keys are stored lower-case, whatever case they were sent in", async () => {
    const site = await newSite({ siteKey: "MiXeD-Key" });
    expect(site.siteKey).toBe("mixed-key");
  });
});

describe("origins and server keys", () => {
  it("a new site's allowlist starts with its domain, with and without www", async () => {
    const res = await call(agencyA, "POST", "/sites", { name: "N", domain: "www.new.example" });
    expect(res.body.allowedOrigins).toEqual(["https://new.example", "https://www.new.example"]);
  });

  it("secret keys: agency-only, the secret shown once and stored as a hash, revocable, 404 across tenants", async () => {
    const site = await newSite();
    expect((await call(locationA, "POST", `/sites/${site.id}/secret-keys`)).status).toBe(403);
    const created = await call(agencyA, "POST", `/sites/${site.id}/secret-keys`);
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^sks_[A-Za-z0-9_-]{43}$/);
    const [row] = await maria.db.select().from(siteSecrets).where(eq(siteSecrets.id, created.body.id as string));
    expect(row!.hash).toBe(hashSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    const list = await call(agencyA, "GET", `/sites/${site.id}/secret-keys`);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(list.body.items).toEqual([expect.objectContaining({ id: created.body.id, prefix: secret.slice(0, 12), revokedAt: null })]);
    expect((await call(agencyB, "DELETE", `/secret-keys/${created.body.id}`)).status).toBe(404);
    expect((await call(agencyB, "GET", `/sites/${site.id}/secret-keys`)).status).toBe(404);
    expect((await call(agencyA, "DELETE", `/secret-keys/${created.body.id}`)).body).toEqual({ id: created.body.id, revoked: true });
  });
});
