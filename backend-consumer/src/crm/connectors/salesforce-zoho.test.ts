/**
 * The Salesforce and Zoho connectors against a stub fetch: the requests they build (token grants, upserts, deletes),
 * how they read answers (per record, whole request), which failures are retried, and Zoho's data centre domains.
 */
import { generateKeyPairSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { connector as salesforce, salesforceAudience, salesforceFailure, salesforceRecord, salesforceResult, salesforceTokenForm } from "./salesforce.ts";
import type { DeliveryItem, DestinationContext } from "./types.ts";
import { connector as zoho, zohoDomains, zohoFailure, zohoRecord, zohoResult } from "./zoho.ts";

const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PRIVATE = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const SF_JWT = JSON.stringify({ flow: "jwt", clientId: "3MVG9key", username: "int@agency.example", privateKey: PRIVATE });
const SF_REFRESH = JSON.stringify({ flow: "refresh_token", clientId: "3MVG9key", clientSecret: "s", refreshToken: "5Aep" });
const ZOHO = JSON.stringify({ clientId: "1000.C", clientSecret: "s", refreshToken: "1000.r" });

interface Seen {
  url: string;
  init: RequestInit;
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
function stub(...answers: Response[]): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      const next = answers.shift();
      if (!next) throw new Error("no more answers");
      return next;
    }) as unknown as typeof fetch,
  };
}
let n = 0;
const ctx = (kind: "sf" | "zoho", f: typeof fetch, config: Record<string, unknown> = {}, secret = kind === "sf" ? SF_JWT : ZOHO): DestinationContext => ({
  // a fresh destination id per test: the token caches are per destination
  id: `dest-${kind}-${++n}`,
  tenantId: "t",
  locationId: "l",
  config: (kind === "sf" ? salesforce : zoho).configSchema.parse(config),
  secret,
  fetch: f,
  timeoutMs: 1000,
});
const item = (leadId: string, contact: Record<string, string>): DeliveryItem => ({ deliveryId: `${leadId}.v1`, type: "lead.created", leadId, version: 1, lead: null, contact });
const sfToken = (instance = "https://acme.my.salesforce.com") => json(200, { access_token: `00D!${++n}`, instance_url: instance, token_type: "Bearer" });
const zohoToken = (expires = 3600) => json(200, { access_token: `1000.${++n}`, api_domain: "https://www.zohoapis.eu", token_type: "Bearer", expires_in: expires });

