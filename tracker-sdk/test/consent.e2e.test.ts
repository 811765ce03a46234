/**
 * Consent end to end: the demo site switched to opt-in through the admin API (and then to honouring privacy
 * signals), the loader carrying it to the SDK in headless Chromium, and what the browser stores and sends before
 * and after the visitor's decision.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { SiteConfig, SiteSettings } from "#contracts";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { EdgeLog, flushSdk, sdkReady, startE2e, storedEvent, type E2e } from "./helpers.ts";

let e2e: E2e;

/** Changes the demo site's settings and waits until the edge serves them. */
async function setSettings(settings: SiteSettings): Promise<void> {
  const token = await mintToken(e2e.stack.jwtSecret, { sub: DEMO.agencyUserId });
  const res = await fetch(`${e2e.stack.backend.url}/v1/sites/${DEMO.siteId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ settings }),
  });
  expect(res.status).toBe(200);
  await eventually(
    async () => {
      const config = (await (await fetch(`${e2e.stack.edge.url}/v1/config/demo-site`)).json()) as SiteConfig;
      return config.consent.mode === settings.consentMode && config.consent.respectDoNotTrack === !!settings.respectDoNotTrack ? true : undefined;
    },
    10_000,
    "the edge to serve the new settings",
  );
  await new Promise((r) => setTimeout(r, 600)); // the Worker keeps a config in memory for 0.5 s
}

/** Everything the page's origin keeps: localStorage, sessionStorage and cookies. */
const kept = (page: Page): Promise<string[]> =>
  page.evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage), ...(document.cookie ? [document.cookie] : [])]);

const call = (page: Page, ...args: unknown[]): Promise<void> =>
  page.evaluate((a) => (window as unknown as { LeadTracker: (...x: unknown[]) => void }).LeadTracker(...a), args);

beforeAll(async () => {
  e2e = await startE2e("consent");
  await setSettings({ consentMode: "opt-in" });
});

afterAll(async () => {
  await e2e?.stop();
});

describe("consent", () => {
  it("opt-in: nothing is stored or sent before consent; then what was kept is sent, and the grant is remembered", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await call(page, "track", "before consent");
    await page.fill("[name=email]", "early@example.com");
    await page.click("[name=message]");
    await flushSdk(page);
    await page.waitForTimeout(1500);
    expect(log.posts).toEqual([]);
    expect(await kept(page)).toEqual([]);

    await call(page, "consent", "granted");
    const tracked = await log.waitFor((e) => e.name === "before consent", "the events kept before consent");
    expect(log.accepted().map((e) => e.type)).toEqual(expect.arrayContaining(["session_start", "page_view", "track"]));
    expect(await kept(page)).toEqual(expect.arrayContaining(["lt_vid", "lt_sid", "lt_c"]));
    await storedEvent(e2e, tracked.id);

    // the next page knows the visitor said yes
    await page.reload();
    await log.waitFor((e) => e.type === "page_view" && e.visitorId === tracked.visitorId && e.consent === "granted", "the next page's view");
    await context.close();
  });

  it("opt-in: after a denial nothing is stored or sent", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await call(page, "consent", "denied");
    await call(page, "track", "after denial");
    await flushSdk(page);
    await page.reload();
    await sdkReady(page);
    await flushSdk(page);
    await page.waitForTimeout(1500);
    expect(log.posts).toEqual([]);
    expect(await kept(page)).toEqual([]);
    await context.close();
  });

  it("with respectDoNotTrack, a Global Privacy Control signal keeps tracking off even after a grant", async () => {
    await setSettings({ consentMode: "opt-in", respectDoNotTrack: true });
    const gpc = await e2e.browser.newContext();
    await gpc.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
    const blocked = new EdgeLog(gpc);
    const page = await gpc.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await call(page, "consent", "granted");
    await flushSdk(page);
    await page.waitForTimeout(1500);
    expect(blocked.posts).toEqual([]);
    expect(await kept(page)).toEqual([]);
    await gpc.close();

    // the same settings without the signal: a grant tracks
    const plain = await e2e.browser.newContext();
    const log = new EdgeLog(plain);
    const other = await plain.newPage();
    await other.goto(e2e.stack.demoUrl);
    await sdkReady(other);
    await call(other, "consent", "granted");
    await log.waitFor((e) => e.type === "page_view", "the page view after a grant");
    await plain.close();
  });
});
