/**
 * Leads end to end, in headless Chromium on fixture pages served from the demo origin: what the SDK posts to the
 * Worker for plain, cancelled, invalid, AJAX, late-rendered, multi-step and redirect-after-submit forms, and the
 * submissions followed through the queue and the backend into MongoDB.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext } from "playwright-core";
import { DEMO } from "../../scripts/lib/seed.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { delivered, EdgeLog, flushSdk, ofType, sdkReady, sentBy, startE2e, storedEvent, storedWhere, type E2e } from "./helpers.ts";

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e("forms");
});

afterAll(async () => {
  await e2e?.stop();
});

async function open(): Promise<{ context: BrowserContext; log: EdgeLog }> {
  const context = await e2e.browser.newContext();
  return { context, log: new EdgeLog(context) };
}

const onThanks = (url: string | undefined): boolean => Boolean(url?.includes("/fixtures/thanks.html"));

describe("forms, browser to MongoDB", () => {
  it("a plain form's lead reaches the Worker without its sensitive fields, and lands in MongoDB", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("plain-form"));
    await sdkReady(page);
    await page.fill("#quote [name=full_name]", "Ada Lovelace");
    await page.fill("#quote [name=email]", "ada@example.com");
    await page.fill("#quote [name=phone]", "+44 20 7946 0000");
    await page.fill("#quote [name=password]", "hunter2");
    await page.fill("#quote [name=card_number]", "4111 1111 1111 1111");
    await page.fill("#quote [name=notes]", "Mornings are best");
    await page.fill("#quote [name=private_note]", "do not send this");
    await Promise.all([page.waitForURL(/thanks/), page.click("#quote button")]);

    const { event: lead, doc } = await delivered(e2e, log, (e) => e.type === "form_submission", "the lead");
    expect(lead.form).toMatchObject({
      formId: "quote",
      trigger: "submit",
      fields: { full_name: "Ada Lovelace", email: "ada@example.com", phone: "+44 20 7946 0000", notes: "Mornings are best" },
    });
    expect(Object.keys(lead.form!.fields).sort()).toEqual(["email", "full_name", "notes", "phone"]);
    expect(JSON.stringify(log.posted())).not.toMatch(/hunter2|4111 ?1111 ?1111|token-123|do not send/);

    expect(doc).toMatchObject({ siteId: DEMO.siteId, type: "form_submission", visitorId: lead.visitorId, sessionId: lead.sessionId });
    expect(doc.form).toMatchObject({ formId: "quote", fields: { email: "ada@example.com" } });
    expect(JSON.stringify(doc)).not.toMatch(/hunter2|4111 ?1111 ?1111|token-123|do not send/);
    expect(await e2e.mongo.db.collection("events").countDocuments({ eventId: lead.id })).toBe(1);
    await context.close();
  });

  it("the form page itself delivers its lead before it navigates (the next page has no tracker to re-send it)", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("plain-form"));
    await sdkReady(page);
    await page.evaluate(() => document.querySelector("#quote")!.setAttribute("action", "/fixtures/no-tracker.html"));
    await page.fill("#quote [name=email]", "solo@example.com");
    await Promise.all([page.waitForURL(/no-tracker/), page.click("#quote button")]);

    const { event: lead } = await delivered(e2e, log, (e) => e.type === "form_submission", "the lead");
    expect(lead.form).toMatchObject({ formId: "quote", fields: { email: "solo@example.com" } });
    // one request carried it, and Chromium says it did not finish: the edge got it all the same
    expect(log.posts.filter((p) => p.events.some((e) => e.id === lead.id)).map((p) => p.status)).toEqual([0]);
    await context.close();
  });

  it("a partial lead typed just before the visitor leaves goes with the page", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("plain-form"));
    await sdkReady(page);
    await page.fill("#quote [name=full_name]", "Quinn Quick");
    await page.fill("#quote [name=email]", "quinn@example.com");
    await page.press("#quote [name=email]", "Tab"); // focusout: the partial lead's one-second debounce starts
    const typed = Date.now();
    await page.evaluate(() => (location.href = "/fixtures/no-tracker.html"));
    const left = Date.now() - typed;
    await page.waitForURL(/no-tracker/);
    expect(left).toBeLessThan(200); // well inside the debounce: only pagehide can have sent it

    // sent from pagehide: Chromium does not even report that request, so MongoDB is where to look
    const doc = await storedWhere(e2e, { type: "form_interaction", "form.fields.email": "quinn@example.com" }, "the partial lead");
    await sentBy(log, doc, "the partial lead");
    expect(doc.form).toMatchObject({ formId: "quote", fields: { full_name: "Quinn Quick", email: "quinn@example.com" } });
    const lead = await eventually(async () => (await e2e.mongo.db.collection("leads").findOne({ email: "quinn@example.com" })) ?? undefined, 20_000, "the partial lead");
    expect(lead).toMatchObject({ status: "partial" });
    await context.close();
  });

  it("cancelled submits and submits that fail checkValidity() are not leads", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("plain-form"));
    await sdkReady(page);
    await page.fill("#cancelled [name=email]", "cancel@example.com");
    await page.click("#cancelled button");
    await page.waitForSelector("body[data-validation=failed]");
    await page.fill("#invalid [name=name]", "No Email");
    // novalidate: the browser posts the invalid form and the thank-you page loads
    await Promise.all([page.waitForURL(/thanks/), page.click("#invalid button")]);
    await log.waitFor((e) => e.type === "page_view" && onThanks(e.page?.url), "the thank-you page's view");
    await flushSdk(page);
    await page.waitForTimeout(500);
    expect(ofType(log.posted(), "form_submission")).toEqual([]);
    await context.close();
  });

  it("an AJAX form is a lead once the page's own request succeeds, with the fields as submitted", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("ajax-form"));
    await sdkReady(page);
    await page.fill("#callback [name=name]", "Grace Hopper");
    await page.fill("#callback [name=email]", "grace@example.com");
    await page.fill("#callback [name=phone]", "555-0100");
    await page.click("#callback button");
    await page.waitForSelector("#status:text('callback:200')");
    expect(await page.inputValue("#callback [name=email]")).toBe(""); // the page reset the form

    const lead = await log.waitFor((e) => e.type === "form_submission", "the AJAX lead");
    expect(lead.form).toMatchObject({
      formId: "callback",
      trigger: "ajax",
      fields: { name: "Grace Hopper", email: "grace@example.com", phone: "555-0100" },
    });
    await storedEvent(e2e, lead.id);

    // the server refuses this one (422): not a lead, not even when the page goes
    await page.fill("#refused [name=email]", "refused@example.com");
    await page.click("#refused button");
    await page.waitForSelector("#status:text('refused:422')");
    await page.goto(e2e.fixture("thanks"));
    await log.waitFor((e) => e.type === "page_view" && onThanks(e.page?.url), "the next page's view");
    expect(ofType(log.posted(), "form_submission").map((e) => e.form!.formId)).toEqual(["callback"]);
    await context.close();
  });

  it("a configured form rendered after load is captured, with its configured fields", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("late-form"));
    await sdkReady(page);
    await page.waitForSelector("body[data-rendered]");
    await page.fill("#contact [name=name]", "Lin Late");
    await page.fill("#contact [name=email]", "lin@example.com");
    await page.fill("#contact [name=message]", "Rendered late");
    await page.fill("#contact [name=company]", "Not configured Ltd");
    await Promise.all([page.waitForURL(/thanks/), page.click("#contact button")]);

    const { event: lead } = await delivered(e2e, log, (e) => e.type === "form_submission", "the lead");
    expect(lead.form).toEqual({
      formId: DEMO.formId,
      name: "Contact",
      trigger: "submit",
      fields: { name: "Lin Late", email: "lin@example.com", message: "Rendered late" },
      progress: { completed: ["name", "email", "message"], total: 3, percent: 100 },
    });
    await context.close();
  });

  it("a multi-step form sends a partial lead after the email, then a lead with every step's fields", async () => {
    const { context, log } = await open();
    const page = await context.newPage();
    await page.goto(e2e.fixture("multi-step"));
    await sdkReady(page);
    await page.fill("[name=email]", "max@example.com");
    await page.click("#next"); // blurs the email field, then step 2 replaces step 1
    await page.waitForTimeout(1200); // the partial lead is debounced by a second
    await flushSdk(page);
    const partial = await log.waitFor((e) => e.type === "form_interaction", "the partial lead");
    expect(partial.form).toMatchObject({ formId: "wizard", fields: { email: "max@example.com" } });
    expect(partial.form!.progress!.completed).toContain("email");
    expect(partial.form!.progress!.total).toBe(4);
    await storedEvent(e2e, partial.id);

    await page.fill("[name=name]", "Max Steps");
    await page.fill("[name=phone]", "+1 555 0199");
    await page.selectOption("[name=service]", "Install");
    await Promise.all([page.waitForURL(/thanks/), page.click("#send")]);
    const { event: lead } = await delivered(e2e, log, (e) => e.type === "form_submission", "the lead");
    expect(lead.form).toMatchObject({
      formId: "wizard",
      fields: { email: "max@example.com", name: "Max Steps", phone: "+1 555 0199", service: "Install" },
      progress: { total: 4, percent: 100 },
    });
    await context.close();
  });

  it("a submission whose send is lost as the page redirects is re-sent by the next page and stored once", async () => {
    const { context, log } = await open();
    // Lose every send of the lead made by the form page itself: only the thank-you page's load can deliver it.
    await context.route("**/v1/events", (route) => {
      const events = JSON.parse(route.request().postData() ?? "{}").events ?? [];
      const fromFormPage = events.some((e: { type: string }) => e.type === "form_submission") && !events.some((e: { page?: { url: string } }) => onThanks(e.page?.url));
      return fromFormPage ? route.abort("connectionreset") : route.continue();
    });
    const page = await context.newPage();
    await page.goto(e2e.fixture("redirect-form"));
    await sdkReady(page);
    await page.fill("[name=name]", "Rita Redirect");
    await page.fill("[name=email]", "rita@example.com");
    await page.fill("[name=message]", "303 then thanks");
    await Promise.all([page.waitForURL(/thanks/), page.click("button")]);

    const lead = await log.waitFor((e) => e.type === "form_submission", "the lead, re-sent");
    const carrier = log.posts.find((p) => p.status === 202 && p.events.some((e) => e.id === lead.id))!;
    expect(carrier.events.some((e) => e.type === "page_view" && onThanks(e.page?.url))).toBe(true);
    expect(log.posts.filter((p) => p.status === 0 && p.events.some((e) => e.id === lead.id)).length).toBeGreaterThanOrEqual(1);
    expect(lead.form).toMatchObject({ formId: DEMO.formId, fields: { email: "rita@example.com", message: "303 then thanks" } });

    await storedEvent(e2e, lead.id);
    expect(await e2e.mongo.db.collection("events").countDocuments({ eventId: lead.id })).toBe(1);
    await context.close();
  });
});
