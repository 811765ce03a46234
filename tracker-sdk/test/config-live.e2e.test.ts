/**
 * A tenant's edit reaches the page: headless Chromium has the demo page open; the form's selector is changed
 * through the admin API; on the page's next load (once the 5 s browser cache of the loader has lapsed) the loader
 * carries the new config.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import type { SiteConfig } from "#contracts";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { launchBrowser } from "../../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: uniqueDbName("live"), mariadbDb: uniqueDbName("live") });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const pageConfig = () => (window as unknown as { LeadTracker: { c: SiteConfig } }).LeadTracker.c;

describe("live config", () => {
  it("an edit through the admin API is in the page's next load", async () => {
    const page = await browser.newPage();
    await page.goto(stack.demoUrl);
    await page.waitForFunction(() => Boolean((window as unknown as { LeadTracker?: { c?: unknown } }).LeadTracker?.c));
    const firstLoad = Date.now();
    const before = await page.evaluate(pageConfig);
    expect(before.forms[0]!.selector).toBe("#contact");

    const token = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });
    const res = await fetch(`${stack.backend.url}/v1/forms/${DEMO.formId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ selector: "#contact-v2", alternativeSelectors: ["form.contact"] }),
    });
    expect(res.status).toBe(200);

    await eventually(async () => {
      const r = await fetch(`${stack.edge.url}/v1/config/demo-site`);
      const c = (await r.json()) as SiteConfig;
      return c.forms[0]!.selector === "#contact-v2" ? true : undefined;
    }, 10_000, "the edge to serve the edit");
    // The browser may reuse the loader for max-age=5 s after the first load.
    await new Promise((r) => setTimeout(r, Math.max(0, firstLoad + 5200 - Date.now())));

    await page.reload();
    await page.waitForFunction(() => Boolean((window as unknown as { LeadTracker?: { c?: unknown } }).LeadTracker?.c));
    const after = await page.evaluate(pageConfig);
    expect(after.forms[0]).toMatchObject({ selector: "#contact-v2", alternativeSelectors: ["form.contact"] });
    expect(after.version).toBeGreaterThan(before.version);
    await page.close();
  });
});
