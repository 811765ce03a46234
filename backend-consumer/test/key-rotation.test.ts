/**
 * Site key rotation on the whole local stack (MariaDB, the backend with its KV sync, the edge on miniflare, the
 * queue, MongoDB, headless Chromium): `POST /v1/sites/:id/rotate-key` with a short grace period. During it the old
 * key's loader, config and ingest work under the same site (an event sent with it lands in MongoDB under the site's
 * id), config edits reach both keys, and a page with the old snippet keeps sending; at the grace end the edge
 * refuses the old key on time, exactly as an unknown key, and the sync removes its KV entry. Only agency users of
 * the site's tenant may rotate.
 */
import mysql from "mysql2/promise";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKey, type SiteConfig } from "#contracts";
import { mintToken } from "../src/api/auth.ts";
import { connectMariadb } from "../src/config/db.ts";
import { KvClient } from "../src/config/kv-client.ts";
import { reconcile } from "../src/config/sync.ts";
import { connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { launchBrowser } from "../../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

/** Long enough for the checks made during it (a browser among them) on a slow machine; short enough to wait out. */
const GRACE_S = 20;
const OLD = "demo-site";

let stack: Stack;
let browser: Browser;
let mongo: Mongo;
let sql: mysql.Connection;
let kv: KvClient;
let mongoDb: string;
const tokens = {} as { agency: string; location: string; otherTenant: string };

beforeAll(async () => {
  mongoDb = uniqueDbName("rotation");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb, mariadbDb: uniqueDbName("rotation") });
  mongo = await connectMongo(stack.mongo.url, mongoDb);
  sql = await mysql.createConnection({ uri: stack.mariadbUrl });
  kv = new KvClient({ baseUrl: `${stack.edge.url}/client/v4`, accountId: "local", namespaceId: "local", apiToken: stack.internalToken });
  const other = { tenantId: crypto.randomUUID(), locationId: crypto.randomUUID(), userId: crypto.randomUUID() };
  await sql.query("INSERT INTO tenants (id, name) VALUES (?, 'Tenant B')", [other.tenantId]);
  await sql.query("INSERT INTO locations (id, tenant_id, name) VALUES (?, ?, 'B')", [other.locationId, other.tenantId]);
  await sql.query("INSERT INTO users (id, tenant_id, email, role) VALUES (?, ?, 'b@b.example', 'agency')", [other.userId, other.tenantId]);
  tokens.agency = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });
  tokens.location = await mintToken(stack.jwtSecret, { sub: DEMO.locationUserId });
  tokens.otherTenant = await mintToken(stack.jwtSecret, { sub: other.userId });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await sql?.end();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.backend.url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const demoOrigin = () => new URL(stack.demoUrl).origin;

/** Posts one page view as the demo page's browser would; resolves with the edge's status and when it was sent. */
async function postEvent(siteKey: string): Promise<{ status: number; id: string; sentAt: number; body: unknown }> {
  const id = crypto.randomUUID();
  const sentAt = Date.now();
  const res = await fetch(`${stack.edge.url}/v1/events`, {
    method: "POST",
    headers: { "content-type": "text/plain", origin: demoOrigin() },
    body: JSON.stringify({ siteKey, events: [{ id, type: "page_view", ts: sentAt, sessionId: "rot-s", visitorId: "rot-v", page: { url: `${demoOrigin()}/`, title: "Rotation" } }] }),
  });
  return { status: res.status, id, sentAt, body: await res.json() };
}

async function edgeConfig(siteKey: string): Promise<SiteConfig | null> {
  const res = await fetch(`${stack.edge.url}/v1/config/${siteKey}`);
  return res.ok ? ((await res.json()) as SiteConfig) : null;
}

