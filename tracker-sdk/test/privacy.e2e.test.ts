/**
 * Erasing a person, end to end: a visitor fills the demo form in Chromium and identifies with a phone number; the
 * lead reaches the signed webhook, HubSpot and HighLevel stand-ins. Then an agency user erases the person by email
 * through the API. Afterwards nothing in any MongoDB collection, in what the CRM stand-ins hold, in the backend's
 * and the edge's logs, or in the audit trail contains the email, the name or the phone; the receipt lists what
 * was removed; and the same visitor coming back makes no lead again (suppression).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startHighLevelFake, type HighLevelFake } from "../../scripts/testing/fake-crm/highlevel.ts";
import { startHubSpotFake, type HubSpotFake } from "../../scripts/testing/fake-crm/hubspot.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../scripts/testing/fake-crm/webhook-receiver.ts";
import { eventually } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR } from "../../scripts/testing/ports.ts";
import { metricTotal } from "../../scripts/testing/stack.ts";
import { sdkReady, startE2e, type E2e } from "./helpers.ts";

const WHSEC = `whsec_${randomBytes(32).toString("base64")}`;
const HUBSPOT_TOKEN = `pat-na1-${randomBytes(12).toString("hex")}`;
const HL = { clientId: "privacy-client", clientSecret: randomBytes(16).toString("hex") };
const tag = randomBytes(4).toString("hex");
// values distinctive enough that finding one anywhere can only mean it was kept
const PERSON = { first: `Zebulon${tag}`, last: "Quattlebaum", email: `zeb.q.${tag}@example.com`, phone: `+1 555 ${Math.floor(Math.random() * 9000 + 1000)} 88` };
const NEEDLES = [PERSON.email, PERSON.first, PERSON.last, PERSON.phone];
let e2e: E2e;
let receiver: WebhookReceiver;
let hubspot: HubSpotFake;
let highlevel: HighLevelFake;
let token: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${e2e.stack.backend.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** Which of the person's values `text` holds (case-insensitive). */
const found = (text: string): string[] => NEEDLES.filter((n) => text.toLowerCase().includes(n.toLowerCase()));

async function everyMongoDocument(): Promise<string> {
  const parts: string[] = [];
  for (const { name } of await e2e.mongo.db.listCollections().toArray()) {
    for (const doc of await e2e.mongo.db.collection(name).find({}).toArray()) parts.push(`${name}: ${JSON.stringify(doc)}`);
  }
  return parts.join("\n");
}

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: WHSEC });
  hubspot = await startHubSpotFake({ tokens: [HUBSPOT_TOKEN] });
  highlevel = await startHighLevelFake({ clientId: HL.clientId, clientSecret: HL.clientSecret });
  e2e = await startE2e("privacy", { backendEnv: { HIGHLEVEL_CLIENT_ID: HL.clientId, HIGHLEVEL_CLIENT_SECRET: HL.clientSecret, HIGHLEVEL_API_URL: highlevel.url } });
  token = await mintToken(e2e.stack.jwtSecret, { sub: DEMO.agencyUserId });
  const code = highlevel.issueAuthCode({ locationId: DEMO.locationExternalId, companyId: DEMO.companyExternalId });
  expect((await fetch(`${e2e.stack.backend.url}/v1/integrations/highlevel/oauth/callback?code=${code}`)).status).toBe(200);
  expect((await api("POST", "/v1/fields/00000000-0000-4000-8000-000000001001/mapping", { targetEntity: "contact", targetField: "name", transform: "trim" })).status).toBe(201);
  for (const body of [
    { kind: "webhook", name: "Agency webhook", locationId: DEMO.locationId, config: { url: receiver.hookUrl("demo") }, secret: WHSEC },
    { kind: "hubspot", name: "HubSpot", locationId: DEMO.locationId, config: { baseUrl: hubspot.url }, secret: HUBSPOT_TOKEN },
    { kind: "highlevel", name: "HighLevel", locationId: DEMO.locationId, config: { baseUrl: highlevel.url } },
  ]) {
    const made = await api("POST", "/v1/destinations", body);
    expect(made.status, made.text).toBe(201);
  }
});

afterAll(async () => {
  await e2e?.stop();
  await Promise.all([receiver?.stop(), hubspot?.stop(), highlevel?.stop()]);
});

