/**
 * The fakes against the vendors' own client libraries (@hubspot/api-client, @gohighlevel/api-client, standardwebhooks)
 * and, for what the clients do not cover (wire shapes, documented error bodies), plain fetch.
 */
import { randomBytes } from "node:crypto";
import { Client as HubSpotClient } from "@hubspot/api-client";
import {
  GHLAuthenticationError,
  GHLForbiddenError,
  GHLNotFoundError,
  GHLRateLimitError,
  GHLValidationError,
  HighLevel,
  MemorySessionStorage,
  type HighLevelConfig,
} from "@gohighlevel/api-client";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { startHighLevelFake, type HighLevelFake } from "./highlevel.ts";
import { startHubSpotFake, type HubSpotFake } from "./hubspot.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.ts";

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

// ---------------------------------------------------------------------------------------------------------------------
// HubSpot
// ---------------------------------------------------------------------------------------------------------------------

const PAT = "pat-na1-11111111-2222-3333-4444-555555555555";

async function hubspot(opts: Partial<Parameters<typeof startHubSpotFake>[0]> = {}): Promise<HubSpotFake> {
  const fake = await startHubSpotFake({ tokens: [PAT], ...opts });
  stops.push(() => fake.stop());
  return fake;
}

const hubspotClient = (fake: HubSpotFake, accessToken = PAT, numberOfApiCallRetries = 0): HubSpotClient =>
  new HubSpotClient({ accessToken, basePath: fake.url, numberOfApiCallRetries });

/** The shape of the official client's ApiException, which it throws for every non-success status. */
interface HubSpotApiError {
  code: number;
  body: { status?: string; message: string; correlationId: string; category: string; policyName?: string };
  headers: Record<string, string>;
}

