/**
 * Page views and engagement end to end: a single-page app's route changes (pushState, replaceState, popstate,
 * hashchange) in headless Chromium, one page_view per distinct URL; the engagement sent when the page is hidden;
 * and the SDK on a page without the loader.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeLog, flushSdk, ofType, sdkReady, startE2e, storedEvent, type E2e } from "./helpers.ts";

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e("nav");
});

afterAll(async () => {
  await e2e?.stop();
});

describe("navigation", () => {
  it("a single-page app sends one page_view per distinct URL, and its routes' engagement", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    const spa = e2e.fixture("spa");
    // The SDK reads a route change in a zero-delay timer, so changes within one task count once (as they should).
    // A test driving Chromium can change routes faster than that timer runs (a click, then Back, before it fires),
    // which no visitor can: each step waits until its page view has left the page before the next one.
    const sent = (url: string) => ofType(log.posted(), "page_view").filter((e) => e.page!.url === url).length;
    const step = async (act: () => Promise<unknown>, url: string): Promise<void> => {
      const before = sent(url);
      await act();
      await expect.poll(async () => (await flushSdk(page), sent(url)), { timeout: 10_000, interval: 100 }).toBeGreaterThan(before);
    };
    await page.goto(spa);
    await sdkReady(page);
    await step(() => page.click("a[data-route=pricing]"), `${spa}?route=pricing`); // pushState
    expect(await page.title()).toBe("SPA pricing");
    await page.evaluate(() => history.replaceState({ route: "pricing", scrolled: true }, "", location.href)); // same URL
    await step(() => page.evaluate(() => (location.hash = "#faq")), `${spa}?route=pricing#faq`); // hashchange (and popstate)
    await step(() => page.click("a[data-route=about]"), `${spa}?route=about`);
    await step(() => page.goBack(), `${spa}?route=pricing#faq`); // popstate: back to #faq
    await page.waitForTimeout(200);
    await flushSdk(page);

    const expected = [spa, `${spa}?route=pricing`, `${spa}?route=pricing#faq`, `${spa}?route=about`, `${spa}?route=pricing#faq`];
    await log.waitFor(() => ofType(log.accepted(), "page_view").length >= expected.length, "five page views");
    await page.waitForTimeout(300);
    const views = ofType(log.accepted(), "page_view");
    expect(views.map((e) => e.page!.url)).toEqual(expected);
    expect(views[1]!.page).toMatchObject({ title: "SPA pricing", referrer: spa });
    expect(new Set(views.map((e) => e.sessionId)).size).toBe(1);

    // leaving a route reports the time spent on it
    const engagement = ofType(log.accepted(), "engagement");
    expect(engagement.map((e) => e.page!.url)).toEqual(expected.slice(0, 4));
    for (const e of engagement) expect(e.props!.engagedMs).toBeGreaterThan(0);
    await storedEvent(e2e, views[4]!.id);
    await context.close();
  });

  it("sends an engagement event with the visible time when the page is hidden", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await page.waitForTimeout(1500);
    // Chromium's headless tabs stay visible: hide this one the way a tab switch does, for the page's scripts.
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      Object.defineProperty(document, "hidden", { value: true, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const engagement = await log.waitFor((e) => e.type === "engagement", "the engagement event");
    expect(engagement.page!.url).toBe(e2e.stack.demoUrl);
    expect(engagement.props!.engagedMs).toBeGreaterThanOrEqual(1500);
    expect(engagement.props!.engagedMs).toBeLessThan(30_000);
    await storedEvent(e2e, engagement.id);
    await context.close();
  });

  it("works without the loader: site key from the script tag, edge from its origin, calls queued before it loaded", async () => {
    const context = await e2e.browser.newContext();
    const log = new EdgeLog(context);
    const page = await context.newPage();
    await page.goto(e2e.fixture("no-loader"));
    const view = await log.waitFor((e) => e.type === "page_view", "the page view");
    expect(view.page!.title).toBe("Without the loader");
    const queued = await log.waitFor((e) => e.type === "track", "the queued track call");
    expect(queued).toMatchObject({ name: "queued before load", props: { from: "stub" } });
    expect(log.posts[0]!.request.url()).toBe(`${e2e.stack.edge.url}/v1/events`);
    await storedEvent(e2e, view.id);
    await context.close();
  });
});