/** The edge's answers for a key, with the key itself blanked so that two keys' answers compare. */
async function edgeAnswers(siteKey: string) {
  const loader = await fetch(`${stack.edge.url}/s/${siteKey}.js`);
  const config = await fetch(`${stack.edge.url}/v1/config/${siteKey}`);
  const event = await postEvent(siteKey);
  return {
    loader: { status: loader.status, body: (await loader.text()).replaceAll(siteKey, "<key>") },
    config: { status: config.status, body: await config.json() },
    events: { status: event.status, body: event.body },
  };
}

const storedEvent = (eventId: string) =>
  eventually(async () => (await mongo.db.collection("events").findOne({ eventId })) ?? undefined, 30_000, `event ${eventId} in MongoDB`);

describe("who may rotate", () => {
  it("a location user is refused (403), another tenant's agency sees no such site (404), bad input is a 400; nothing changes", async () => {
    const location = await api(tokens.location, "POST", `/sites/${DEMO.siteId}/rotate-key`, { graceSeconds: 60 });
    expect(location.status).toBe(403);
    expect(location.body).toMatchObject({ error: "forbidden" });
    const other = await api(tokens.otherTenant, "POST", `/sites/${DEMO.siteId}/rotate-key`, {});
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ error: "not_found" });
    expect((await api(tokens.otherTenant, "GET", `/sites/${DEMO.siteId}/site-keys`)).status).toBe(404);

    for (const body of [{ graceSeconds: -1 }, { graceSeconds: 90 * 86_400 + 1 }, { graceSeconds: 1.5 }, { graceSeconds: "60" }, { grace: 60 }]) {
      const bad = await api(tokens.agency, "POST", `/sites/${DEMO.siteId}/rotate-key`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body).toMatchObject({ error: "validation_failed" });
    }
    expect((await api(tokens.agency, "POST", `/sites/${DEMO.siteId}/rotate-key`, "{not json")).body).toMatchObject({ error: "invalid_json" });
    expect((await api(tokens.agency, "POST", "/sites/no-such-site/rotate-key", {})).status).toBe(404);

    expect((await api(tokens.agency, "GET", `/sites/${DEMO.siteId}`)).body.siteKey).toBe(OLD);
    expect((await api(tokens.agency, "GET", `/sites/${DEMO.siteId}/site-keys`)).body).toEqual({ siteId: DEMO.siteId, siteKey: OLD, inGrace: [] });
  });
});

