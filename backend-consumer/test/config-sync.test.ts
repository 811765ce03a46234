/**
 * The KV sync on real parts: change rows written by MariaDB triggers, the KV REST client, and the local KV that
 * the edge Worker (on miniflare) serves from.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKey, type SiteConfig } from "#contracts";
import { compileSiteConfig, loadSiteBundle } from "../src/config/compile.ts";
import { KvClient } from "../src/config/kv-client.ts";
import { reconcile, syncPending, type SyncDeps } from "../src/config/sync.ts";
import { startEdge, type EdgeHandle } from "../../scripts/lib/edge.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { freshConfigDb, type TestConfigDb } from "../../scripts/testing/config-db.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

let db: TestConfigDb;
let edge: EdgeHandle;
let deps: SyncDeps;
const token = randomBytes(16).toString("hex");
const SITE = "sync-site";

async function served(siteKey: string): Promise<SiteConfig | null> {
  // The edge caches a config for up to 1 s per isolate (worker/src/lib/site-config.ts).
  await new Promise((r) => setTimeout(r, 1100));
  const res = await fetch(`${edge.url}/v1/config/${siteKey}`);
  return res.ok ? ((await res.json()) as SiteConfig) : null;
}

async function pendingCount(): Promise<number> {
  const rows = (await db.sql("SELECT COUNT(*) AS n FROM config_changes WHERE processed_at IS NULL")) as { n: number }[];
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  db = await freshConfigDb("sync", { siteKey: SITE, demoOrigin: "http://127.0.0.1:18788" });
  edge = await startEdge({ port: TEST_PORTS.worker, dataDir: TEST_DATA_DIR, backendUrl: "http://127.0.0.1:9", internalToken: token });
  const kv = new KvClient({ baseUrl: `${edge.url}/client/v4`, accountId: "local", namespaceId: "local", apiToken: token });
  // Start from an empty KV: earlier runs share the persisted local namespace.
  await kv.bulkDelete(await kv.listKeys("site:"));
  deps = { db: db.db, kv, minWriteIntervalMs: 0 };
});

afterAll(async () => {
  await edge?.stop();
  await db?.drop();
});

describe("config sync", () => {
  it("compiles each changed site into KV, with the newest change id as its version", async () => {
    const result = await syncPending(deps);
    // The demo seed has a second location with its own site.
    expect([...result.written].sort()).toEqual([DEMO.site2Key, SITE].sort());
    expect(await pendingCount()).toBe(0);
    const config = await served(SITE);
    const rows = (await db.sql("SELECT MAX(id) AS id FROM config_changes")) as { id: number }[];
    expect(config).toMatchObject({ siteKey: SITE, siteId: DEMO.siteId, version: Number(rows[0]!.id) });
    expect(config!.forms[0]).toMatchObject({ selector: "#contact", alternativeSelectors: ["form[action*=contact]"] });
    expect(config!.forms[0]!.fields.map((f) => f.name)).toEqual(["name", "email", "message"]);
    expect(config).not.toHaveProperty("forms.0.fields.1.mapping");
  });

  it("is idempotent: a pass with nothing pending, or a replay of processed rows, writes nothing and keeps the version", async () => {
    const before = await served(SITE);
    expect(await syncPending(deps)).toEqual({ changes: 0, written: [], deleted: [], deferred: [] });
    // As if the process died after writing KV but before marking its rows: they come back.
    await db.sql("UPDATE config_changes SET processed_at = NULL");
    const replay = await syncPending(deps);
    expect(replay.changes).toBeGreaterThan(0);
    expect(replay.written).toEqual([]);
    expect(await served(SITE)).toEqual(before);
  });

  it("sees a direct SQL UPDATE made outside the API and serves it at the edge", async () => {
    const before = (await served(SITE))!;
    await db.sql("UPDATE forms SET selector = ? WHERE id = ?", ["#contact-v2", DEMO.formId]);
    expect((await syncPending(deps)).written).toEqual([SITE]);
    const after = (await served(SITE))!;
    expect(after.forms[0]!.selector).toBe("#contact-v2");
    expect(after.version).toBeGreaterThan(before.version);
  });

  it("never lets a version go down when a change row commits late with a smaller id", async () => {
    const before = (await served(SITE))!;
    await db.sql("UPDATE fields SET label = 'E-mail' WHERE name = 'email'");
    // Re-number the new change row below the version already served, as a late-committing transaction would.
    const [{ id }] = (await db.sql("SELECT MAX(id) AS id FROM config_changes")) as [{ id: number }];
    const [{ low }] = (await db.sql("SELECT MIN(id) AS low FROM config_changes")) as [{ low: number }];
    await db.sql("DELETE FROM config_changes WHERE id = ?", [low]);
    await db.sql("UPDATE config_changes SET id = ? WHERE id = ?", [low, id]);
    expect((await syncPending(deps)).written).toEqual([SITE]);
    const after = (await served(SITE))!;
    expect(after.forms[0]!.fields[1]!.label).toBe("E-mail");
    expect(after.version).toBeGreaterThan(before.version);
  });

  it("serves the location's time zone with its sites, follows a change of it, and a site's own zone wins", async () => {
    expect((await served(SITE))!.timezone).toBe("UTC");
    await db.sql("UPDATE locations SET timezone = 'America/New_York' WHERE id = ?", [DEMO.locationId]);
    expect((await syncPending(deps)).written).toEqual([SITE]);
    expect((await served(SITE))!.timezone).toBe("America/New_York");
    await db.sql("UPDATE sites SET timezone = 'Asia/Tokyo' WHERE id = ?", [DEMO.siteId]);
    expect((await syncPending(deps)).written).toEqual([SITE]);
    expect((await served(SITE))!.timezone).toBe("Asia/Tokyo");
    await db.sql("UPDATE sites SET timezone = NULL WHERE id = ?", [DEMO.siteId]);
    await db.sql("UPDATE locations SET timezone = 'UTC' WHERE id = ?", [DEMO.locationId]);
    await syncPending(deps);
    expect((await served(SITE))!.timezone).toBe("UTC");
  });

  it("removes a deactivated site from KV, and the loader turns into a no-op", async () => {
    await db.sql("UPDATE sites SET active = 0 WHERE id = ?", [DEMO.siteId]);
    expect((await syncPending(deps)).deleted).toEqual([SITE]);
    expect(await served(SITE)).toBeNull();
    expect(await (await fetch(`${edge.url}/s/${SITE}.js`)).text()).toMatch(/^console\.info/);
    await db.sql("UPDATE sites SET active = 1 WHERE id = ?", [DEMO.siteId]);
    expect((await syncPending(deps)).written).toEqual([SITE]);
  });

  it("moves the config when a site key changes, deleting the old key, which is never issued again", async () => {
    const id = crypto.randomUUID();
    await db.sql("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (?, ?, ?, 'Mover', 'm.example', 'Move-Me')", [id, DEMO.tenantId, DEMO.locationId]);
    expect((await syncPending(deps)).written).toEqual(["move-me"]); // keys are lower-case everywhere
    await db.sql("UPDATE sites SET site_key = 'move-me-2' WHERE id = ?", [id]);
    const result = await syncPending(deps);
    expect(result.written).toEqual(["move-me-2"]);
    expect(result.deleted).toEqual(["move-me"]);
    expect(await served("move-me")).toBeNull();
    expect((await served("MOVE-ME-2"))!.siteId).toBe(id);
    // the retired key belongs to that site forever: not even SQL can give it to another, in any case
    await expect(db.sql("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (UUID(), ?, ?, 'Thief', 't.example', 'MOVE-ME')", [DEMO.tenantId, DEMO.locationId])).rejects.toThrow(/Duplicate/);
    await db.sql("DELETE FROM sites WHERE id = ?", [id]);
    await syncPending(deps);
  });

  it("removes a deleted site", async () => {
    await db.sql("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (UUID(), ?, ?, 'Tmp', 'tmp.example', 'tmp-site')", [DEMO.tenantId, DEMO.locationId]);
    await syncPending(deps);
    expect(await served("tmp-site")).not.toBeNull();
    await db.sql("DELETE FROM sites WHERE site_key = 'tmp-site'");
    expect((await syncPending(deps)).deleted).toEqual(["tmp-site"]);
    expect(await served("tmp-site")).toBeNull();
  });

  it("reconcile repairs drift: a tampered value is rewritten and a stray key is deleted", async () => {
    const kv = deps.kv as KvClient;
    await kv.bulkPut([
      { key: configKey(SITE), value: JSON.stringify({ ...(await served(SITE)), forms: [] }) },
      { key: configKey("ghost"), value: "{}" },
    ]);
    const result = await reconcile(deps);
    expect(result.written).toEqual([SITE]);
    expect(result.deleted).toEqual(["ghost"]);
    const bundle = (await loadSiteBundle(db.db, SITE))!;
    const expected = compileSiteConfig(bundle, 1);
    const repaired = (await served(SITE))!;
    expect({ ...repaired, version: 1 }).toEqual(expected);
    expect(await served("ghost")).toBeNull();
    expect(await reconcile(deps)).toEqual({ written: [], deleted: [] });
  });
});
