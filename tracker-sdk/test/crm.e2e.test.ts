/**
 * A lead from the browser to the CRMs, end to end: a form submitted in Chromium on the demo site goes through the
 * edge, the queue and the drain, and the backend's delivery worker sends it to the local Standard Webhooks
 * receiver (signature checked by the `standardwebhooks` verifier), HubSpot's and HighLevel's stand-ins (HighLevel
 * through the location's OAuth install), with the field mappings applied; the lead then shows "delivered" with
 * the CRM ids.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startHighLevelFake, type HighLevelFake } from "../../scripts/testing/fake-crm/highlevel.ts";
import { startHubSpotFake, type HubSpotFake } from "../../scripts/testing/fake-crm/hubspot.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { sdkReady, startE2e, type E2e } from "./helpers.ts";

const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
const HUBSPOT_TOKEN = `pat-na1-${randomBytes(12).toString("hex")}`;
const HL = { clientId: "e2e-client", clientSecret: randomBytes(16).toString("hex") };
let e2e: E2e;
let receiver: WebhookReceiver;
let hubspot: HubSpotFake;
let highlevel: HighLevelFake;
let token: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${e2e.stack.backend.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: WHSEC });
  hubspot = await startHubSpotFake({ tokens: [HUBSPOT_TOKEN] });
  highlevel = await startHighLevelFake({ clientId: HL.clientId, clientSecret: HL.clientSecret });
  e2e = await startE2e("crm", { backendEnv: { HIGHLEVEL_CLIENT_ID: HL.clientId, HIGHLEVEL_CLIENT_SECRET: HL.clientSecret, HIGHLEVEL_API_URL: highlevel.url } });
  token = await mintToken(e2e.stack.jwtSecret, { sub: DEMO.agencyUserId });
  // the location installs the marketplace app: HighLevel sends its browser to our callback with a code
  const code = highlevel.issueAuthCode({ locationId: DEMO.locationExternalId, companyId: DEMO.companyExternalId });
  const installed = await fetch(`${e2e.stack.backend.url}/v1/integrations/highlevel/oauth/callback?code=${code}`);
  expect(installed.status).toBe(200);
  // mappings: the name field as the contact's name, the message as notes (email is mapped by the seed, lowercased)
  expect((await api("POST", "/v1/fields/00000000-0000-4000-8000-000000001001/mapping", { targetEntity: "contact", targetField: "name", transform: "trim" })).status).toBe(201);
  expect((await api("POST", "/v1/fields/00000000-0000-4000-8000-000000001003/mapping", { targetEntity: "contact", targetField: "notes", transform: "trim" })).status).toBe(201);
  for (const body of [
    { kind: "webhook", name: "Agency webhook", locationId: DEMO.locationId, config: { url: receiver.hookUrl("demo") }, secret: WHSEC },
    { kind: "hubspot", name: "HubSpot", locationId: DEMO.locationId, config: { baseUrl: hubspot.url }, secret: HUBSPOT_TOKEN },
    { kind: "highlevel", name: "HighLevel", locationId: DEMO.locationId, config: { baseUrl: highlevel.url } },
  ]) {
    const made = await api("POST", "/v1/destinations", body);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
  }
});

afterAll(async () => {
  await e2e?.stop();
  await Promise.all([receiver?.stop(), hubspot?.stop(), highlevel?.stop()]);
});

describe("a lead from the browser to the CRMs", () => {
  it("a form submitted on the demo site reaches the signed webhook, HubSpot and HighLevel with the mapped fields, and the lead shows delivered with the CRM ids", async () => {
    const context = await e2e.browser.newContext();
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await page.fill("#contact [name=name]", "  Katherine Johnson ");
    await page.fill("#contact [name=email]", "Katherine.Johnson@Example.com");
    await page.fill("#contact [name=message]", " Please call about orbital mechanics. ");
    await page.click("#contact button");

    const hook = await eventually(async () => receiver.unique("demo").find((d) => JSON.stringify(d.body).includes("katherine.johnson@example.com")), 30_000, "the signed webhook");
    expect(hook.type).toBe("lead.created");
    expect((hook.body as { data: { contact: unknown } }).data.contact).toMatchObject({
      email: "katherine.johnson@example.com",
      name: "Katherine Johnson",
      notes: "Please call about orbital mechanics.",
    });
    const hs = await eventually(async () => hubspot.contacts().find((c) => c.properties.email === "katherine.johnson@example.com"), 30_000, "the HubSpot contact");
    expect(hs.properties).toMatchObject({ firstname: "Katherine", lastname: "Johnson", message: "Please call about orbital mechanics." });
    const hl = await eventually(async () => highlevel.contacts(DEMO.locationExternalId).find((c) => c.email === "katherine.johnson@example.com"), 30_000, "the HighLevel contact");
    expect(hl).toMatchObject({ firstName: "Katherine", lastName: "Johnson" });

    const leadId = (hook.body as { data: { lead: { id: string } } }).data.lead.id;
    const lead = await eventually(async () => {
      const res = await api("GET", `/v1/leads/${leadId}`);
      const sync = res.body.sync as { kind: string; status: string; externalId: string | null }[];
      return sync?.length === 3 && sync.every((s) => s.status === "delivered") ? sync : undefined;
    }, 30_000, "the lead to show delivered");
    expect(Object.fromEntries(lead.map((s) => [s.kind, s.externalId]))).toEqual({ webhook: null, hubspot: hs.id, highlevel: hl.id });

    // and the dashboard's lead page says so
    const dash = await e2e.browser.newContext();
    await dash.addInitScript((t) => sessionStorage.setItem("lead-tracker.token", t), token);
    const app = await dash.newPage();
    await app.goto(`${e2e.stack.appUrl}?view=lead/${leadId}`);
    const crm = app.locator('[data-testid="lead-crm"]');
    await crm.locator('[data-status="delivered"]').nth(2).waitFor();
    expect(await crm.locator("li").count()).toBe(3);
    expect(await crm.textContent()).toContain(hs.id);
    expect(await crm.textContent()).toContain(hl.id);
    await dash.close();
    await context.close();
  });
});