describe("Salesforce connector", () => {
  it("builds the record: our lead id in the external id field, mapped and custom fields, required fields filled", () => {
    const config = { sobject: "Lead" as const, externalIdField: "Lead_Tracker_Id__c", placeholder: "[not provided]" };
    expect(salesforceRecord(item("L1", { email: "a@x.io", name: "Ada King Lovelace", phone: "+1", "custom.Plan__c": "pro", notes: "hi" }), config)).toEqual({
      attributes: { type: "Lead" },
      Email: "a@x.io",
      FirstName: "Ada",
      LastName: "King Lovelace",
      Phone: "+1",
      Plan__c: "pro",
      Description: "hi",
      Company: "[not provided]",
      Lead_Tracker_Id__c: "L1",
    });
    expect(salesforceRecord(item("L2", { email: "b@x.io", company: "Acme", address: "1 Main" }), { ...config, sobject: "Contact" })).toEqual({
      attributes: { type: "Contact" },
      Email: "b@x.io",
      MailingStreet: "1 Main",
      LastName: "[not provided]",
      Lead_Tracker_Id__c: "L2",
    });
  });

  it("signs an RS256 JWT bearer assertion (iss, sub, aud, exp within 3 minutes), or asks with the refresh token", async () => {
    const form = await salesforceTokenForm(JSON.parse(SF_JWT), { loginUrl: "https://login.salesforce.com" });
    expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    const jwt = form.get("assertion")!;
    expect(decodeProtectedHeader(jwt).alg).toBe("RS256");
    const { payload } = await jwtVerify(jwt, keys.publicKey, { audience: "https://login.salesforce.com", issuer: "3MVG9key", subject: "int@agency.example" });
    expect(payload.exp! - Date.now() / 1000).toBeLessThanOrEqual(180);
    expect(decodeJwt((await salesforceTokenForm(JSON.parse(SF_JWT), { loginUrl: "https://test.salesforce.com" })).get("assertion")!).aud).toBe("https://test.salesforce.com");
    expect(salesforceAudience({ loginUrl: "https://acme--dev.sandbox.my.salesforce.com" })).toBe("https://test.salesforce.com");
    expect(salesforceAudience({ loginUrl: "https://acme.my.salesforce.com" })).toBe("https://login.salesforce.com");
    expect(Object.fromEntries(await salesforceTokenForm(JSON.parse(SF_REFRESH), { loginUrl: "https://login.salesforce.com" }))).toEqual({ grant_type: "refresh_token", client_id: "3MVG9key", client_secret: "s", refresh_token: "5Aep" });
  });

  it("upserts a batch with allOrNone false at the instance, reads results per record: a field's error fails that lead, named, not retried", async () => {
    const { fetch, seen } = stub(
      sfToken(),
      json(200, [
        { id: "00Q1", success: true, errors: [], created: true },
        { success: false, errors: [{ statusCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message: "Rating: bad value for restricted picklist field: Lukewarm", fields: ["Rating"] }] },
        { success: false, errors: [{ statusCode: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access to this record", fields: [] }] },
      ]),
    );
    const results = await salesforce.deliver([item("L1", { email: "a@x.io" }), item("L2", { email: "b@x.io" }), item("L3", { email: "c@x.io" })], ctx("sf", fetch, { apiVersion: "v61.0" }));
    expect(seen[0]!.url).toBe("https://login.salesforce.com/services/oauth2/token");
    expect(seen[1]!.url).toBe("https://acme.my.salesforce.com/services/data/v61.0/composite/sobjects/Lead/Lead_Tracker_Id__c");
    expect(seen[1]!.init.method).toBe("PATCH");
    expect((seen[1]!.init.headers as Record<string, string>).authorization).toMatch(/^Bearer 00D!/);
    const body = JSON.parse(String(seen[1]!.init.body)) as { allOrNone: boolean; records: Record<string, unknown>[] };
    expect(body.allOrNone).toBe(false);
    expect(body.records.map((r) => r.Lead_Tracker_Id__c)).toEqual(["L1", "L2", "L3"]);
    expect(results[0]).toEqual({ ok: true, externalId: "00Q1" });
    expect(results[1]).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining("on field Rating") });
    expect(results[2]).toMatchObject({ ok: false, retryable: true });
  });

  it("renews the token once after INVALID_SESSION_ID and repeats the call; a second 401 is a retryable failure", async () => {
    const { fetch, seen } = stub(sfToken(), json(401, [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]), sfToken(), json(200, [{ id: "00Q2", success: true, errors: [] }]));
    const dest = ctx("sf", fetch);
    expect(await salesforce.deliver([item("L1", { email: "a@x.io" })], dest)).toEqual([{ ok: true, externalId: "00Q2" }]);
    expect(seen.map((s) => new URL(s.url).pathname)).toEqual(["/services/oauth2/token", expect.stringContaining("composite"), "/services/oauth2/token", expect.stringContaining("composite")]);
    expect((seen[3]!.init.headers as Record<string, string>).authorization).not.toBe((seen[1]!.init.headers as Record<string, string>).authorization);
    const again = stub(sfToken(), json(401, [{ errorCode: "INVALID_SESSION_ID", message: "x" }]), sfToken(), json(401, [{ errorCode: "INVALID_SESSION_ID", message: "x" }]));
    const [failed] = await salesforce.deliver([item("L1", { email: "a@x.io" })], ctx("sf", again.fetch));
    expect(failed).toMatchObject({ ok: false, retryable: true, error: expect.stringMatching(/^401 .*INVALID_SESSION_ID/) });
    // the cached token is reused while fresh
    const cached = stub(sfToken(), json(200, [{ id: "a", success: true, errors: [] }]), json(200, [{ id: "a", success: true, errors: [] }]));
    const same = ctx("sf", cached.fetch);
    await salesforce.deliver([item("L1", { email: "a@x.io" })], same);
    await salesforce.deliver([item("L1", { email: "a@x.io" })], same);
    expect(cached.seen.filter((s) => s.url.endsWith("/oauth2/token"))).toHaveLength(1);
  });

  it("classifies whole-request failures: REQUEST_LIMIT_EXCEEDED waits limitRetrySeconds, 5xx retried, 400 INVALID_FIELD not, a refused token retried", async () => {
    const limited = salesforceFailure(new Response(null, { status: 403 }), [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }], 900);
    expect(limited).toMatchObject({ ok: false, retryable: true, retryAfterMs: 900_000 });
    expect(salesforceFailure(new Response(null, { status: 503 }), [{ errorCode: "SERVER_UNAVAILABLE", message: "x" }], 900)).toMatchObject({ retryable: true });
    expect(salesforceFailure(new Response(null, { status: 400 }), [{ errorCode: "INVALID_FIELD", message: "No such column 'X__c' on sobject of type Lead" }], 900)).toMatchObject({ retryable: false, error: expect.stringContaining("X__c") });
    expect(salesforceResult({ success: false, errors: [{ statusCode: "REQUIRED_FIELD_MISSING", message: "Required fields are missing: [LastName]", fields: ["LastName"] }] })).toMatchObject({ retryable: false, error: expect.stringContaining("on field LastName") });
    const { fetch } = stub(json(400, { error: "invalid_grant", error_description: "user hasn't approved this consumer" }));
    const [noToken] = await salesforce.deliver([item("L1", { email: "a@x.io" })], ctx("sf", fetch));
    expect(noToken).toMatchObject({ ok: false, retryable: true, error: expect.stringContaining("invalid_grant") });
  });

  it("erases by DELETE /sobjects/{SObject}/{id}; 404 is already gone", async () => {
    const { fetch, seen } = stub(sfToken(), new Response(null, { status: 204 }), new Response(JSON.stringify([{ errorCode: "ENTITY_IS_DELETED", message: "entity is deleted" }]), { status: 404 }));
    const dest = ctx("sf", fetch, { sobject: "Contact" });
    const erasure = { deliveryId: "L1.erased", leadId: "L1", externalId: "003AB", at: new Date() };
    expect(await salesforce.erasure!.erase(erasure, dest)).toEqual({ ok: true });
    expect(seen[1]).toMatchObject({ url: "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Contact/003AB", init: { method: "DELETE" } });
    expect(await salesforce.erasure!.erase(erasure, dest)).toEqual({ ok: true, gone: true });
  });

  it("validates the secret: JSON of one of the two flows, an RSA private key for the JWT flow", () => {
    const validate = salesforce.secret.validate!;
    expect(validate(SF_JWT)).toBeNull();
    expect(validate(SF_REFRESH)).toBeNull();
    expect(validate("nope")).toMatch(/not JSON/);
    expect(validate(JSON.stringify({ flow: "jwt", clientId: "x", username: "u", privateKey: "-----BEGIN PRIVATE KEY-----\n" + "A".repeat(120) + "\n-----END PRIVATE KEY-----" }))).toMatch(/privateKey/);
  });
});

