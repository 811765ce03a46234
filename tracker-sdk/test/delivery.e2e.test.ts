/**
 * Delivery end to end in headless Chromium: offline then online, a tab closed while offline, 429 with
 * Retry-After, storage that throws, and a browser without fetch. Each time: what reaches the Worker, once per
 * event id, and what MongoDB stores.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { EdgeLog, flushSdk, sdkReady, startE2e, storedEvent, type E2e } from "./helpers.ts";

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e("delivery");
});

afterAll(async () => {
  await e2e?.stop();
});

const track = (page: Page, name: string): Promise<void> =>
  page.evaluate((n) => (window as unknown as { LeadTracker: (...a: unknown[]) => void }).LeadTracker("track", n), name);

/** Collects uncaught errors of every page in the context: the SDK must never add one. */
function pageErrors(context: BrowserContext): Error[] {
  const errors: Error[] = [];
  context.on("page", (p) => p.on("pageerror", (e) => errors.push(e)));
  return errors;
}

describe("delivery", () => {
  it("keeps events while offline and sends them once when back online", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await log.waitFor((e) => e.type === "page_view", "the page view");
    await context.setOffline(true);
    await track(page, "offline 1");
    await track(page, "offline 2");
    await flushSdk(page);
    await page.waitForTimeout(1000);
    expect(log.accepted().filter((e) => e.type === "track")).toEqual([]);
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("lt_q")).map((k) => localStorage.getItem(k)));
    expect(stored.join()).toContain("offline 2");

    await context.setOffline(false);
    const second = await log.waitFor((e) => e.name === "offline 2", "the offline events, once online");
    const tracked = log.accepted().filter((e) => e.type === "track");
    expect(tracked.map((e) => e.name)).toEqual(["offline 1", "offline 2"]);
    await storedEvent(e2e, second.id);
    await context.close();
  });

  it("sends the events of a tab closed while offline with the next page load", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const first = await context.newPage();
    await first.goto(e2e.stack.demoUrl);
    await sdkReady(first);
    await log.waitFor((e) => e.type === "page_view", "the first page view");
    await context.setOffline(true);
    await track(first, "from the closed tab");
    const next = await context.newPage(); // another tab, with a session (and tab id) of its own
    const closed = new Promise((resolve) => first.once("close", resolve));
    await first.close({ runBeforeUnload: true });
    await closed;
    await context.setOffline(false);
    await next.goto(e2e.fixture("thanks"));
    const adopted = await log.waitFor((e) => e.name === "from the closed tab", "the closed tab's event");
    const carrier = log.posts.find((p) => p.status === 202 && p.events.some((e) => e.id === adopted.id))!;
    expect(carrier.events.some((e) => e.type === "page_view" && e.page!.url.includes("thanks"))).toBe(true);
    await storedEvent(e2e, adopted.id);
    await context.close();
  });

  it("waits as long as a 429's Retry-After asks, then re-sends the same events", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const origin = new URL(e2e.stack.demoUrl).origin;
    let limited = 0;
    await context.route("**/v1/events", (route) => {
      if (limited++ > 0) return route.continue();
      return route.fulfill({
        status: 429,
        headers: { "retry-after": "2", "access-control-allow-origin": origin, "access-control-expose-headers": "Retry-After" },
        contentType: "application/json",
        body: '{"error":"rate_limited"}',
      });
    });
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    const view = await log.waitFor((e) => e.type === "page_view", "the page view, after the wait");
    const [refused, accepted] = log.posts.filter((p) => p.events.some((e) => e.id === view.id));
    expect(refused!.status).toBe(429);
    expect(accepted!.status).toBe(202);
    expect(accepted!.events.map((e) => e.id)).toEqual(refused!.events.map((e) => e.id));
    const waited = JSON.parse(accepted!.request.postData()!).sentAt - JSON.parse(refused!.request.postData()!).sentAt;
    expect(waited).toBeGreaterThanOrEqual(2000);
    expect(waited).toBeLessThan(4000);
    await storedEvent(e2e, view.id);
    expect(await e2e.mongo.db.collection("events").countDocuments({ eventId: view.id })).toBe(1);
    await context.close();
  });

  it("works when storage throws (Safari private mode), leads included, and throws nothing into the page", async () => {
    const context = await e2e.browser.newContext();
    const errors = pageErrors(context);
    await context.addInitScript(() => {
      for (const name of ["localStorage", "sessionStorage"]) {
        Object.defineProperty(window, name, {
          configurable: true,
          get() {
            throw new DOMException("The operation is insecure.", "SecurityError");
          },
        });
      }
    });
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.fixture("plain-form"));
    await sdkReady(page);
    const view = await log.waitFor((e) => e.type === "page_view", "the page view");
    await page.fill("#quote [name=email]", "private@example.com");
    await Promise.all([page.waitForURL(/thanks/), page.click("#quote button")]);
    // Sent by the form page as it navigates (nothing could keep it for the next page): MongoDB tells it arrived.
    const lead = await log.waitForPosted((e) => e.type === "form_submission", "the lead");
    expect(lead.form!.fields).toEqual({ email: "private@example.com" });
    // without storage the visitor id lasts one page
    const next = await log.waitFor((e) => e.type === "page_view" && e.page!.url.includes("thanks"), "the next view");
    expect(next.visitorId).not.toBe(view.visitorId);
    await storedEvent(e2e, lead.id);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("falls back to sendBeacon where fetch is missing", async () => {
    const context = await e2e.browser.newContext();
    const errors = pageErrors(context);
    await context.addInitScript(() => {
      (window as unknown as { fetch?: unknown }).fetch = undefined;
    });
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await track(page, "beaconed");
    await flushSdk(page);
    const sent = await log.waitFor((e) => e.name === "beaconed", "the beaconed event");
    const post = log.posts.find((p) => p.events.some((e) => e.id === sent.id))!;
    expect(post.request.resourceType()).toBe("ping");
    await storedEvent(e2e, sent.id);
    expect(errors).toEqual([]);
    await context.close();
  });
});