describe("rotation with a grace period", () => {
  let newKey: string;
  let validUntil: number;
  const acceptedWithOldKey: string[] = [];

  it("answers with the new key, the old key and when it stops; both keys get change rows and reach the edge", async () => {
    const [[{ maxId }]] = (await sql.query("SELECT COALESCE(MAX(id), 0) AS maxId FROM config_changes")) as unknown as [[{ maxId: number }]];
    const asked = Date.now();
    const res = await api(tokens.agency, "POST", `/sites/${DEMO.siteId}/rotate-key`, { graceSeconds: GRACE_S });
    expect(res.status).toBe(200);
    newKey = res.body.siteKey as string;
    expect(newKey).toMatch(/^sk_[a-z2-7]{24}$/);
    expect(res.body).toMatchObject({ siteId: DEMO.siteId, oldSiteKey: OLD, graceSeconds: GRACE_S });
    validUntil = Date.parse(res.body.oldKeyValidUntil as string);
    expect(validUntil).toBeGreaterThanOrEqual(asked + GRACE_S * 1000);
    expect(validUntil).toBeLessThanOrEqual(Date.now() + GRACE_S * 1000);

    const [changes] = (await sql.query("SELECT DISTINCT site_key FROM config_changes WHERE id > ?", [maxId])) as unknown as [{ site_key: string }[]];
    expect(changes.map((r) => r.site_key).sort()).toEqual([OLD, newKey].sort());
    const [audit] = (await sql.query("SELECT action FROM audit_log WHERE target_id = ? AND action = 'site.rotate_key'", [DEMO.siteId])) as unknown as [{ action: string }[]];
    expect(audit).toHaveLength(1);

    const current = await eventually(async () => (await edgeConfig(newKey)) ?? undefined, 10_000, "the new key at the edge");
    expect(current).toMatchObject({ siteId: DEMO.siteId, siteKey: newKey });
    expect(current).not.toHaveProperty("validUntil");
    const old = await eventually(async () => ((await edgeConfig(OLD))?.validUntil ? await edgeConfig(OLD) : undefined), 10_000, "the old key marked validUntil");
    expect(old).toMatchObject({ siteId: DEMO.siteId, siteKey: OLD, validUntil });
    expect(old!.forms).toEqual(current!.forms);

    // the dashboard's source: the current key, and until when the old one works (location users see it too)
    const keys = await api(tokens.location, "GET", `/sites/${DEMO.siteId}/site-keys`);
    expect(keys.body).toEqual({ siteId: DEMO.siteId, siteKey: newKey, inGrace: [{ siteKey: OLD, retiredAt: expect.any(String), validUntil: new Date(validUntil).toISOString() }] });
  });

  it("during the grace period the old key's loader and ingest work, under the same site, and so does the new key", async () => {
    const loader = await fetch(`${stack.edge.url}/s/${OLD}.js`);
    expect(loader.status).toBe(200);
    expect(Number(/max-age=(\d+)/.exec(loader.headers.get("cache-control") ?? "")?.[1])).toBeLessThanOrEqual(5);
    const js = await loader.text();
    expect(js).toContain(`"siteKey":"${OLD}"`);
    expect(js).toContain(`"validUntil":${validUntil}`);

    const viaOld = await postEvent(OLD);
    expect(viaOld.status).toBe(202);
    acceptedWithOldKey.push(viaOld.id);
    const viaNew = await postEvent(newKey);
    expect(viaNew.status).toBe(202);
    expect(await storedEvent(viaOld.id)).toMatchObject({ siteId: DEMO.siteId });
    expect(await storedEvent(viaNew.id)).toMatchObject({ siteId: DEMO.siteId });
  });

  it("a config edit during the grace period reaches both keys", async () => {
    const res = await api(tokens.agency, "PATCH", `/forms/${DEMO.formId}`, { selector: "#contact-rotated" });
    expect(res.status).toBe(200);
    for (const key of [newKey, OLD]) {
      const config = await eventually(async () => {
        const c = await edgeConfig(key);
        return c?.forms.some((f) => f.selector === "#contact-rotated") ? c : undefined;
      }, 10_000, `the edit under ${key}`);
      expect(config.siteId).toBe(DEMO.siteId);
    }
    expect((await edgeConfig(OLD))!.validUntil).toBe(validUntil);
  });

  it("the dashboard's install tab shows the new snippet and until when the old key works", async () => {
    const context = await browser.newContext();
    await context.addInitScript((token) => sessionStorage.setItem("lead-tracker.token", token), tokens.agency);
    const page = await context.newPage();
    await page.goto(`${stack.appUrl}?view=install`);
    const snippet = page.getByTestId(`snippet-${DEMO.siteId}`);
    await expect.poll(() => snippet.textContent(), { timeout: 15_000 }).toContain(`/s/${newKey}.js`);
    const note = page.getByTestId(`key-grace-${DEMO.siteId}`);
    await note.waitFor({ timeout: 15_000 });
    expect(await note.textContent()).toContain(OLD);
    expect(await note.locator("time").getAttribute("datetime")).toBe(new Date(validUntil).toISOString());
    await context.close();
  });

  it("a page with the old snippet keeps sending until the grace end, and the edge stops the old key on time", async () => {
    if (Date.now() > validUntil - 4_000) throw new Error("the grace period ran out before the browser part started: raise GRACE_S");
    const context = await browser.newContext();
    const posts: { sentAt: number; siteKey?: string; status?: number; ids: string[] }[] = [];
    context.on("request", (request) => {
      if (request.method() !== "POST" || !request.url().endsWith("/v1/events")) return;
      const body = JSON.parse(request.postData() ?? "{}") as { siteKey?: string; events?: { id: string }[] };
      const post: (typeof posts)[number] = { sentAt: Date.now(), siteKey: body.siteKey, ids: (body.events ?? []).map((e) => e.id) };
      posts.push(post);
      void request.response().then((r) => (post.status = r?.status() ?? 0));
    });
    const page = await context.newPage();
    await page.goto(new URL("/fixtures/plain-form.html", stack.demoUrl).toString()); // embeds /s/demo-site.js
    await page.waitForFunction(() => Boolean((window as unknown as { LeadTracker?: { l?: number } }).LeadTracker?.l));

    // the page sends a tick every 700 ms; meanwhile ingest with the old key is probed every 100 ms around the end
    const stopAt = validUntil + 2_500;
    const ticking = (async () => {
      for (let n = 0; Date.now() < stopAt; n++) {
        await page.evaluate((i) => {
          const t = (window as unknown as { LeadTracker: (...a: unknown[]) => void }).LeadTracker;
          t("track", "tick", { n: i });
          t("flush");
        }, n);
        await new Promise((r) => setTimeout(r, 700));
      }
    })();
    const probes: Awaited<ReturnType<typeof postEvent>>[] = [];
    await new Promise((r) => setTimeout(r, Math.max(0, validUntil - 1_500 - Date.now())));
    while (Date.now() < validUntil + 1_500) {
      probes.push(await postEvent(OLD));
      await new Promise((r) => setTimeout(r, 100));
    }
    await ticking;
    await eventually(async () => (posts.every((p) => p.status !== undefined) ? true : undefined), 10_000, "every post answered");

    // direct probes: accepted before the end, refused from it on; the first refusal within a second of it
    const before = probes.filter((p) => p.sentAt < validUntil - 200);
    const after = probes.filter((p) => p.sentAt > validUntil + 200);
    expect(before.length).toBeGreaterThan(5);
    expect(after.length).toBeGreaterThan(5);
    expect(before.map((p) => p.status)).toEqual(before.map(() => 202));
    expect(after.map((p) => p.status)).toEqual(after.map(() => 401));
    const firstRefused = probes.find((p) => p.status === 401)!;
    expect(firstRefused.sentAt).toBeGreaterThanOrEqual(validUntil - 200);
    expect(firstRefused.sentAt).toBeLessThan(validUntil + 1_000);
    acceptedWithOldKey.push(...before.flatMap((p) => [p.id]));

    // the browser: it sends with the snippet's key (the loader hands it to the SDK), accepted until the end only
    expect(new Set(posts.map((p) => p.siteKey))).toEqual(new Set([OLD]));
    const pageBefore = posts.filter((p) => p.sentAt < validUntil - 200);
    const pageAfter = posts.filter((p) => p.sentAt > validUntil + 200);
    expect(pageBefore.length).toBeGreaterThan(3);
    expect(pageAfter.length).toBeGreaterThan(0);
    expect(pageBefore.map((p) => p.status)).toEqual(pageBefore.map(() => 202));
    expect(pageAfter.map((p) => p.status)).toEqual(pageAfter.map(() => 401));
    acceptedWithOldKey.push(...pageBefore.flatMap((p) => p.ids));

    // after the end: a fresh page with the old snippet loads the no-op and sends nothing
    const fresh = await browser.newContext();
    const freshPage = await fresh.newPage();
    const notices: string[] = [];
    freshPage.on("console", (m) => notices.push(m.text()));
    let freshPosts = 0;
    fresh.on("request", (r) => void (r.method() === "POST" && r.url().endsWith("/v1/events") && freshPosts++));
    await freshPage.goto(new URL("/fixtures/plain-form.html", stack.demoUrl).toString());
    await freshPage.waitForTimeout(1_500);
    expect(notices.join("\n")).toMatch(/site key "demo-site" is unknown or inactive/);
    expect(freshPosts).toBe(0);
    await fresh.close();
    await context.close();
  }, 120_000);

  it("after the grace end the old key is answered exactly like a key never issued, while the new key works", async () => {
    expect(await edgeAnswers(OLD)).toEqual(await edgeAnswers("sk_never_issued_key"));
    expect((await postEvent(newKey)).status).toBe(202);
    expect((await api(tokens.agency, "GET", `/sites/${DEMO.siteId}/site-keys`)).body).toEqual({ siteId: DEMO.siteId, siteKey: newKey, inGrace: [] });
  });

  it("the sync removes the old key's KV entry by itself, and keeps the new one", async () => {
    await eventually(async () => ((await kv.get(configKey(OLD))) === null ? true : undefined), 10_000, "the old key's KV entry to go");
    const [[state]] = (await sql.query("SELECT present FROM kv_sync_state WHERE site_key = ?", [OLD])) as unknown as [[{ present: number }]];
    expect(Number(state.present)).toBe(0);
    expect(JSON.parse((await kv.get(configKey(newKey)))!)).toMatchObject({ siteId: DEMO.siteId, siteKey: newKey });
  });

  it("every event accepted with the old key is in MongoDB under the site's id", async () => {
    expect(acceptedWithOldKey.length).toBeGreaterThan(8);
    for (const id of acceptedWithOldKey) expect(await storedEvent(id)).toMatchObject({ siteId: DEMO.siteId });
  });
});

