/**
 * End to end on real parts: headless Chromium opens the demo page, the SDK sends a page_view to the Worker on
 * miniflare, the local queue hands it to the backend, and the document lands in MongoDB.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { connectMongo, type Mongo } from "../../backend-consumer/src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { launchBrowser } from "../../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { metricTotal, queueStats } from "../../scripts/testing/stack.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

let stack: Stack;
let browser: Browser;
let mongo: Mongo;

beforeAll(async () => {
  const dbName = uniqueDbName("e2e");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, siteKey: "demo-site" });
  mongo = await connectMongo(stack.mongo.url, dbName);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

describe("page view, browser to MongoDB", () => {
  it("stores the demo page's page_view with the expected fields", async () => {
    const eventsBefore = await metricTotal(stack, "tracker_drain_events_total");
    const storedBefore = await metricTotal(stack, "tracker_drain_messages_total");
    const page = await browser.newPage();
    const sent = page.waitForRequest((r) => r.url().endsWith("/v1/events") && r.method() === "POST");
    await page.goto(stack.demoUrl);
    const request = await sent;
    expect(request.headers()["content-type"]).toMatch(/^text\/plain/);
    // The first batch of a new visitor: session_start (with the attribution), then the page_view.
    const [start, event] = JSON.parse(request.postData()!).events;
    expect(start).toMatchObject({ type: "session_start", sessionId: event.sessionId, attribution: { landingPage: stack.demoUrl } });
    expect(event.type).toBe("page_view");

    const events = mongo.db.collection("events");
    const doc = await eventually(async () => (await events.findOne({ eventId: event.id })) ?? undefined, 15_000, "the page_view document");
    expect(doc).toMatchObject({
      siteId: DEMO.siteId,
      type: "page_view",
      sessionId: event.sessionId,
      visitorId: event.visitorId,
      page: { url: stack.demoUrl, path: "/", title: "Acme Plumbing — demo site" },
      ip: "127.0.0.0",
    });
    expect(doc.eventId).toMatch(/^[0-9a-f-]{36}$/);
    // what an operator scraping /metrics sees while the demo page is used
    // (counted once the batch is settled, just after its documents are written)
    await eventually(async () => ((await metricTotal(stack, "tracker_drain_events_total")) >= eventsBefore + 2 ? true : undefined), 5_000, "tracker_drain_events_total to count the batch");
    expect(await metricTotal(stack, "tracker_drain_messages_total")).toBeGreaterThan(storedBefore);
    expect(doc.ua).toContain("HeadlessChrome");
    expect(doc.ts).toBeInstanceOf(Date);
    expect(doc.receivedAt.getTime()).toBeGreaterThanOrEqual(doc.ts.getTime() - 60_000);

    // A second view in the same tab keeps the visitor and session, with a new event id.
    // (The page leaving sends its engagement first: wait for the batch with the new view.)
    const again = page.waitForRequest((r) => r.url().endsWith("/v1/events") && r.postData()!.includes('"type":"page_view"'));
    await page.reload();
    const second = JSON.parse((await again).postData()!).events.find((e: { type: string }) => e.type === "page_view");
    expect(second.visitorId).toBe(event.visitorId);
    expect(second.sessionId).toBe(event.sessionId);
    expect(second.id).not.toBe(event.id);
    await page.close();
  });

  it("stores one document when the same batch is posted twice", async () => {
    const event = {
      id: crypto.randomUUID(),
      type: "page_view",
      ts: Date.now(),
      sessionId: "s-dup",
      visitorId: "v-dup",
      page: { url: "https://shop.example/" },
    };
    const body = JSON.stringify({ siteKey: "demo-site", events: [event] });
    const before = await queueStats(stack);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${stack.edge.url}/v1/events`, { method: "POST", body, headers: { "content-type": "text/plain", origin: stack.demoUrl.replace(/\/$/, "") } });
      expect(res.status).toBe(202);
    }
    // Both requests became their own queue message; wait until the backend has acked both.
    await eventually(async () => ((await queueStats(stack)).acked >= before.acked + 2 ? true : undefined), 15_000, "two acks");
    expect(await mongo.db.collection("events").countDocuments({ eventId: event.id })).toBe(1);
  });
});