describe("HubSpot fake, through @hubspot/api-client", () => {
  it("batch-upserts by email (create, then update) and reads the contact back by id", async () => {
    const fake = await hubspot();
    const client = hubspotClient(fake);
    const created = await client.crm.contacts.batchApi.upsert({
      inputs: [
        { idProperty: "email", id: "Ada@Example.com", properties: { firstname: "Ada", lastname: "Lovelace", phone: "+441234567890" } },
        { idProperty: "email", id: "grace@example.com", properties: { firstname: "Grace", hs_lead_status: "NEW" } },
      ],
    });
    expect(created.status).toBe("COMPLETE");
    expect(created.startedAt).toBeInstanceOf(Date);
    expect(created.completedAt).toBeInstanceOf(Date);
    expect(created.results).toHaveLength(2);
    const ada = created.results[0]!;
    expect(ada._new).toBe(true);
    expect(ada.archived).toBe(false);
    expect(ada.createdAt).toBeInstanceOf(Date);
    expect(ada.properties).toMatchObject({ email: "ada@example.com", firstname: "Ada", lastname: "Lovelace", hs_object_id: ada.id });

    const updated = await client.crm.contacts.batchApi.upsert({
      inputs: [{ idProperty: "email", id: "ada@example.com", properties: { company: "Analytical Engines", lifecyclestage: "lead" } }],
    });
    expect(updated.results[0]!._new).toBe(false);
    expect(updated.results[0]!.id).toBe(ada.id);
    expect(fake.contacts()).toHaveLength(2);

    const read = await client.crm.contacts.basicApi.getById(ada.id, ["email", "firstname", "company", "lifecyclestage", "city"]);
    expect(read.id).toBe(ada.id);
    expect(read.properties).toMatchObject({
      email: "ada@example.com",
      firstname: "Ada",
      company: "Analytical Engines",
      lifecyclestage: "lead",
      city: null,
    });
    const defaults = await client.crm.contacts.basicApi.getById(ada.id);
    expect(Object.keys(defaults.properties).sort()).toEqual(["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]);
    const byEmail = await client.crm.contacts.basicApi.getById("ADA@example.com", ["firstname"], undefined, undefined, false, "email");
    expect(byEmail.id).toBe(ada.id);
  });

  it("answers documented errors: 401 bad token, 400 unknown property / invalid option / over 100 inputs, 404", async () => {
    const fake = await hubspot({ knownProperties: ["email", "firstname", "lead_score_fake"] });
    const bad = (await caught(
      hubspotClient(fake, "pat-na1-wrong").crm.contacts.batchApi.upsert({ inputs: [{ idProperty: "email", id: "a@b.co", properties: {} }] }),
    )) as HubSpotApiError;
    expect(bad.code).toBe(401);
    expect(bad.body).toMatchObject({ category: "INVALID_AUTHENTICATION" });
    expect(bad.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);

    const client = hubspotClient(fake);
    const unknown = (await caught(
      client.crm.contacts.batchApi.upsert({ inputs: [{ idProperty: "email", id: "a@b.co", properties: { firstname: "A", favourite_colour: "red" } }] }),
    )) as HubSpotApiError;
    expect(unknown.code).toBe(400);
    expect(unknown.body.category).toBe("VALIDATION_ERROR");
    expect(unknown.body.message).toMatch(/^Property values were not valid: \[/);
    const details = JSON.parse(unknown.body.message.replace("Property values were not valid: ", "")) as Array<Record<string, unknown>>;
    expect(details).toEqual([expect.objectContaining({ isValid: false, error: "PROPERTY_DOESNT_EXIST", name: "favourite_colour" })]);
    expect(fake.contacts()).toHaveLength(0);

    const tooMany = (await caught(
      client.crm.contacts.batchApi.upsert({
        inputs: Array.from({ length: 101 }, (_, i) => ({ idProperty: "email", id: `p${i}@example.com`, properties: {} })),
      }),
    )) as HubSpotApiError;
    expect(tooMany.code).toBe(400);
    expect(tooMany.body.category).toBe("VALIDATION_ERROR");

    const standard = await hubspot();
    const option = (await caught(
      hubspotClient(standard).crm.contacts.batchApi.upsert({ inputs: [{ idProperty: "email", id: "a@b.co", properties: { lifecyclestage: "hot" } }] }),
    )) as HubSpotApiError;
    expect(option.code).toBe(400);
    expect(option.body.message).toContain("INVALID_OPTION");

    const missing = (await caught(client.crm.contacts.basicApi.getById("999999"))) as HubSpotApiError;
    expect(missing.code).toBe(404);
    expect(missing.body.category).toBe("OBJECT_NOT_FOUND");

    fake.revokeToken(PAT);
    const revoked = (await caught(client.crm.contacts.basicApi.getById("1001"))) as HubSpotApiError;
    expect(revoked.code).toBe(401);
  });

  it("rate-limits per 10 s window with the private-app headers, and the client retries on the documented 429 body", async () => {
    const fake = await hubspot({ rateLimit: { max: 2, intervalMs: 1000 } });
    const client = hubspotClient(fake);
    const input = { inputs: [{ idProperty: "email", id: "r@example.com", properties: {} }] };
    await client.crm.contacts.batchApi.upsert(input);
    await client.crm.contacts.batchApi.upsert(input);
    const limited = (await caught(client.crm.contacts.batchApi.upsert(input))) as HubSpotApiError;
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({ status: "error", policyName: "TEN_SECONDLY_ROLLING", errorType: "RATE_LIMIT" });
    expect(limited.headers).toMatchObject({
      "x-hubspot-ratelimit-max": "2",
      "x-hubspot-ratelimit-remaining": "0",
      "x-hubspot-ratelimit-interval-milliseconds": "1000",
      "x-hubspot-ratelimit-daily": "250000",
      "x-hubspot-ratelimit-daily-remaining": "249998",
    });
    await new Promise((r) => setTimeout(r, 1050));
    const ok = await client.crm.contacts.batchApi.upsertWithHttpInfo(input);
    expect(ok.httpStatusCode).toBe(200);
    expect(ok.headers["x-hubspot-ratelimit-remaining"]).toBe("1");

    const daily = await hubspot({ rateLimit: { daily: 1 } });
    await hubspotClient(daily).crm.contacts.batchApi.upsert(input);
    const overDaily = (await caught(hubspotClient(daily).crm.contacts.batchApi.upsert(input))) as HubSpotApiError;
    expect(overDaily.code).toBe(429);
    expect(overDaily.body.policyName).toBe("DAILY");
    expect(overDaily.headers["x-hubspot-ratelimit-daily-remaining"]).toBe("0");
  });

  it("faults: failNext 503 is retried by the client's own retry, failNext 429 carries Retry-After", async () => {
    const fake = await hubspot();
    fake.faults.failNext(1, 503);
    const retried = await hubspotClient(fake, PAT, 2).crm.contacts.batchApi.upsert({
      inputs: [{ idProperty: "email", id: "x@example.com", properties: {} }],
    });
    expect(retried.results[0]!._new).toBe(true);
    expect(fake.requests().map((r) => [r.status, r.fault])).toEqual([
      [503, "failNext"],
      [200, undefined],
    ]);

    fake.faults.failNext(1, 429, { retryAfterSeconds: 3 });
    const limited = (await caught(hubspotClient(fake).crm.contacts.basicApi.getById(retried.results[0]!.id))) as HubSpotApiError;
    expect(limited.code).toBe(429);
    expect(limited.headers["retry-after"]).toBe("3");
    expect(limited.body.policyName).toBe("TEN_SECONDLY_ROLLING");
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// HighLevel
// ---------------------------------------------------------------------------------------------------------------------

const CLIENT_ID = "6650aa11bb22cc33dd44ee55-lw1k2j3h";
const CLIENT_SECRET = "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b";
const LOCATION = "ve9EPM428h8vShlRW1KT";
const OTHER_LOCATION = "l1C08ntBrFjLS0elLIYU";
const COMPANY = "tDtDnQdgm2LXpyiqYvZ6";

async function highlevel(opts: Partial<Parameters<typeof startHighLevelFake>[0]> = {}): Promise<HighLevelFake> {
  const fake = await startHighLevelFake({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...opts });
  stops.push(() => fake.stop());
  return fake;
}

/** The official SDK, pointed at the fake through its public request-interceptor API (its base URL is a private static). */
function highlevelClient(fake: HighLevelFake, config: Partial<HighLevelConfig> = {}): HighLevel {
  const ghl = new HighLevel({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    apiVersion: "2021-07-28",
    sessionStorage: new MemorySessionStorage(),
    logLevel: "none",
    ...config,
  });
  ghl.addRequestInterceptor({
    onFulfilled: (c) => {
      c.baseURL = fake.url;
      return c;
    },
  });
  return ghl;
}

/** Installs the app on LOCATION: the consent-screen code exchanged through the SDK, the tokens put in its storage. */
async function installed(fake: HighLevelFake, config: Partial<HighLevelConfig> = {}) {
  const ghl = highlevelClient(fake, config);
  const code = fake.issueAuthCode({ locationId: LOCATION, companyId: COMPANY });
  const token = await ghl.oauth.getAccessToken({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "authorization_code", code, user_type: "Location" });
  await ghl.getSessionStorage().setSession(LOCATION, token);
  return { ghl, token };
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
  body: new URLSearchParams(fields).toString(),
});

describe("HighLevel fake, through @gohighlevel/api-client", () => {
  it("exchanges a consent code for the documented token response; codes are single use", async () => {
    const fake = await highlevel();
    const { ghl, token } = await installed(fake);
    expect(token).toMatchObject({
      token_type: "Bearer",
      expires_in: 86399,
      scope: "contacts.readonly contacts.write",
      userType: "Location",
      locationId: LOCATION,
      companyId: COMPANY,
    });
    expect(token.access_token).toEqual(expect.any(String));
    expect(token.refresh_token).toEqual(expect.any(String));
    expect(token.userId).toEqual(expect.any(String));

    const code = fake.issueAuthCode({ locationId: LOCATION, companyId: COMPANY });
    const body = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "authorization_code", code };
    await ghl.oauth.getAccessToken(body);
    const reused = await caught(ghl.oauth.getAccessToken(body));
    expect(reused).toBeInstanceOf(GHLValidationError);
    expect((reused as GHLValidationError).statusCode).toBe(400);
  });

  it("rotates refresh tokens: a refresh answers a new pair and the used refresh token stops working", async () => {
    const fake = await highlevel();
    const { ghl, token } = await installed(fake);
    const next = (await ghl.oauth.refreshToken(token.refresh_token!, CLIENT_ID, CLIENT_SECRET, "refresh_token", "Location")) as typeof token;
    expect(next.refresh_token).not.toBe(token.refresh_token);
    expect(next.access_token).not.toBe(token.access_token);
    expect(next).toMatchObject({ token_type: "Bearer", userType: "Location", locationId: LOCATION });
    const again = await caught(ghl.oauth.refreshToken(token.refresh_token!, CLIENT_ID, CLIENT_SECRET, "refresh_token", "Location"));
    expect(again).toBeInstanceOf(GHLValidationError);
    fake.revokeRefreshToken(next.refresh_token!);
    expect(await caught(ghl.oauth.refreshToken(next.refresh_token!, CLIENT_ID, CLIENT_SECRET, "refresh_token", "Location"))).toBeInstanceOf(GHLValidationError);
    expect(fake.tokens()).toHaveLength(2);
  });

  it("upserts a contact: created, then updated by email (tags overwritten, custom fields by id or key)", async () => {
    const fake = await highlevel();
    const { ghl } = await installed(fake);
    const created = await ghl.contacts.upsertContact({
      locationId: LOCATION,
      firstName: "Rosan",
      lastName: "Deo",
      email: "Rosan@Deos.com",
      phone: "+1 888-888-8888",
      companyName: "DGS VolMAX",
      source: "edge-lead-tracker",
      tags: ["web lead"],
      customFields: [{ key: "utm_source", field_value: "google" }],
    });
    expect(created.new).toBe(true);
    expect(created.traceId).toEqual(expect.any(String));
    expect(created.contact).toMatchObject({
      locationId: LOCATION,
      firstName: "Rosan",
      lastName: "Deo",
      name: "Rosan Deo",
      email: "rosan@deos.com",
      phone: "+18888888888",
      companyName: "DGS VolMAX",
      source: "edge-lead-tracker",
      tags: ["web lead"],
    });
    const fieldId = created.contact!.customFields![0]!.id!;
    expect(created.contact!.customFields).toEqual([{ id: fieldId, value: "google" }]);

    const updated = await ghl.contacts.upsertContact({
      locationId: LOCATION,
      email: "rosan@deos.com",
      firstName: "Rosa",
      tags: ["returning"],
      customFields: [{ id: fieldId, field_value: "bing" }],
    });
    expect(updated.new).toBe(false);
    expect(updated.contact!.id).toBe(created.contact!.id);
    expect(updated.contact).toMatchObject({ firstName: "Rosa", lastName: "Deo", tags: ["returning"], customFields: [{ id: fieldId, value: "bing" }] });
    expect(fake.contacts(LOCATION)).toHaveLength(1);

    const byPhone = await ghl.contacts.upsertContact({ locationId: LOCATION, phone: "+18888888888", city: "Dolomite" });
    expect(byPhone.new).toBe(false);
    expect(byPhone.contact!.id).toBe(created.contact!.id);
    expect(fake.contacts(LOCATION)[0]).toMatchObject({ city: "Dolomite", email: "rosan@deos.com" });
  });

  it("an expired token answers 401, and the SDK's own refresh-on-401 gets through with the rotated pair", async () => {
    const fake = await highlevel();
    const { ghl, token } = await installed(fake);
    fake.expireAllTokens();
    const raw = await fetch(`${fake.url}/contacts/upsert`, {
      method: "POST",
      headers: { authorization: `Bearer ${token.access_token}`, version: "2021-07-28", "content-type": "application/json" },
      body: JSON.stringify({ locationId: LOCATION, email: "a@example.com" }),
    });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ statusCode: 401, error: "Unauthorized", message: expect.any(String) });

    // The SDK finds the session to refresh from the request's locationId; on its 401 path the body is already
    // serialized, so it only finds it in a `locationId` header (without it, it rethrows the 401 without refreshing).
    const res = await ghl.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" }, { headers: { locationId: LOCATION } });
    expect(res.new).toBe(true);
    const statuses = fake.requests().map((r) => `${r.path} ${r.status}`);
    expect(statuses.slice(-4)).toEqual(["/contacts/upsert 401", "/contacts/upsert 401", "/oauth/token 200", "/contacts/upsert 200"]);
    const session = await ghl.getSessionStorage().getSession(LOCATION);
    expect(session?.refresh_token).not.toBe(token.refresh_token);
  });

  it("a short accessTokenTtlSeconds makes tokens expire by themselves", async () => {
    const fake = await highlevel({ accessTokenTtlSeconds: 1 });
    const { token } = await installed(fake);
    expect(token.expires_in).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await fetch(`${fake.url}/contacts/upsert`, {
      method: "POST",
      headers: { authorization: `Bearer ${token.access_token}`, version: "2021-07-28", "content-type": "application/json" },
      body: JSON.stringify({ locationId: LOCATION }),
    });
    expect(res.status).toBe(401);
  });

  it("a wrong token answers 401 and a token of another location 403", async () => {
    const fake = await highlevel();
    const wrong = highlevelClient(fake, { locationAccessToken: "not-a-token" });
    const unauth = await caught(wrong.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" }));
    expect(unauth).toBeInstanceOf(GHLAuthenticationError);
    expect((unauth as GHLAuthenticationError).response).toEqual({ statusCode: 401, message: "Invalid token: access token is invalid", error: "Unauthorized" });

    const { token } = await installed(fake);
    const other = highlevelClient(fake, { locationAccessToken: token.access_token });
    const forbidden = await caught(other.contacts.upsertContact({ locationId: OTHER_LOCATION, email: "a@example.com" }));
    expect(forbidden).toBeInstanceOf(GHLForbiddenError);
    expect((forbidden as GHLForbiddenError).response).toEqual({ statusCode: 403, message: "The token does not have access to this location." });
    expect(fake.contacts(OTHER_LOCATION)).toHaveLength(0);
  });

  it("enforces the burst limit per location with the documented headers; the SDK's rateLimitRetry waits the interval", async () => {
    const fake = await highlevel({ rateLimit: { max: 2, intervalMs: 300 } });
    const { ghl } = await installed(fake);
    await ghl.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" });
    await ghl.contacts.upsertContact({ locationId: LOCATION, email: "b@example.com" });
    const limited = await caught(ghl.contacts.upsertContact({ locationId: LOCATION, email: "c@example.com" }));
    expect(limited).toBeInstanceOf(GHLRateLimitError);
    expect((limited as GHLRateLimitError).rateLimit).toMatchObject({ scope: "burst", max: 2, remaining: 0, intervalMs: 300, dailyLimit: 200000, dailyRemaining: 199998 });

    const { ghl: patient } = await installed(fake, { rateLimitRetry: { maxRetries: 2, maxDelayMs: 1000 } });
    const res = await patient.contacts.upsertContact({ locationId: LOCATION, email: "c@example.com" });
    expect(res.new).toBe(true);

    const daily = await highlevel({ rateLimit: { daily: 1 } });
    const { ghl: d } = await installed(daily);
    await d.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" });
    const overDaily = await caught(d.contacts.upsertContact({ locationId: LOCATION, email: "b@example.com" }));
    expect((overDaily as GHLRateLimitError).rateLimit).toMatchObject({ scope: "daily", dailyRemaining: 0 });
  });

  it("plain fetch: the documented token form, 401 bad client, 422 missing fields, 400 Version, 422 body", async () => {
    const fake = await highlevel();
    const code = fake.issueAuthCode({ locationId: LOCATION, companyId: COMPANY, userId: "u1" });
    const ok = await fetch(`${fake.url}/oauth/token`, form({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "authorization_code", code, user_type: "Location", redirect_uri: "https://app.example/cb" }));
    expect(ok.status).toBe(200);
    const token = (await ok.json()) as Record<string, unknown>;
    expect(Object.keys(token).sort()).toEqual(
      ["access_token", "companyId", "expires_in", "isBulkInstallation", "locationId", "refresh_token", "scope", "token_type", "userId", "userType"].sort(),
    );
    expect(token.userId).toBe("u1");

    const badClient = await fetch(`${fake.url}/oauth/token`, form({ client_id: CLIENT_ID, client_secret: "nope", grant_type: "refresh_token", refresh_token: String(token.refresh_token) }));
    expect(badClient.status).toBe(401);
    expect(await badClient.json()).toMatchObject({ statusCode: 401, error: "Unauthorized" });

    const missing = await fetch(`${fake.url}/oauth/token`, form({ client_id: CLIENT_ID, grant_type: "password" }));
    expect(missing.status).toBe(422);
    const m = (await missing.json()) as { statusCode: number; message: string[]; error: string };
    expect(m).toMatchObject({ statusCode: 422, error: "Unprocessable Entity" });
    expect(m.message).toHaveLength(2);

    const company = await fetch(`${fake.url}/oauth/token`, form({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "refresh_token", refresh_token: String(token.refresh_token), user_type: "Company" }));
    expect(company.status).toBe(400);

    const upsert = (headers: Record<string, string>, body: unknown) =>
      fetch(`${fake.url}/contacts/upsert`, {
        method: "POST",
        headers: { authorization: `Bearer ${String(token.access_token)}`, "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const noVersion = await upsert({}, { locationId: LOCATION });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ statusCode: 400, message: expect.any(String) });
    expect((await upsert({ version: "2023-02-21" }, { locationId: LOCATION })).status).toBe(400);

    const invalid = await upsert({ version: "2021-07-28" }, { email: "not-an-email", tags: "one" });
    expect(invalid.status).toBe(422);
    expect(invalid.headers.get("x-ratelimit-max")).toBe("100");
    expect(((await invalid.json()) as { message: string[] }).message).toEqual(
      expect.arrayContaining(["locationId should not be empty", "email must be an email", "each value in tags must be a string"]),
    );
    const good = await upsert({ version: "2021-07-28" }, { locationId: LOCATION, email: "z@example.com" });
    expect(good.status).toBe(200);
    expect(good.headers.get("x-ratelimit-remaining")).toBe("98");
    expect(good.headers.get("x-ratelimit-interval-milliseconds")).toBe("10000");
  });

  it("the SDK's default Version header (2023-02-21) is refused on contacts: connectors must set apiVersion", async () => {
    const fake = await highlevel();
    const { token } = await installed(fake);
    const sdkDefault = new HighLevel({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, locationAccessToken: token.access_token, logLevel: "none" });
    sdkDefault.addRequestInterceptor({
      onFulfilled: (c) => {
        c.baseURL = fake.url;
        return c;
      },
    });
    const err = await caught(sdkDefault.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" }));
    expect(err).toBeInstanceOf(GHLValidationError);
    expect(fake.requests().at(-1)?.headers.version).toBe("2023-02-21");
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Webhook receiver
// ---------------------------------------------------------------------------------------------------------------------

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver({ secret: SECRET });
  stops.push(() => r.stop());
  return r;
}

function signed(id: string, body: string, at = new Date(), secret = SECRET): RequestInit {
  return {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, at, body),
    },
    body,
  };
}

describe("webhook receiver (Standard Webhooks, verified with the standardwebhooks package)", () => {
  const payload = JSON.stringify({ type: "lead.created", timestamp: "2026-11-29T12:00:00Z", data: { leadId: "l1", email: "a@example.com" } });

  it("accepts a payload signed with Webhook.sign and records it", async () => {
    const r = await receiver();
    const res = await fetch(r.hookUrl("tenant-a"), signed("msg_1", payload));
    expect(res.status).toBe(204);
    expect(r.deliveries()).toEqual([
      {
        name: "tenant-a",
        id: "msg_1",
        timestamp: expect.any(Number),
        type: "lead.created",
        body: JSON.parse(payload),
        receivedAt: expect.any(Number),
      },
    ]);
  });

  it("refuses a tampered body, a wrong secret, missing headers and an old timestamp with 401", async () => {
    const r = await receiver();
    const tampered = signed("msg_2", payload);
    tampered.body = payload.replace("a@example.com", "b@example.com");
    expect((await fetch(r.hookUrl("t"), tampered)).status).toBe(401);
    expect((await fetch(r.hookUrl("t"), signed("msg_3", payload, new Date(), `whsec_${randomBytes(32).toString("base64")}`))).status).toBe(401);
    expect((await fetch(r.hookUrl("t"), { method: "POST", headers: { "content-type": "application/json" }, body: payload })).status).toBe(401);
    const old = await fetch(r.hookUrl("t"), signed("msg_4", payload, new Date(Date.now() - 10 * 60 * 1000)));
    expect(old.status).toBe(401);
    expect(await old.json()).toEqual({ error: "invalid_signature", message: "Message timestamp too old" });
    expect(r.deliveries()).toEqual([]);
    expect(r.requests().map((x) => x.status)).toEqual([401, 401, 401, 401]);
  });

  it("keeps duplicates in deliveries() and collapses them by webhook-id in unique()", async () => {
    const r = await receiver();
    await fetch(r.hookUrl("t"), signed("msg_a", payload));
    await fetch(r.hookUrl("t"), signed("msg_b", payload));
    await fetch(r.hookUrl("t"), signed("msg_a", payload));
    expect(r.deliveries().map((d) => d.id)).toEqual(["msg_a", "msg_b", "msg_a"]);
    expect(r.unique().map((d) => d.id)).toEqual(["msg_a", "msg_b"]);
    expect(r.unique()[0]!.receivedAt).toBe(r.deliveries()[0]!.receivedAt);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Faults, on every fake
// ---------------------------------------------------------------------------------------------------------------------

interface FaultTarget {
  name: string;
  start(): Promise<{ faults: HubSpotFake["faults"]; requests(): Array<{ status: number }> }>;
  /** One ordinary successful request against the fake. */
  call(fake: unknown): Promise<Response>;
  okStatus: number;
}

const targets: FaultTarget[] = [
  {
    name: "webhook receiver",
    start: receiver,
    call: (fake) => fetch((fake as WebhookReceiver).hookUrl("t"), signed(`msg_${randomBytes(4).toString("hex")}`, "{}")),
    okStatus: 204,
  },
  {
    name: "HubSpot",
    start: () => hubspot(),
    call: (fake) =>
      fetch(`${(fake as HubSpotFake).url}/crm/v3/objects/contacts/batch/upsert`, {
        method: "POST",
        headers: { authorization: `Bearer ${PAT}`, "content-type": "application/json" },
        body: JSON.stringify({ inputs: [{ idProperty: "email", id: "f@example.com", properties: {} }] }),
      }),
    okStatus: 200,
  },
  {
    name: "HighLevel",
    start: () => highlevel(),
    call: (fake) =>
      fetch(
        `${(fake as HighLevelFake).url}/oauth/token`,
        form({
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          grant_type: "authorization_code",
          code: (fake as HighLevelFake).issueAuthCode({ locationId: LOCATION, companyId: COMPANY }),
        }),
      ),
    okStatus: 200,
  },
];

describe.each(targets)("faults: $name", (t) => {
  it("down() answers 503 with a JSON body until up()", async () => {
    const fake = await t.start();
    fake.faults.down();
    const res = await t.call(fake);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toMatchObject({ error: "service_unavailable" });
    fake.faults.up();
    expect((await t.call(fake)).status).toBe(t.okStatus);
  });

  it("failNext(n, 429, { retryAfterSeconds }) fails exactly n requests with Retry-After", async () => {
    const fake = await t.start();
    fake.faults.failNext(2, 429, { retryAfterSeconds: 5 });
    for (let i = 0; i < 2; i++) {
      const res = await t.call(fake);
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toEqual(expect.any(Object));
    }
    expect((await t.call(fake)).status).toBe(t.okStatus);
    expect(fake.faults.state().pendingFailures).toBe(0);
  });

  it("failNext with a custom body and a path filter only hits matching routes", async () => {
    const fake = await t.start();
    fake.faults.failNext(1, 500, { body: { custom: true }, path: "/nowhere" });
    expect((await t.call(fake)).status).toBe(t.okStatus);
    fake.faults.reset();
    fake.faults.failNext(1, 500, { body: { custom: true } });
    const res = await t.call(fake);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ custom: true });
  });

  it("slow(ms) delays every answer", async () => {
    const fake = await t.start();
    fake.faults.slow(250);
    const started = Date.now();
    const res = await t.call(fake);
    expect(res.status).toBe(t.okStatus);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    fake.faults.reset();
    const again = Date.now();
    await t.call(fake);
    expect(Date.now() - again).toBeLessThan(200);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Erasure: HubSpot GDPR delete, HighLevel Delete Contact, a receiver that honours lead.deleted with erased: true
// ---------------------------------------------------------------------------------------------------------------------

describe("HubSpot fake: GDPR delete, through @hubspot/api-client (crm.contacts.basicApi.purge)", () => {
  it("permanently deletes a contact by id (204), then answers 404 for it; by email too; the log forgets its email", async () => {
    const fake = await hubspot();
    const client = hubspotClient(fake);
    const made = await client.crm.contacts.batchApi.upsert({
      inputs: [
        { idProperty: "email", id: "erase.me@example.com", properties: { firstname: "Erasmus", phone: "+442071234567" } },
        { idProperty: "email", id: "keep.me@example.com", properties: { firstname: "Kept" } },
      ],
    });
    const [erase, keep] = made.results;
    const answer = await client.crm.contacts.basicApi.purgeWithHttpInfo({ objectId: erase!.id });
    expect(answer.httpStatusCode).toBe(204);
    expect(fake.contacts().map((c) => c.id)).toEqual([keep!.id]);
    expect(fake.purged()).toEqual([erase!.id]);
    expect((await caught(client.crm.contacts.basicApi.getById(erase!.id))) as HubSpotApiError).toMatchObject({ code: 404 });

    const again = (await caught(client.crm.contacts.basicApi.purge({ objectId: erase!.id }))) as HubSpotApiError;
    expect(again.code).toBe(404);
    expect(again.body).toMatchObject({ status: "error", category: "OBJECT_NOT_FOUND" });

    // the gdpr-delete request itself names only the id; the upsert that carried the email is blanked in the log
    const logged = JSON.stringify(fake.requests());
    expect(logged).not.toContain("erase.me@example.com");
    expect(logged).not.toContain("Erasmus");
    expect(fake.requests().find((r) => r.path.endsWith("/gdpr-delete"))?.body).toEqual({ objectId: erase!.id });

    await client.crm.contacts.basicApi.purge({ objectId: "KEEP.me@example.com", idProperty: "email" });
    expect(fake.contacts()).toEqual([]);
    // documented: an address without a contact is blocklisted, and the call still succeeds
    await client.crm.contacts.basicApi.purge({ objectId: "nobody@example.com", idProperty: "email" });
  });

  it("answers documented errors: 401 bad token, 400 without objectId or with another idProperty, 429 over the limit", async () => {
    const fake = await hubspot({ rateLimit: { max: 2, intervalMs: 60_000 } });
    const bad = (await caught(hubspotClient(fake, "pat-na1-wrong").crm.contacts.basicApi.purge({ objectId: "1001" }))) as HubSpotApiError;
    expect(bad.code).toBe(401);
    expect(bad.body.category).toBe("INVALID_AUTHENTICATION");

    const post = (body: unknown) =>
      fetch(`${fake.url}/crm/v3/objects/contacts/gdpr-delete`, { method: "POST", headers: { authorization: `Bearer ${PAT}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const missing = await post({ idProperty: "email" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ status: "error", category: "VALIDATION_ERROR" });
    const other = await post({ objectId: "x", idProperty: "phone" });
    expect(other.status).toBe(400);
    const limited = await post({ objectId: "1001" });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ policyName: "TEN_SECONDLY_ROLLING", errorType: "RATE_LIMIT" });
    expect(limited.headers.get("x-hubspot-ratelimit-remaining")).toBe("0");
  });
});

describe("HighLevel fake: Delete Contact, through @gohighlevel/api-client (contacts.deleteContact)", () => {
  it("deletes the contact ({ succeded: true }), then answers 404 (GHLNotFoundError); the log forgets its email and phone", async () => {
    const fake = await highlevel();
    const { ghl } = await installed(fake);
    const made = await ghl.contacts.upsertContact({ locationId: LOCATION, email: "Erase.Me@example.com", firstName: "Erasmus", phone: "+1 415 555 2671" });
    await ghl.contacts.upsertContact({ locationId: LOCATION, email: "keep@example.com" });
    const id = made.contact!.id!;
    // the SDK finds the location's session by a locationId header (there is no body on a DELETE)
    const res = await ghl.contacts.deleteContact({ contactId: id }, { headers: { locationId: LOCATION } });
    expect(res).toEqual({ succeded: true });
    expect(fake.contacts(LOCATION).map((c) => c.email)).toEqual(["keep@example.com"]);
    expect(fake.deleted()).toEqual([id]);
    const logged = JSON.stringify(fake.requests());
    expect(logged).not.toContain("erase.me@example.com");
    expect(logged).not.toContain("Erase.Me@example.com");
    expect(logged).not.toContain("14155552671");

    const again = await caught(ghl.contacts.deleteContact({ contactId: id }, { headers: { locationId: LOCATION } }));
    expect(again).toBeInstanceOf(GHLNotFoundError);
    expect((again as GHLNotFoundError).response).toEqual({ statusCode: 404, message: "Contact not found", error: "Not Found" });
  });

  it("refuses a wrong token (401), another location's token (403), a missing Version (400), and rate-limits per location", async () => {
    const fake = await highlevel({ rateLimit: { max: 1, intervalMs: 60_000 } }); // the upsert below takes the one request
    const { ghl, token } = await installed(fake);
    const made = await ghl.contacts.upsertContact({ locationId: LOCATION, email: "a@example.com" });
    const id = made.contact!.id!;
    const wrong = highlevelClient(fake, { locationAccessToken: "not-a-token" });
    expect(await caught(wrong.contacts.deleteContact({ contactId: id }))).toBeInstanceOf(GHLAuthenticationError);

    const other = await installedOn(fake, OTHER_LOCATION);
    expect(await caught(other.contacts.deleteContact({ contactId: id }, { headers: { locationId: OTHER_LOCATION } }))).toBeInstanceOf(GHLForbiddenError);
    expect(fake.contacts(LOCATION)).toHaveLength(1);

    const noVersion = await fetch(`${fake.url}/contacts/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${token.access_token}` } });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ statusCode: 400 });

    const limited = await caught(ghl.contacts.deleteContact({ contactId: id }, { headers: { locationId: LOCATION } }));
    expect(limited).toBeInstanceOf(GHLRateLimitError);
    expect(fake.contacts(LOCATION)).toHaveLength(1);
  });

  it("an expired token answers 401, and the SDK's refresh-on-401 gets the delete through", async () => {
    const fake = await highlevel();
    const { ghl, token } = await installed(fake);
    const made = await ghl.contacts.upsertContact({ locationId: LOCATION, email: "late@example.com" });
    fake.expireAllTokens();
    const raw = await fetch(`${fake.url}/contacts/${made.contact!.id!}`, { method: "DELETE", headers: { authorization: `Bearer ${token.access_token}`, version: "2021-07-28" } });
    expect(raw.status).toBe(401);
    expect(await ghl.contacts.deleteContact({ contactId: made.contact!.id! }, { headers: { locationId: LOCATION } })).toEqual({ succeded: true });
    expect(fake.requests().map((r) => `${r.method} ${r.path.replace(made.contact!.id!, ":id")} ${r.status}`).slice(-3)).toEqual([
      "DELETE /contacts/:id 401",
      "POST /oauth/token 200",
      "DELETE /contacts/:id 200",
    ]);
    expect(fake.contacts(LOCATION)).toEqual([]);
  });
});

/** The app installed on another location, through the SDK. */
async function installedOn(fake: HighLevelFake, locationId: string): Promise<HighLevel> {
  const ghl = highlevelClient(fake);
  const code = fake.issueAuthCode({ locationId, companyId: COMPANY });
  const token = await ghl.oauth.getAccessToken({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "authorization_code", code, user_type: "Location" });
  await ghl.getSessionStorage().setSession(locationId, token);
  return ghl;
}

describe("webhook receiver: honours lead.deleted with erased: true", () => {
  const lead = (id: string, email: string, type = "lead.created") => JSON.stringify({ type, timestamp: new Date().toISOString(), data: { lead: { id, email, firstName: "Per" }, contact: { email } } });
  const erasure = (id: string) => JSON.stringify({ type: "lead.deleted", timestamp: new Date().toISOString(), data: { lead: { id, deleted: true, erased: true } } });

  it("drops the lead's deliveries (and their logged bodies), records the erasure, and keeps nothing of the lead that comes later", async () => {
    const r = await receiver();
    await fetch(r.hookUrl("t"), signed("l1.v1", lead("l1", "per.son@example.com")));
    await fetch(r.hookUrl("t"), signed("l1.v2", lead("l1", "per.son@example.com", "lead.updated")));
    await fetch(r.hookUrl("t"), signed("l2.v1", lead("l2", "other@example.com")));
    // a plain lead.deleted (no erased flag) is an ordinary delivery
    await fetch(r.hookUrl("t"), signed("l2.deleted", JSON.stringify({ type: "lead.deleted", timestamp: "2026-01-01T00:00:00Z", data: { lead: { id: "l2", email: "other@example.com", deleted: true } } })));
    expect(r.deliveries().map((d) => d.id)).toEqual(["l1.v1", "l1.v2", "l2.v1", "l2.deleted"]);

    const res = await fetch(r.hookUrl("t"), signed("l1.erased", erasure("l1")));
    expect(res.status).toBe(204);
    expect(r.deliveries().map((d) => d.id)).toEqual(["l2.v1", "l2.deleted"]);
    expect(r.erasures()).toEqual([
      { name: "t", id: "l1.erased", leadId: "l1", timestamp: expect.any(Number), body: { type: "lead.deleted", timestamp: expect.any(String), data: { lead: { id: "l1", deleted: true, erased: true } } }, receivedAt: expect.any(Number), dropped: 2 },
    ]);
    // a late retry of an earlier version is acknowledged and not kept
    expect((await fetch(r.hookUrl("t"), signed("l1.v2", lead("l1", "per.son@example.com", "lead.updated")))).status).toBe(204);
    expect(r.deliveries().map((d) => d.id)).toEqual(["l2.v1", "l2.deleted"]);
    const held = JSON.stringify([r.deliveries(), r.erasures(), r.requests()]);
    expect(held).not.toContain("per.son@example.com");
    expect(held).toContain("other@example.com");
  });

  it("an unsigned or badly signed erasure is refused (401) and drops nothing", async () => {
    const r = await receiver();
    await fetch(r.hookUrl("t"), signed("l1.v1", lead("l1", "per.son@example.com")));
    expect((await fetch(r.hookUrl("t"), { method: "POST", headers: { "content-type": "application/json" }, body: erasure("l1") })).status).toBe(401);
    expect((await fetch(r.hookUrl("t"), signed("l1.erased", erasure("l1"), new Date(), `whsec_${randomBytes(32).toString("base64")}`))).status).toBe(401);
    expect(r.deliveries().map((d) => d.id)).toEqual(["l1.v1"]);
    expect(r.erasures()).toEqual([]);
  });
});