describe("ending a grace period early", () => {
  it("graceSeconds 0 stops the old key at once; deleting the site stops a key still in its grace period", async () => {
    const created = await api(tokens.agency, "POST", "/sites", { name: "Short", domain: "short.example" });
    expect(created.status).toBe(201);
    const site = created.body as { id: string; siteKey: string };
    await eventually(async () => (await edgeConfig(site.siteKey)) ?? undefined, 10_000, "the new site at the edge");

    // no body at all: the default grace, 7 days
    const rotatedDefault = await fetch(`${stack.backend.url}/v1/sites/${site.id}/rotate-key`, { method: "POST", headers: { authorization: `Bearer ${tokens.agency}` } });
    const weekly = (await rotatedDefault.json()) as { siteKey: string; oldKeyValidUntil: string; graceSeconds: number };
    expect(weekly.graceSeconds).toBe(7 * 86_400);
    expect(Date.parse(weekly.oldKeyValidUntil) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);

    const now = await api(tokens.agency, "POST", `/sites/${site.id}/rotate-key`, { graceSeconds: 0 });
    expect(now.status).toBe(200);
    const key2 = now.body.siteKey as string;
    await eventually(async () => ((await edgeConfig(weekly.siteKey)) === null ? true : undefined), 10_000, "the zero-grace key to stop");
    await eventually(async () => (await edgeConfig(key2)) ?? undefined, 10_000, "the newest key at the edge");

    // the first key is still in its week of grace, and serves the site
    expect((await edgeConfig(site.siteKey))?.validUntil).toBe(Date.parse(weekly.oldKeyValidUntil));
    // the reconcile knows grace keys too: an entry lost from KV is written back, with its validUntil
    await kv.bulkDelete([configKey(site.siteKey)]);
    const maria = connectMariadb(stack.mariadbUrl, { connectionLimit: 1 });
    try {
      expect((await reconcile({ db: maria.db, kv, minWriteIntervalMs: 0 })).written).toContain(site.siteKey);
    } finally {
      await maria.close();
    }
    expect(JSON.parse((await kv.get(configKey(site.siteKey)))!)).toMatchObject({ siteId: site.id, siteKey: site.siteKey, validUntil: Date.parse(weekly.oldKeyValidUntil) });
    // deleting the site ends every grace period it has
    expect((await api(tokens.agency, "DELETE", `/sites/${site.id}`)).status).toBe(200);
    for (const key of [site.siteKey, key2]) await eventually(async () => ((await edgeConfig(key)) === null ? true : undefined), 10_000, `${key} to stop with its site`);
    await eventually(async () => ((await kv.get(configKey(site.siteKey))) === null ? true : undefined), 10_000, "the grace key's KV entry to go");
  });
});
