/**
 * Scopes come from the database, on real MariaDB: a token that is still valid stops working within seconds when
 * its user is removed, demoted or loses a location, even when the change is made by SQL behind the API's back;
 * moving a site between locations moves who sees it; and the locations migration keeps every existing user's
 * access exactly as it was.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";
import { Hono } from "hono";
import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminApi } from "../src/api/admin.ts";
import { SCOPE_TTL_MS, ScopeResolver } from "../src/api/scope.ts";
import { MIGRATIONS_DIR } from "../src/config/db.ts";
import { sites, tenants } from "../src/config/schema.ts";
import { createDatabase } from "../../scripts/lib/mariadb.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { makeLocation, makeUser } from "../../scripts/testing/principals.ts";

const SECRET = "scopes-test-secret-0123456789abcdefgh";
const TENANT = crypto.randomUUID();
let maria: TestMariadb;
let host: Hono;
let l1: string;
let l2: string;
let site: string;

const get = async (token: string, path: string) => (await host.request(`/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).status;

beforeAll(async () => {
  maria = await testMariadb("scopes");
  await maria.db.insert(tenants).values({ id: TENANT, name: "T" });
  l1 = await makeLocation(maria.db, TENANT, { name: "L1" });
  l2 = await makeLocation(maria.db, TENANT, { name: "L2" });
  site = crypto.randomUUID();
  await maria.db.insert(sites).values({ id: site, tenantId: TENANT, locationId: l1, name: "S", domain: "s.example", siteKey: `k_${site}` });
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, auth: { hs256Secret: SECRET }, log: () => {} }));
});
afterAll(async () => {
  await maria?.drop();
});

/** Polls until `path` answers `status` for `token`; returns how long the change took to show. */
async function takesEffect(token: string, path: string, status: number): Promise<number> {
  const started = Date.now();
  await eventually(async () => ((await get(token, path)) === status ? true : undefined), SCOPE_TTL_MS + 5_000, `${path} → ${status}`);
  return Date.now() - started;
}

describe("scopes from the database, with tokens that are still valid", () => {
  it("a user deleted by SQL is refused within seconds", async () => {
    const user = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "agency" });
    expect(await get(user.token, `/sites/${site}`)).toBe(200);
    await maria.pool.query("DELETE FROM users WHERE id = ?", [user.userId]);
    expect(await takesEffect(user.token, `/sites/${site}`, 401)).toBeLessThan(SCOPE_TTL_MS + 1_000);
  });

  it("a location user removed from the site's location no longer sees the site", async () => {
    const user = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l1] });
    expect(await get(user.token, `/sites/${site}`)).toBe(200);
    await maria.pool.query("DELETE FROM user_locations WHERE user_id = ?", [user.userId]);
    expect(await takesEffect(user.token, `/sites/${site}`, 404)).toBeLessThan(SCOPE_TTL_MS + 1_000);
  });

  it("an agency user demoted to location user loses agency-only routes", async () => {
    const user = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "agency" });
    expect(await get(user.token, "/users")).toBe(200);
    await maria.pool.query("UPDATE users SET role = 'location' WHERE id = ?", [user.userId]);
    expect(await takesEffect(user.token, "/users", 403)).toBeLessThan(SCOPE_TTL_MS + 1_000);
  });

  it("a change made through the admin API applies at once", async () => {
    const admin = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "agency" });
    const user = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l1] });
    expect(await get(user.token, `/sites/${site}`)).toBe(200);
    const res = await host.request(`/v1/users/${user.userId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ locationIds: [l2] }),
    });
    expect(res.status).toBe(200);
    expect(await get(user.token, `/sites/${site}`)).toBe(404);
  });

  it("moving a site to another location moves who sees it, and only that", async () => {
    const admin = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "agency" });
    const inL1 = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l1] });
    const inL2 = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l2] });
    const inBoth = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l1, l2] });
    const moving = crypto.randomUUID();
    await maria.db.insert(sites).values({ id: moving, tenantId: TENANT, locationId: l1, name: "M", domain: "m.example", siteKey: `k_${moving}` });
    const seen = async () => Promise.all([admin, inL1, inL2, inBoth].map((u) => get(u.token, `/sites/${moving}`)));
    expect(await seen()).toEqual([200, 200, 404, 200]);
    const res = await host.request(`/v1/sites/${moving}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ locationId: l2 }),
    });
    expect(res.status).toBe(200);
    expect(await seen()).toEqual([200, 404, 200, 200]);
  });
});

