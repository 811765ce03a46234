/**
 * The Salesforce stand-in driven by `jsforce` (Salesforce's widely used Node client: its OAuth2 token requests,
 * sObject Collections upsert, retrieve, destroy and session refresh after INVALID_SESSION_ID), and the Zoho CRM
 * stand-in checked with requests built from Zoho's documentation: Zoho's official Node SDK keeps tokens in its own
 * store and fixes the domains in its DataCenter classes, so it cannot be pointed at a local server.
 */
import { generateKeyPairSync } from "node:crypto";
import jsforce from "jsforce";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { startSalesforceFake, type SalesforceFake } from "./salesforce.ts";
import { dcOfHost, startZohoFake, type ZohoFake } from "./zoho.ts";

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PUBLIC = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
const SF = { clientId: "3MVG9fake.consumer.key", clientSecret: "sf-secret", user: "integration@agency.example", refreshToken: "5Aep861fake.refresh" };

async function salesforce(opts: Partial<Parameters<typeof startSalesforceFake>[0]> = {}): Promise<SalesforceFake> {
  const fake = await startSalesforceFake({
    clientId: SF.clientId,
    clientSecret: SF.clientSecret,
    publicKey: PUBLIC,
    users: [SF.user],
    refreshTokens: [SF.refreshToken],
    picklists: { Rating: ["Hot", "Warm", "Cold"] },
    fields: { Lead: ["Email", "FirstName", "LastName", "Company", "Phone", "Rating", "Description"] },
    ...opts,
  });
  stops.push(() => fake.stop());
  return fake;
}

const assertion = (aud = "https://login.salesforce.com", sub = SF.user, exp = Math.floor(Date.now() / 1000) + 120) =>
  new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuer(SF.clientId).setSubject(sub).setAudience(aud).setExpirationTime(exp).sign(keys.privateKey);

const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

