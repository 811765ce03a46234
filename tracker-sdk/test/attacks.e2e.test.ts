/**
 * Attacks through the page, end to end in Chromium:
 * - a location user sets a form's page pattern that backtracks exponentially as a RegExp: visitors' pages must not
 *   hang on it (the SDK's matcher is linear);
 * - the site-key takeover: tenant A's site gets a new key; tenant B tries to claim the old one (through the API,
 *   and by SQL behind its back); a real page that still embeds A's old snippet must then load nobody's config and
 *   send nobody its visitors' form submissions.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { EdgeLog, sdkReady, startE2e, type E2e } from "./helpers.ts";

let e2e: E2e;
const B = { tenantId: crypto.randomUUID(), locationId: crypto.randomUUID(), userId: crypto.randomUUID() };

beforeAll(async () => {
  e2e = await startE2e("attacks");
});
afterAll(async () => {
  await e2e?.stop();
});

const api = (token: string, method: string, path: string, body?: unknown) =>
  fetch(`${e2e.stack.backend.url}/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

describe("a tenant's page pattern against its visitors", () => {
  it("a pathological pageUrlPattern neither hangs the page nor stops matching where it should", async () => {
    const location = await mintToken(e2e.stack.jwtSecret, { sub: DEMO.locationUserId });
    // as RegExp("^" + pattern with * as .* + "$"), Chromium 156 takes about a minute on a run of 87 a's without a b
    const pattern = "*a*a*a*a*a*a*a*b";
    const created = await api(location, "POST", `/sites/${DEMO.siteId}/forms`, { name: "Quote", selector: "#quote", pageUrlPattern: pattern });
    expect(created.status).toBe(201);
    const formId = ((await created.json()) as { id: string }).id;
    await eventually(async () => ((await (await fetch(`${e2e.stack.edge.url}/s/demo-site.js`)).text()).includes(pattern) ? true : undefined), 10_000, "the pattern at the edge");

    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    const base = `${e2e.fixture("plain-form")}?q=`;
    // no b at the end: the worst case for a backtracking matcher, which every input and the submit would run
    await page.goto(base + "a".repeat(87));
    await sdkReady(page);
    // each action waits for the page's handlers; 5 s is thousands of times what the linear matcher needs
    await page.fill("#quote [name=email]", "patient@example.com", { timeout: 5_000 });
    await page.fill("#quote [name=full_name]", "Pat Ient", { timeout: 5_000 });
    await Promise.all([page.waitForURL(/thanks/, { timeout: 5_000 }), page.click("#quote button", { timeout: 5_000 })]);
    const unmatched = await log.waitForPosted((e) => e.type === "form_submission", "the lead of the page the pattern does not match");
    expect(unmatched.form!.formId).toBe("quote"); // found by the heuristics, not by the configured form

    // where the pattern does match, the configured form is the one that captures
    await page.goto(`${base}${"a".repeat(20)}b`);
    await sdkReady(page);
    await page.fill("#quote [name=email]", "matched@example.com", { timeout: 5_000 });
    await Promise.all([page.waitForURL(/thanks/, { timeout: 5_000 }), page.click("#quote button", { timeout: 5_000 })]);
    const matched = await log.waitForPosted((e) => e.type === "form_submission" && e.form?.fields.email === "matched@example.com", "the lead of the matching page");
    expect(matched.form!.formId).toBe(formId);
    await context.close();
  });
});

describe("site key takeover", () => {
  it("a retired key cannot be claimed, and a page embedding it sends nothing to anyone", async () => {
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