describe("erasing a person", () => {
  it("leaves nothing of them in MongoDB, the CRMs, the logs or the audit trail, and their next visit makes no lead", async () => {
    const context = await e2e.browser.newContext();
    const page = await context.newPage();
    await page.goto(e2e.stack.demoUrl);
    await sdkReady(page);
    await page.evaluate((p) => (window as unknown as { LeadTracker: (...a: unknown[]) => void }).LeadTracker("identify", p.email, { phone: p.phone }), PERSON);
    await page.fill("#contact [name=name]", `${PERSON.first} ${PERSON.last}`);
    await page.fill("#contact [name=email]", PERSON.email);
    await page.fill("#contact [name=message]", `Call me on ${PERSON.phone}`);
    await page.click("#contact button");

    // delivered everywhere first, so the erase has something to reach
    const hook = await eventually(async () => receiver.unique("demo").find((d) => found(JSON.stringify(d.body)).length > 0), 30_000, "the signed webhook");
    const leadId = (hook.body as { data: { lead: { id: string } } }).data.lead.id;
    await eventually(async () => hubspot.contacts().find((c) => c.properties.email === PERSON.email), 30_000, "the HubSpot contact");
    await eventually(async () => highlevel.contacts(DEMO.locationExternalId).find((c) => c.email === PERSON.email), 30_000, "the HighLevel contact");
    await eventually(async () => {
      const sync = (await api("GET", `/v1/leads/${leadId}`)).body.sync as { status: string }[] | undefined;
      return sync?.length === 3 && sync.every((s) => s.status === "delivered") ? true : undefined;
    }, 30_000, "the lead to show delivered");
    expect(found(await everyMongoDocument())).toEqual(NEEDLES);

    // the export names everything about them first
    const exported = await api("GET", `/v1/privacy/export?email=${encodeURIComponent(PERSON.email.toUpperCase())}`);
    expect(exported.status).toBe(200);
    const dump = JSON.parse(exported.text) as { leads: { _id: string }[]; events: unknown[]; sessions: unknown[]; crmDeliveries: unknown[] };
    expect(dump.leads.map((l) => l._id)).toEqual([leadId]);
    expect(dump.events.length).toBeGreaterThanOrEqual(4); // session_start, page_view, identify, form events
    expect(dump.sessions).toHaveLength(1);
    expect(dump.crmDeliveries).toHaveLength(3);

    const erased = await api("POST", "/v1/privacy/erase", { email: PERSON.email });
    expect(erased.status, erased.text).toBe(200);
    const receipt = erased.body as { receiptId: string; state: string; subject: string; removed: Record<string, number>; crm: string; suppressed: boolean };
    expect(receipt).toMatchObject({ state: "done", crm: "queued", suppressed: true, subject: expect.stringMatching(/^email:[0-9a-f]{64}$/) });
    expect(receipt.removed).toMatchObject({ leads: 1, sessions: 1, crmErasures: 1 });
    expect(receipt.removed.events).toBe(dump.events.length);
    expect(receipt.removed.leadKeys).toBeGreaterThanOrEqual(1);
    expect((await api("GET", `/v1/privacy/erase/${receipt.receiptId}`)).body).toEqual(receipt);

    // the CRMs let go of the contact; the webhook receiver was told (without the email) and dropped what it kept
    await eventually(async () => (hubspot.contacts().some((c) => c.properties.email === PERSON.email) ? undefined : true), 30_000, "HubSpot to delete the contact");
    await eventually(async () => (highlevel.contacts(DEMO.locationExternalId).some((c) => c.email === PERSON.email) ? undefined : true), 30_000, "HighLevel to delete the contact");
    await eventually(async () => (receiver.erasures().some((e) => e.leadId === leadId) ? true : undefined), 30_000, "the webhook erasure");
    // the outbox and delivery statuses of the erased lead are released once every CRM has it
    await eventually(async () => ((await e2e.mongo.db.collection("delivery_status").countDocuments({ leadId })) === 0 ? true : undefined), 30_000, "the delivery statuses to go");

    // the visitor comes back and submits again: nothing about them is stored
    const drainedBefore = await metricTotal(e2e.stack, "tracker_drain_events_total");
    let sent = 0;
    page.on("response", (res) => {
      const req = res.request();
      if (req.url().endsWith("/v1/events") && req.method() === "POST" && res.status() === 202) sent += (JSON.parse(req.postData()!) as { events: unknown[] }).events.length;
    });
    const submitted = page.waitForResponse((r) => r.url().endsWith("/v1/events") && (r.request().postData() ?? "").includes("form_submission"));
    await page.reload();
    await sdkReady(page);
    await page.fill("#contact [name=name]", `${PERSON.first} ${PERSON.last}`);
    await page.fill("#contact [name=email]", PERSON.email);
    await page.click("#contact button");
    expect((await submitted).status()).toBe(202);
    const visitorId = await page.evaluate(() => localStorage.getItem("lt_vid"));
    // every event the browser sent has been through the drain
    await eventually(async () => ((await metricTotal(e2e.stack, "tracker_drain_events_total")) >= drainedBefore + sent ? true : undefined), 20_000, "the drain to take the visit's events");
    expect(await e2e.mongo.db.collection("leads").countDocuments({ email: PERSON.email })).toBe(0);
    expect(await e2e.mongo.db.collection("events").countDocuments({ visitorId })).toBe(0);
    await context.close();

    // the search the issue asks for
    expect(found(await everyMongoDocument()), "MongoDB").toEqual([]);
    expect(found(JSON.stringify(hubspot.contacts())), "HubSpot").toEqual([]);
    expect(found(JSON.stringify(highlevel.contacts(DEMO.locationExternalId))), "HighLevel").toEqual([]);
    expect(found(JSON.stringify(receiver.deliveries())), "webhook receiver").toEqual([]);
    expect(found(JSON.stringify(receiver.erasures())), "webhook erasures").toEqual([]);
    for (const file of ["backend.log", "edge.log"]) expect(found(readFileSync(join(TEST_DATA_DIR, file), "utf8")), file).toEqual([]);
    const conn = await mysql.createConnection(e2e.stack.mariadbUrl);
    try {
      const [rows] = await conn.query("SELECT action, target_id, changes, meta FROM audit_log");
      expect(found(JSON.stringify(rows)), "audit trail").toEqual([]);
      const actions = (rows as { action: string; target_id: string }[]).filter((r) => r.action.startsWith("privacy."));
      expect(actions.map((r) => r.action)).toEqual(expect.arrayContaining(["privacy.export", "privacy.erase", "privacy.erase.done"]));
      for (const r of actions) expect(r.target_id).toBe(receipt.subject);
    } finally {
      await conn.end();
    }
  });
});