describe("Salesforce stand-in, driven by jsforce", () => {
  it("issues a token for a JWT bearer assertion and refuses a wrong audience, user or expiry the documented way", async () => {
    const fake = await salesforce();
    const oauth2 = new jsforce.OAuth2({ loginUrl: fake.url, clientId: SF.clientId });
    const ok = await oauth2.requestToken({ grant_type: JWT_GRANT, assertion: await assertion() });
    expect(ok).toMatchObject({ access_token: expect.any(String), instance_url: fake.url, token_type: "Bearer" });
    for (const bad of [await assertion("https://test.salesforce.com"), await assertion(undefined, "stranger@x.example"), await assertion(undefined, undefined, Math.floor(Date.now() / 1000) - 60)]) {
      const err = (await new jsforce.OAuth2({ loginUrl: fake.url }).requestToken({ grant_type: JWT_GRANT, assertion: bad }).catch((e: unknown) => e)) as Error & { name: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe("invalid_grant");
    }
  });

  it("upserts a collection by external id (a second upsert updates), reports a field's error per record, reads and deletes", async () => {
    const fake = await salesforce();
    const oauth2 = new jsforce.OAuth2({ loginUrl: fake.url, clientId: SF.clientId, clientSecret: SF.clientSecret });
    const token = await oauth2.refreshToken(SF.refreshToken);
    const conn = new jsforce.Connection({ instanceUrl: token.instance_url, accessToken: token.access_token, version: "62.0" });
    const first = await conn.sobject("Lead").upsert(
      [
        { Lead_Tracker_Id__c: "lead-1", Email: "ada@example.com", LastName: "Lovelace", Company: "Engines" },
        { Lead_Tracker_Id__c: "lead-2", Email: "grace@example.com", LastName: "Hopper", Company: "Navy", Rating: "Lukewarm" },
      ],
      "Lead_Tracker_Id__c",
      { allOrNone: false },
    );
    expect(first[0]).toMatchObject({ success: true, created: true, id: expect.stringMatching(/^00Q/) });
    expect(first[1]).toMatchObject({ success: false, errors: [expect.objectContaining({ statusCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fields: ["Rating"] })] });
    const again = await conn.sobject("Lead").upsert([{ Lead_Tracker_Id__c: "lead-1", Email: "ada@example.com", LastName: "King", Company: "Engines" }], "Lead_Tracker_Id__c", { allOrNone: false });
    expect(again[0]).toMatchObject({ success: true, created: false, id: first[0]!.id });
    expect(fake.records("Lead")).toHaveLength(1);
    const read = (await conn.sobject("Lead").retrieve(first[0]!.id!)) as Record<string, unknown>;
    expect(read).toMatchObject({ Id: first[0]!.id, LastName: "King", Lead_Tracker_Id__c: "lead-1" });
    expect(await conn.sobject("Lead").destroy(first[0]!.id!)).toMatchObject({ success: true });
    const gone = (await conn.sobject("Lead").destroy(first[0]!.id!).catch((e: unknown) => e)) as { errorCode?: string };
    expect(gone.errorCode).toBe("ENTITY_IS_DELETED");
    expect(fake.deleted()).toEqual([first[0]!.id]);
    // an unknown field fails the whole request, as Salesforce does
    const unknown = (await conn.sobject("Lead").upsert([{ Lead_Tracker_Id__c: "x", Nope__c: "1", LastName: "X", Company: "Y" }], "Lead_Tracker_Id__c").catch((e: unknown) => e)) as { errorCode?: string };
    expect(unknown.errorCode).toBe("INVALID_FIELD");
  });

  it("answers an expired session with INVALID_SESSION_ID, which jsforce refreshes with the refresh token; the request limit and 5xx carry the documented codes", async () => {
    const fake = await salesforce();
    const conn = new jsforce.Connection({ oauth2: { loginUrl: fake.url, clientId: SF.clientId, clientSecret: SF.clientSecret }, instanceUrl: fake.url, accessToken: "stale", refreshToken: SF.refreshToken, version: "62.0" });
    let refreshed = 0;
    conn.on("refresh", () => refreshed++);
    const [res] = await conn.sobject("Lead").upsert([{ Lead_Tracker_Id__c: "lead-9", LastName: "Nine", Company: "C" }], "Lead_Tracker_Id__c", { allOrNone: false });
    expect(res).toMatchObject({ success: true });
    expect(refreshed).toBe(1);
    expect(fake.requests().filter((r) => r.status === 401)).toHaveLength(1);

    fake.setUsage(100_000);
    const limited = (await conn.sobject("Lead").retrieve(res!.id!).catch((e: unknown) => e)) as { errorCode?: string; name?: string };
    expect(limited.errorCode ?? limited.name).toBe("REQUEST_LIMIT_EXCEEDED");
    fake.setUsage(0);
    // a 503 (SERVER_UNAVAILABLE): jsforce's own retry gets the record on the next try
    fake.faults.failNext(1, 503);
    expect(await conn.sobject("Lead").retrieve(res!.id!)).toMatchObject({ Id: res!.id });
    expect(fake.requests().slice(-2).map((r) => [r.status, r.fault ?? null])).toEqual([
      [503, "failNext"],
      [200, null],
    ]);
    const raw = await fetch(`${fake.url}/services/data/v62.0/sobjects/Lead/${res!.id!}`, { headers: { authorization: `Bearer ${fake.tokensIssued().at(-1)!.token}` } });
    expect(raw.headers.get("sforce-limit-info")).toMatch(/^api-usage=\d+\/100000$/);
    fake.faults.failNext(1, 503);
    expect(await (await fetch(raw.url, { headers: { authorization: `Bearer ${fake.tokensIssued().at(-1)!.token}` } })).json()).toEqual([{ message: "Server temporarily unavailable", errorCode: "SERVER_UNAVAILABLE" }]);
    fake.faults.down();
    expect((await fetch(`${fake.url}/services/data/v62.0/sobjects/Lead/x`)).status).toBe(503);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Zoho CRM: requests as Zoho documents them
// ---------------------------------------------------------------------------------------------------------------------

const Z = { clientId: "1000.FAKECLIENT", clientSecret: "zoho-secret", us: "1000.us.refresh", eu: "1000.eu.refresh" };

async function zoho(opts: Partial<Parameters<typeof startZohoFake>[0]> = {}): Promise<ZohoFake> {
  const fake = await startZohoFake({ clientId: Z.clientId, clientSecret: Z.clientSecret, refreshTokens: [{ token: Z.us }, { token: Z.eu, dc: "eu" }], picklists: { Lead_Status: ["New", "Contacted"] }, ...opts });
  stops.push(() => fake.stop());
  return fake;
}

async function zohoToken(fake: ZohoFake, refreshToken: string, host?: string): Promise<Record<string, unknown>> {
  // "Refreshing your Access Tokens": POST {accounts}/oauth/v2/token?refresh_token=…&client_id=…&client_secret=…&grant_type=refresh_token
  const q = new URLSearchParams({ refresh_token: refreshToken, client_id: Z.clientId, client_secret: Z.clientSecret, grant_type: "refresh_token" });
  const res = await fetch(`${fake.url}/oauth/v2/token?${q}`, { method: "POST", headers: host ? { "x-forwarded-host": host } : {} });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("Zoho CRM stand-in, by Zoho's documented requests", () => {
  it("refreshes tokens per data centre: an EU refresh token works at accounts.zoho.eu only, and its token at www.zohoapis.eu only", async () => {
    expect([dcOfHost("accounts.zoho.eu"), dcOfHost("www.zohoapis.com.au"), dcOfHost("accounts.zohocloud.ca"), dcOfHost("127.0.0.1:4000")]).toEqual(["eu", "com.au", "ca", "com"]);
    const fake = await zoho();
    expect(await zohoToken(fake, Z.eu)).toEqual({ error: "invalid_code" });
    const eu = await zohoToken(fake, Z.eu, "accounts.zoho.eu");
    expect(eu).toMatchObject({ access_token: expect.stringMatching(/^1000\./), api_domain: "https://www.zohoapis.eu", token_type: "Bearer", expires_in: 3600 });
    const body = JSON.stringify({ data: [{ Last_Name: "Curie", Email: "marie@example.eu" }], duplicate_check_fields: ["Email"] });
    const headers = { authorization: `Zoho-oauthtoken ${String(eu.access_token)}`, "content-type": "application/json" };
    const atUs = await fetch(`${fake.url}/crm/v6/Leads/upsert`, { method: "POST", headers, body });
    expect(atUs.status).toBe(401);
    expect(await atUs.json()).toEqual({ code: "INVALID_TOKEN", details: {}, message: "invalid oauth token", status: "error" });
    const atEu = await fetch(`${fake.url}/crm/v6/Leads/upsert`, { method: "POST", headers: { ...headers, "x-forwarded-host": "www.zohoapis.eu" }, body });
    expect(atEu.status).toBe(200);
    expect(fake.records("eu")).toHaveLength(1);
    expect(fake.records("com")).toHaveLength(0);
  });

  it("upserts by duplicate check field, answers per record with the field's api_name on an error, deletes by ids", async () => {
    const fake = await zoho();
    const { access_token } = await zohoToken(fake, Z.us);
    const headers = { authorization: `Zoho-oauthtoken ${String(access_token)}`, "content-type": "application/json" };
    const upsert = (data: unknown[]) => fetch(`${fake.url}/crm/v2/Leads/upsert`, { method: "POST", headers, body: JSON.stringify({ data, duplicate_check_fields: ["Email"] }) });
    const first = await upsert([{ Last_Name: "Lovelace", Email: "ada@example.com" }, { Last_Name: "Hopper", Email: "grace@example.com", Lead_Status: "Sleeping" }, { Email: "noname@example.com" }]);
    expect(first.status).toBe(207);
    const { data } = (await first.json()) as { data: Record<string, unknown>[] };
    expect(data[0]).toMatchObject({ code: "SUCCESS", action: "insert", duplicate_field: null, message: "record added", status: "success", details: { id: expect.any(String) } });
    expect(data[1]).toEqual({ code: "INVALID_DATA", details: { expected_data_type: "picklist", api_name: "Lead_Status" }, message: "invalid data", status: "error" });
    expect(data[2]).toMatchObject({ code: "MANDATORY_NOT_FOUND", details: { api_name: "Last_Name" } });
    const again = (await (await upsert([{ Last_Name: "King", Email: "ADA@example.com" }])).json()) as { data: Record<string, unknown>[] };
    expect(again.data[0]).toMatchObject({ action: "update", duplicate_field: "Email", details: { id: (data[0]!.details as { id: string }).id } });
    expect(fake.records()).toHaveLength(1);
    const id = (data[0]!.details as { id: string }).id;
    const del = await fetch(`${fake.url}/crm/v2/Leads?ids=${id}`, { method: "DELETE", headers });
    expect(((await del.json()) as { data: unknown[] }).data).toEqual([{ code: "SUCCESS", details: { id }, message: "record deleted", status: "success" }]);
    const twice = await fetch(`${fake.url}/crm/v2/Leads?ids=${id}`, { method: "DELETE", headers });
    expect(((await twice.json()) as { data: Record<string, unknown>[] }).data[0]).toMatchObject({ code: "INVALID_DATA", details: { id } });
  });

  it("answers expired tokens, the rate limit and faults with Zoho's bodies", async () => {
    const fake = await zoho({ perMinute: 2 });
    const { access_token } = await zohoToken(fake, Z.us);
    const get = () => fetch(`${fake.url}/crm/v6/Leads/123`, { headers: { authorization: `Zoho-oauthtoken ${String(access_token)}` } });
    expect((await get()).status).toBe(204);
    expect((await get()).status).toBe(204);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: "TOO_MANY_REQUESTS", status: "error" });
    fake.expireAllTokens();
    expect(await (await get()).json()).toMatchObject({ code: "INVALID_TOKEN" });
    fake.faults.failNext(1, 500);
    const failed = await get();
    expect([failed.status, ((await failed.json()) as { code: string }).code]).toEqual([500, "INTERNAL_ERROR"]);
  });
});
