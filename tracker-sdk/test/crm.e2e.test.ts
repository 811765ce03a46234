/**
 * A lead from the browser to the CRMs, end to end: a form submitted in Chromium on the demo site goes through the
 * edge, the queue and the drain, and the backend's delivery worker sends it to the local Standard Webhooks
 * receiver (signature checked by the `standardwebhooks` verifier), HubSpot's and HighLevel's stand-ins (HighLevel
 * through the location's OAuth install), Salesforce's (JWT bearer flow, upsert by external id) and Zoho CRM's
 * (refresh token), with the field mappings applied; the lead then shows "delivered" with the CRM ids.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startHighLevelFake, type HighLevelFake } from "../../scripts/testing/fake-crm/highlevel.ts";
import { startHubSpotFake, type HubSpotFake } from "../../scripts/testing/fake-crm/hubspot.ts";
import { startSalesforceFake, type SalesforceFake } from "../../scripts/testing/fake-crm/salesforce.ts";
import { startZohoFake, type ZohoFake } from "../../scripts/testing/fake-crm/zoho.ts";
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
let salesforce: SalesforceFake;
let zoho: ZohoFake;
let token: string;
const SF_KEYS = generateKeyPairSync("rsa", { modulusLength: 2048 });
const SF = { clientId: "3MVG9e2e.consumer", user: "integration@agency.example" };
const ZOHO = { clientId: "1000.E2ECLIENT", clientSecret: randomBytes(8).toString("hex"), refreshToken: `1000.${randomBytes(8).toString("hex")}` };

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${e2e.stack.backend.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: WHSEC });
  hubspot = await startHubSpotFake({ tokens: [HUBSPOT_TOKEN] });
  highlevel = await startHighLevelFake({ clientId: HL.clientId, clientSecret: HL.clientSecret });
  salesforce = await startSalesforceFake({ clientId: SF.clientId, publicKey: SF_KEYS.publicKey.export({ type: "spki", format: "pem" }).toString(), users: [SF.user] });
  zoho = await startZohoFake({ clientId: ZOHO.clientId, clientSecret: ZOHO.clientSecret, refreshTokens: [{ token: ZOHO.refreshToken }] });
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
    {
      kind: "salesforce",
      name: "Salesforce",
      locationId: DEMO.locationId,
      config: { loginUrl: salesforce.url },
      secret: JSON.stringify({ flow: "jwt", clientId: SF.clientId, username: SF.user, privateKey: SF_KEYS.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }),
    },
    { kind: "zoho", name: "Zoho CRM", locationId: DEMO.locationId, config: { accountsUrl: zoho.url, apiUrl: zoho.url }, secret: JSON.stringify(ZOHO) },
  ]) {
    const made = await api("POST", "/v1/destinations", body);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
  }
});

afterAll(async () => {
  await e2e?.stop();
  await Promise.all([receiver?.stop(), hubspot?.stop(), highlevel?.stop(), salesforce?.stop(), zoho?.stop()]);
});

describe("a lead from the browser to the CRMs", () => {
  it("a form submitted on the demo site reaches the signed webhook, HubSpot, HighLevel, Salesforce and Zoho with the mapped fields, and the lead shows delivered with the CRM ids", async () => {
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
    const sf = await eventually(async () => salesforce.records("Lead").find((r) => r.fields.Email === "katherine.johnson@example.com"), 30_000, "the Salesforce lead");
    expect(sf.fields).toMatchObject({ FirstName: "Katherine", LastName: "Johnson", Description: "Please call about orbital mechanics.", Company: "[not provided]" });
    const zl = await eventually(async () => zoho.records("com", "Leads").find((r) => r.fields.Email === "katherine.johnson@example.com"), 30_000, "the Zoho lead");
    expect(zl.fields).toMatchObject({ First_Name: "Katherine", Last_Name: "Johnson", Description: "Please call about orbital mechanics." });

    const leadId = (hook.body as { data: { lead: { id: string } } }).data.lead.id;
    expect(sf.fields.Lead_Tracker_Id__c).toBe(leadId);
    const lead = await eventually(async () => {
      const res = await api("GET", `/v1/leads/${leadId}`);
      const sync = res.body.sync as { kind: string; status: string; externalId: string | null }[];
      return sync?.length === 5 && sync.every((s) => s.status === "delivered") ? sync : undefined;
    }, 30_000, "the lead to show delivered");
    expect(Object.fromEntries(lead.map((s) => [s.kind, s.externalId]))).toEqual({ webhook: null, hubspot: hs.id, highlevel: hl.id, salesforce: sf.Id, zoho: zl.id });

    // and the dashboard's lead page says so
    const dash = await e2e.browser.newContext();
    await dash.addInitScript((t) => sessionStorage.setItem("lead-tracker.token", t), token);
    const app = await dash.newPage();
    await app.goto(`${e2e.stack.appUrl}?view=lead/${leadId}`);
    const crm = app.locator('[data-testid="lead-crm"]');
    await crm.locator('[data-status="delivered"]').nth(4).waitFor();
    expect(await crm.locator("li").count()).toBe(5);
    for (const id of [hs.id, hl.id, sf.Id, zl.id]) expect(await crm.textContent()).toContain(id);
    await dash.close();
    await context.close();
  });
});