describe("Zoho connector", () => {
  it("picks the accounts server and API domain of the data centre", () => {
    expect(zohoDomains("eu")).toEqual({ accounts: "https://accounts.zoho.eu", api: "https://www.zohoapis.eu" });
    expect(zohoDomains("com.au")).toEqual({ accounts: "https://accounts.zoho.com.au", api: "https://www.zohoapis.com.au" });
    expect(zohoDomains("ca")).toEqual({ accounts: "https://accounts.zohocloud.ca", api: "https://www.zohoapis.ca" });
    expect(zohoDomains("com")).toEqual({ accounts: "https://accounts.zoho.com", api: "https://www.zohoapis.com" });
  });

  it("builds the record: Zoho's field names, custom fields, Last_Name filled, the lead id field when configured", () => {
    expect(zohoRecord(item("L1", { email: "a@x.io", name: "Ada Lovelace", postalCode: "123", "custom.Plan": "pro" }), { module: "Leads", placeholder: "[not provided]", leadIdField: "Lead_Tracker_Id" })).toEqual({
      Email: "a@x.io",
      First_Name: "Ada",
      Last_Name: "Lovelace",
      Zip_Code: "123",
      Plan: "pro",
      Lead_Tracker_Id: "L1",
    });
    expect(zohoRecord(item("L2", { email: "b@x.io", company: "Acme" }), { module: "Contacts", placeholder: "-", leadIdField: undefined })).toEqual({ Email: "b@x.io", Last_Name: "-" });
  });

  it("refreshes at the EU accounts server with a form body, upserts at the EU API domain with Zoho-oauthtoken and duplicate_check_fields", async () => {
    const { fetch, seen } = stub(
      zohoToken(),
      json(207, {
        data: [
          { code: "SUCCESS", duplicate_field: null, action: "insert", details: { id: "5725767000000524001" }, message: "record added", status: "success" },
          { code: "INVALID_DATA", details: { expected_data_type: "picklist", api_name: "Lead_Status" }, message: "invalid data", status: "error" },
        ],
      }),
    );
    const results = await zoho.deliver([item("L1", { email: "a@x.io" }), item("L2", { email: "b@x.io" })], ctx("zoho", fetch, { location: "eu" }));
    expect(seen[0]!.url).toBe("https://accounts.zoho.eu/oauth/v2/token");
    expect(Object.fromEntries(new URLSearchParams(String(seen[0]!.init.body)))).toEqual({ grant_type: "refresh_token", client_id: "1000.C", client_secret: "s", refresh_token: "1000.r" });
    expect(seen[1]!.url).toBe("https://www.zohoapis.eu/crm/v6/Leads/upsert");
    expect((seen[1]!.init.headers as Record<string, string>).authorization).toMatch(/^Zoho-oauthtoken 1000\./);
    expect(JSON.parse(String(seen[1]!.init.body))).toMatchObject({ duplicate_check_fields: ["Email"], data: [{ Email: "a@x.io", Last_Name: "[not provided]" }, { Email: "b@x.io" }] });
    expect(results[0]).toEqual({ ok: true, externalId: "5725767000000524001" });
    expect(results[1]).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining("on field Lead_Status (expected picklist)") });
  });

  it("renews the token before it expires, and once after INVALID_TOKEN", async () => {
    const ok = () => json(200, { data: [{ code: "SUCCESS", details: { id: "1" }, status: "success" }] });
    // a token living 2 s is renewed after 1.8 s (a tenth of its life early)
    const early = stub(zohoToken(2), ok(), zohoToken(), ok());
    const dest = ctx("zoho", early.fetch);
    await zoho.deliver([item("L1", { email: "a@x.io" })], dest);
    await new Promise((r) => setTimeout(r, 1900));
    await zoho.deliver([item("L1", { email: "a@x.io" })], dest);
    expect(early.seen.map((s) => new URL(s.url).pathname)).toEqual(["/oauth/v2/token", "/crm/v6/Leads/upsert", "/oauth/v2/token", "/crm/v6/Leads/upsert"]);
    const after401 = stub(zohoToken(), json(401, { code: "INVALID_TOKEN", details: {}, message: "invalid oauth token", status: "error" }), zohoToken(), ok());
    expect(await zoho.deliver([item("L1", { email: "a@x.io" })], ctx("zoho", after401.fetch))).toEqual([{ ok: true, externalId: "1" }]);
    expect(after401.seen).toHaveLength(4);
    const refused = stub(json(200, { error: "invalid_code" }));
    expect((await zoho.deliver([item("L1", { email: "a@x.io" })], ctx("zoho", refused.fetch)))[0]).toMatchObject({ ok: false, retryable: true, error: expect.stringContaining("invalid_code") });
  });

  it("classifies failures: 429 waits Retry-After or rateLimitRetrySeconds, 5xx retried, a record's MANDATORY_NOT_FOUND not", () => {
    expect(zohoFailure(new Response(null, { status: 429 }), { code: "TOO_MANY_REQUESTS" }, 60)).toMatchObject({ retryable: true, retryAfterMs: 60_000 });
    expect(zohoFailure(new Response(null, { status: 429, headers: { "retry-after": "5" } }), { code: "TOO_MANY_REQUESTS" }, 60)).toMatchObject({ retryable: true, retryAfterMs: 5_000 });
    expect(zohoFailure(new Response(null, { status: 500 }), { code: "INTERNAL_ERROR" }, 60)).toMatchObject({ retryable: true });
    expect(zohoResult({ code: "MANDATORY_NOT_FOUND", details: { api_name: "Last_Name" }, message: "required field not found", status: "error" })).toMatchObject({ retryable: false, error: expect.stringContaining("on field Last_Name") });
  });

  it("erases with DELETE ?ids=; INVALID_DATA for the id is already gone", async () => {
    const { fetch, seen } = stub(
      zohoToken(),
      json(200, { data: [{ code: "SUCCESS", details: { id: "42" }, message: "record deleted", status: "success" }] }),
      json(200, { data: [{ code: "INVALID_DATA", details: { id: "42" }, message: "the related id given seems to be invalid", status: "error" }] }),
    );
    const dest = ctx("zoho", fetch, { location: "jp", apiVersion: "v2" });
    const erasure = { deliveryId: "L1.erased", leadId: "L1", externalId: "42", at: new Date() };
    expect(await zoho.erasure!.erase(erasure, dest)).toEqual({ ok: true });
    expect(seen[1]).toMatchObject({ url: "https://www.zohoapis.jp/crm/v2/Leads?ids=42", init: { method: "DELETE" } });
    expect(await zoho.erasure!.erase(erasure, dest)).toEqual({ ok: true, gone: true });
  });
});