describe("the resolver", () => {
  it("narrows a location user with allowed sites to those sites of its locations", async () => {
    const other = crypto.randomUUID();
    await maria.db.insert(sites).values({ id: other, tenantId: TENANT, locationId: l1, name: "O", domain: "o.example", siteKey: `k_${other}` });
    const narrowed = await makeUser(maria.db, SECRET, { tenantId: TENANT, role: "location", locationIds: [l1], allowedSites: [other] });
    const principal = await new ScopeResolver(maria.db).principal(narrowed.userId);
    expect(principal).toMatchObject({ role: "location", locationIds: [l1], siteIds: [other] });
  });
});

describe("the locations migration", () => {
  it("moves existing sites into a default location per tenant and keeps every user's access exactly", async () => {
    // A database migrated up to the last migration before locations, holding data in the old shape.
    const dir = mkdtempSync(join(tmpdir(), "migrations-"));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const journal = JSON.parse(readFileSync(join(dir, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
    const before = journal.entries.findIndex((e) => e.tag === "0003_locations");
    writeFileSync(join(dir, "meta/_journal.json"), JSON.stringify({ ...journal, entries: journal.entries.slice(0, before) }));
    const dbName = `mig_${crypto.randomUUID().slice(0, 8)}`;
    const url = await createDatabase(inject("mariadbUrl"), dbName);
    const conn = await mysql.createConnection({ uri: url });
    try {
      await migrate(drizzle(conn), { migrationsFolder: dir });
      const [t, s1, s2, all, one, none, agency] = Array.from({ length: 7 }, () => crypto.randomUUID());
      await conn.query("INSERT INTO tenants (id, name) VALUES (?, 'Old')", [t]);
      await conn.query("INSERT INTO sites (id, tenant_id, name, domain, site_key) VALUES (?, ?, 'A', 'a.example', ?), (?, ?, 'B', 'b.example', ?)", [s1, t, `k${s1}`, s2, t, `k${s2}`]);
      const user = (id: string, role: string, allowed: string[]) =>
        conn.query("INSERT INTO users (id, tenant_id, email, role, allowed_sites) VALUES (?, ?, ?, ?, ?)", [id, t, `${id}@x.test`, role, JSON.stringify(allowed)]);
      await user(all!, "location", [s1!, s2!]);
      await user(one!, "location", [s1!]);
      await user(none!, "location", []);
      await user(agency!, "agency", []);

      await migrate(drizzle(conn), { migrationsFolder: MIGRATIONS_DIR });

      const [locs] = (await conn.query("SELECT id, name, timezone FROM locations WHERE tenant_id = ?", [t])) as [{ id: string; name: string; timezone: string }[], unknown];
      expect(locs).toEqual([{ id: expect.any(String), name: "Default location", timezone: "UTC" }]);
      const [siteRows] = (await conn.query("SELECT DISTINCT location_id FROM sites WHERE tenant_id = ?", [t])) as [{ location_id: string }[], unknown];
      expect(siteRows).toEqual([{ location_id: locs[0]!.id }]);
      const migrated = connectDrizzle(conn);
      const resolver = new ScopeResolver(migrated);
      const sitesOf = async (id: string) => ((await resolver.principal(id))?.siteIds ?? []).sort();
      expect(await sitesOf(all!)).toEqual([s1!, s2!].sort());
      expect(await sitesOf(one!)).toEqual([s1!]);
      expect(await sitesOf(none!)).toEqual([]);
      expect(await sitesOf(agency!)).toEqual([s1!, s2!].sort());
    } finally {
      await conn.query(`DROP DATABASE \`${dbName}\``);
      await conn.end();
    }
  });
});

/** drizzle over one connection, typed like the pool-backed one. */
function connectDrizzle(conn: mysql.Connection) {
  return drizzle(conn, { schema: {} as never, mode: "default" }) as unknown as ConstructorParameters<typeof ScopeResolver>[0];
}
