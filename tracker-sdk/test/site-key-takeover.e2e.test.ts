/**
 * The site-key takeover, end to end: tenant A's site gets a new key; tenant B tries to claim the old one (through
 * the API, and by SQL behind its back, in another case); a real page that still embeds A's old snippet, in
 * Chromium, must then load nobody's config and send nobody its visitors' form submissions.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { EdgeLog, startE2e, type E2e } from "./helpers.ts";

let e2e: E2e;
const B = { tenantId: crypto.randomUUID(), locationId: crypto.randomUUID(), userId: crypto.randomUUID() };

beforeAll(async () => {
  e2e = await startE2e("takeover");
});
afterAll(async () => {
  await e2e?.stop();
});

describe("site key takeover", () => {
  it("a retired key cannot be claimed, and a page embedding it sends nothing to anyone", async () => {
    const api = (token: string, method: string, path: string, body?: unknown) =>
      fetch(`${e2e.stack.backend.url}/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const agencyA = await mintToken(e2e.stack.jwtSecret, { sub: DEMO.agencyUserId });
    expect((await api(agencyA, "PATCH", `/sites/${DEMO.siteId}`, { siteKey: "demo-site-rotated" })).status).toBe(200);

    const sql = await mysql.createConnection({ uri: e2e.stack.mariadbUrl });
    try {
      await sql.query("INSERT INTO tenants (id, name) VALUES (?, 'Tenant B')", [B.tenantId]);
      await sql.query("INSERT INTO locations (id, tenant_id, name) VALUES (?, ?, 'B')", [B.locationId, B.tenantId]);
      await sql.query("INSERT INTO users (id, tenant_id, email, role) VALUES (?, ?, 'b@b.example', 'agency')", [B.userId, B.tenantId]);
      const agencyB = await mintToken(e2e.stack.jwtSecret, { sub: B.userId });
      const claim = await api(agencyB, "POST", "/sites", { name: "Stolen", domain: "127.0.0.1", siteKey: "demo-site", allowedOrigins: [] });
      expect(claim.status).toBe(409);
      await expect(
        sql.query("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key, allowed_origins) VALUES (UUID(), ?, ?, 'Stolen', 'x', 'DEMO-SITE', '[]')", [B.tenantId, B.locationId]),
      ).rejects.toThrow(/Duplicate/);
    } finally {
      await sql.end();
    }

    // the edge forgets the old key once the sync has run
    await eventually(async () => ((await fetch(`${e2e.stack.edge.url}/v1/config/demo-site`)).status === 404 ? true : undefined), 10_000, "the old key to leave the edge");

    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    const notices: string[] = [];
    page.on("console", (m) => notices.push(m.text()));
    await page.goto(e2e.fixture("plain-form")); // embeds /s/demo-site.js
    await page.fill("#quote [name=email]", "victim@example.com");
    await page.fill("#quote [name=phone]", "+44 20 7946 0000");
    await Promise.all([page.waitForURL(/thanks/), page.click("#quote button")]);
    await page.waitForTimeout(1500);
    expect(notices.join("\n")).toMatch(/site key "demo-site" is unknown or inactive/);
    expect(log.posts).toEqual([]);
    // and had anything been sent with the old key, the edge would refuse it
    const res = await fetch(`${e2e.stack.edge.url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "text/plain", origin: e2e.stack.demoUrl.replace(/\/$/, "") },
      body: JSON.stringify({ siteKey: "demo-site", events: [{ id: crypto.randomUUID(), type: "page_view", ts: Date.now(), sessionId: "s", visitorId: "v" }] }),
    });
    expect(res.status).toBe(401);
    expect(await e2e.mongo.db.collection("events").countDocuments({ "form.fields.email": "victim@example.com" })).toBe(0);
    await context.close();
  });
});
