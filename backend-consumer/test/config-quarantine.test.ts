/**
 * One tenant's invalid config row must not stop anyone else's config: on the local stack (backend sync loop, the
 * Worker on miniflare, MariaDB), tenant B's field is renamed to '' by direct SQL; tenant A's edit still reaches
 * the edge, B's site keeps its last good config and shows why it is held, the reason is logged once, and the site
 * comes back when repaired. And the admin API answers 503 with Retry-After while MariaDB cannot be reached.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "#contracts";
import { createAdminApi } from "../src/api/admin/index.ts";
import { mintToken } from "../src/api/auth.ts";
import { connectMariadb } from "../src/config/db.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS, testPort } from "../../scripts/testing/ports.ts";

const B = { tenantId: "b0000000-0000-4000-8000-000000000001", locationId: "b0000000-0000-4000-8000-000000000005", siteId: "b0000000-0000-4000-8000-000000000010", formId: "b0000000-0000-4000-8000-000000000100", fieldId: "b0000000-0000-4000-8000-000000001000", userId: "b0000000-0000-4000-8000-000000003000" };
// unique per run: the local KV persists across runs, and must not answer for this run's site
const B_KEY = `tenant-b-${crypto.randomUUID().slice(0, 8)}`;

let stack: Stack;
let sql: mysql.Connection;

async function served(siteKey: string): Promise<SiteConfig | null> {
  const res = await fetch(`${stack.edge.url}/v1/config/${siteKey}`);
  return res.ok ? ((await res.json()) as SiteConfig) : null;
}
const backendLog = (): string => readFileSync(join(TEST_DATA_DIR, "backend.log"), "utf8");

beforeAll(async () => {
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: uniqueDbName("quarantine"), mariadbDb: uniqueDbName("quarantine") });
  sql = await mysql.createConnection({ uri: stack.mariadbUrl });
  await sql.query("INSERT INTO tenants (id, name) VALUES (?, 'Tenant B')", [B.tenantId]);
  await sql.query("INSERT INTO locations (id, tenant_id, name) VALUES (?, ?, 'B')", [B.locationId, B.tenantId]);
  await sql.query("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (?, ?, ?, 'B site', 'b.example', ?)", [B.siteId, B.tenantId, B.locationId, B_KEY]);
  await sql.query("INSERT INTO forms (id, site_id, name, selector) VALUES (?, ?, 'Quote', '#quote')", [B.formId, B.siteId]);
  await sql.query("INSERT INTO fields (id, form_id, selector, name, type) VALUES (?, ?, 'input[name=email]', 'email', 'email')", [B.fieldId, B.formId]);
  await sql.query("INSERT INTO users (id, tenant_id, email, role) VALUES (?, ?, 'owner@b.example', 'agency')", [B.userId, B.tenantId]);
  await eventually(async () => ((await served(B_KEY))?.forms[0]?.fields[0]?.name === "email" ? true : undefined), 10_000, "tenant B's site at the edge");
});

afterAll(async () => {
  await sql?.end();
  await stack?.stop();
});

describe("config sync isolation", () => {
  it("quarantines tenant B's broken site, and tenant A's edit still reaches the edge", async () => {
    const logStart = backendLog().length;
    await sql.query("UPDATE fields SET name = '' WHERE id = ?", [B.fieldId]);
    // past KV's one-write-per-second-per-key pacing, so the sync has taken up B's broken row before A's edit
    await new Promise((r) => setTimeout(r, 1500));
    await sql.query("UPDATE forms SET selector = '#contact-after' WHERE id = ?", [DEMO.formId]);

    const a = await eventually(async () => {
      const config = await served("demo-site");
      return config?.forms[0]?.selector === "#contact-after" ? config : undefined;
    }, 5_000, "tenant A's edit at the edge");
    expect(a.siteKey).toBe("demo-site");

    // B keeps its last good config at the edge
    expect((await served(B_KEY))!.forms[0]!.fields[0]!.name).toBe("email");

    // ... and B's owner sees why through the admin API
    const token = await mintToken(stack.jwtSecret, { sub: B.userId });
    const site = await eventually(async () => {
      const res = await fetch(`${stack.backend.url}/v1/sites/${B.siteId}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { sync: { state: string; reason?: string } };
      return body.sync.state === "quarantined" ? body : undefined;
    }, 5_000, "B's quarantine on its site");
    expect(site.sync.reason).toMatch(/forms\.0\.fields\.0\.name/);

    // logged once, not on every pass of the 100 ms loop
    await new Promise((r) => setTimeout(r, 1500));
    await sql.query("UPDATE forms SET name = 'Contact again' WHERE id = ?", [DEMO.formId]); // more passes, with B still broken
    await new Promise((r) => setTimeout(r, 1500));
    const log = backendLog().slice(logStart);
    expect(log.split("site config quarantined").length - 1).toBe(1);
    expect(log).not.toMatch(/config sync failed/);
  });

  it("a repaired site leaves quarantine and its config goes live again", async () => {
    await sql.query("UPDATE fields SET name = 'work_email' WHERE id = ?", [B.fieldId]);
    await eventually(async () => ((await served(B_KEY))?.forms[0]?.fields[0]?.name === "work_email" ? true : undefined), 5_000, "B's repaired config");
    const token = await mintToken(stack.jwtSecret, { sub: B.userId });
    const res = await fetch(`${stack.backend.url}/v1/sites/${B.siteId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await res.json()) as { sync: unknown }).sync).toEqual({ state: "ok" });
  });
});

describe("admin API while MariaDB is unreachable", () => {
  it("answers 503 with Retry-After and a JSON error, not 500", async () => {
    const secret = "s".repeat(32);
    const unreachable = connectMariadb(`mysql://tracker:tracker@127.0.0.1:${testPort(39)}/tracker`, { connectionLimit: 1 });
    try {
      const api = createAdminApi({ db: unreachable.db, auth: { hs256Secret: secret }, log: () => {} });
      const token = await mintToken(secret, { sub: "u" });
      const res = await api.request("/sites", { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toMatchObject({ error: "database_unavailable" });
    } finally {
      await unreachable.close();
    }
  });
});
