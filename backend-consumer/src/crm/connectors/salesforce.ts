/**
 * Salesforce leads (or contacts): upserted by an external id field that holds our lead id, so a delivery repeated
 * after a crash or a retry updates the record it made instead of making a second one.
 *
 * Requests and answers as documented in Salesforce's REST API Developer Guide:
 * - "Upsert Records Using sObject Collections" (resources_composite_sobjects_collections_upsert):
 *   `PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}` with `{ allOrNone: false, records }`,
 *   up to 200 records, each with `attributes.type`; answers 200 with one result per record, in order:
 *   `{ id, success, errors: [{ statusCode, message, fields }], created }` (API 46.0 and later).
 * - "Status Codes and Error Responses" (errorcodes): errors are `[{ message, errorCode, fields? }]`; 401 is an expired
 *   or invalid session (`INVALID_SESSION_ID`): the token is renewed once and the call repeated; 403 with
 *   `REQUEST_LIMIT_EXCEEDED` is the org's API request limit: tried again after `limitRetrySeconds` (the destination
 *   pauses); 5xx are retried. A record refused for a field (`fields` names it, e.g. `INVALID_EMAIL_ADDRESS` on
 *   Email, `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`) fails that lead at once, naming the field; the others go on.
 * - "Delete a Record" (`DELETE /services/data/vXX.X/sobjects/{SObject}/{id}`, 204): erasure; 404 (`NOT_FOUND`,
 *   `ENTITY_IS_DELETED`) counts as already gone. A deleted record sits in the org's Recycle Bin until emptied (15
 *   days); purging it at once needs the Bulk API's hardDelete, which an org must grant ("Bulk API Hard Delete").
 *
 * Authentication, per Salesforce Help "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration" and "OAuth 2.0
 * Refresh Token Flow": the destination's secret is JSON, either
 *   `{ "flow": "jwt", "clientId": <consumer key>, "username": <integration user>, "privateKey": <PEM> }`: an RS256
 *   assertion (iss = consumer key, sub = username, aud = https://login.salesforce.com or https://test.salesforce.com,
 *   exp within three minutes) POSTed as `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…` to
 *   `{loginUrl}/services/oauth2/token` (the connected app has the certificate and the user is pre-authorized); or
 *   `{ "flow": "refresh_token", "clientId", "clientSecret"?, "refreshToken" }` (the web-server flow's refresh token):
 *   `grant_type=refresh_token`. Both answer `{ access_token, instance_url, … }` without a lifetime (the org's session
 *   timeout decides): a token is renewed after `tokenMinutes`, and once after a 401.
 *
 * Runtime client: plain fetch rather than jsforce. The outbox needs each answer's HTTP status and errorCode to decide
 * retry or not (and to pause on the request limit), the worker's fetch with its timeout (AbortSignal), and the
 * batch sizes it chooses; jsforce has its own transport, folds failures into thrown errors and refreshes sessions
 * its own way. jsforce drives the local stand-in instead (scripts/testing/fake-crm/salesforce.test.ts).
 */
import { createPrivateKey } from "node:crypto";
import { SignJWT } from "jose";
import { z } from "zod";
import { parseCredentials, TokenCache, TokenError, type AccessToken } from "../oauth-tokens.ts";
import { erasureFailureOf, erasureNetworkFailure, failureOf, networkFailure, timedFetch, type Connector, type DeliveryItem, type DestinationContext, type ErasureResult, type ItemResult } from "./types.ts";
import { crmFields } from "../mapping.ts";

const LEAD_FIELDS: Record<string, string> = {
  email: "Email",
  firstName: "FirstName",
  lastName: "LastName",
  phone: "Phone",
  company: "Company",
  website: "Website",
  address: "Street",
  city: "City",
  state: "State",
  postalCode: "PostalCode",
  country: "Country",
  notes: "Description",
  source: "LeadSource",
};
/** Contacts have no Company or Website; the address is the mailing address. */
const CONTACT_FIELDS: Record<string, string> = {
  email: "Email",
  firstName: "FirstName",
  lastName: "LastName",
  phone: "Phone",
  address: "MailingStreet",
  city: "MailingCity",
  state: "MailingState",
  postalCode: "MailingPostalCode",
  country: "MailingCountry",
  notes: "Description",
  source: "LeadSource",
};
/** Fields the object requires (Lead: LastName and Company; Contact: LastName). */
const REQUIRED: Record<string, string[]> = { Lead: ["LastName", "Company"], Contact: ["LastName"] };

export const salesforceSecretSchema = z.discriminatedUnion("flow", [
  z.strictObject({ flow: z.literal("jwt"), clientId: z.string().min(1).max(255), username: z.string().min(1).max(255), privateKey: z.string().min(100).max(10_000) }),
  z.strictObject({ flow: z.literal("refresh_token"), clientId: z.string().min(1).max(255), clientSecret: z.string().min(1).max(255).optional(), refreshToken: z.string().min(1).max(1000) }),
]);
export type SalesforceSecret = z.infer<typeof salesforceSecretSchema>;

const configSchema = z.strictObject({
  loginUrl: z
    .url({ protocol: /^https?$/ })
    .default("https://login.salesforce.com")
    .describe("Where tokens are asked for: https://login.salesforce.com, https://test.salesforce.com (a sandbox) or the org's My Domain."),
  audience: z.url().optional().describe("The JWT's aud; default https://test.salesforce.com for sandboxes, else https://login.salesforce.com."),
  apiVersion: z.string().regex(/^v\d{2,3}\.\d$/).default("v62.0").describe("REST API version (46.0 or later for sObject Collections upserts)."),
  sobject: z.enum(["Lead", "Contact"]).default("Lead").describe("What a lead becomes: a Lead (default) or a Contact."),
  externalIdField: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}__c$/)
    .default("Lead_Tracker_Id__c")
    .describe("A custom text field marked External ID (and Unique) on the object; it holds our lead id."),
  placeholder: z.string().min(1).max(80).default("[not provided]").describe("Value of a required field (LastName; Company on leads) the lead has no value for."),
  tokenMinutes: z.number().int().min(5).max(24 * 60).default(60).describe("Renew the access token after this long (keep it under the org's session timeout)."),
  limitRetrySeconds: z.number().int().min(1).max(24 * 3600).default(900).describe("Wait after REQUEST_LIMIT_EXCEEDED before trying again."),
});
type Config = z.infer<typeof configSchema>;

const tokens = new TokenCache();
/** The process's Salesforce token cache (tests read its request count). */
export const salesforceTokens = tokens;

export const parseSalesforceSecret = (secret: string | null): SalesforceSecret => parseCredentials("Salesforce", salesforceSecretSchema, secret);

/** The JWT's audience: the config's, else test.salesforce.com for sandboxes, else login.salesforce.com. */
export function salesforceAudience(config: Pick<Config, "loginUrl" | "audience">): string {
  if (config.audience) return config.audience;
  const host = new URL(config.loginUrl).hostname;
  return host === "test.salesforce.com" || host.endsWith(".sandbox.my.salesforce.com") ? "https://test.salesforce.com" : "https://login.salesforce.com";
}

/** The token request's form: the JWT bearer assertion or the refresh token grant. */
export async function salesforceTokenForm(secret: SalesforceSecret, config: Pick<Config, "loginUrl" | "audience">, now = Date.now()): Promise<URLSearchParams> {
  if (secret.flow === "refresh_token") {
    return new URLSearchParams({ grant_type: "refresh_token", client_id: secret.clientId, refresh_token: secret.refreshToken, ...(secret.clientSecret ? { client_secret: secret.clientSecret } : {}) });
  }
  const seconds = Math.floor(now / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: "RS256" })
    .setIssuer(secret.clientId)
    .setSubject(secret.username)
    .setAudience(salesforceAudience(config))
    // documented: exp within three minutes
    .setExpirationTime(seconds + 180)
    .sign(createPrivateKey(secret.privateKey));
  return new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion });
}

async function requestToken(destination: DestinationContext, config: Config): Promise<AccessToken> {
  const secret = parseSalesforceSecret(destination.secret);
  const body = await salesforceTokenForm(secret, config);
  let res: Response;
  try {
    res = await timedFetch(destination.fetch, `${config.loginUrl.replace(/\/+$/, "")}/services/oauth2/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body }, destination.timeoutMs);
  } catch (err) {
    throw new TokenError(`Salesforce token: network: ${err instanceof Error ? err.message : String(err)}`, null);
  }
  const answer = (await res.json().catch(() => ({}))) as { access_token?: string; instance_url?: string; error?: string; error_description?: string };
  if (!res.ok || !answer.access_token || !answer.instance_url) {
    // invalid_grant and friends: the credentials (or the app's approval) need fixing; retried, as a token can be fixed
    throw new TokenError(`Salesforce token: ${res.status} ${answer.error ?? ""} ${answer.error_description ?? ""}`.trim(), res.status);
  }
  return { token: answer.access_token, apiUrl: answer.instance_url.replace(/\/+$/, ""), refreshAt: Date.now() + config.tokenMinutes * 60_000 };
}

/** The record of one lead: our lead id in the external id field, mapped fields, required fields filled. */
export function salesforceRecord(item: Pick<DeliveryItem, "leadId" | "contact">, config: Pick<Config, "sobject" | "externalIdField" | "placeholder">): Record<string, unknown> {
  const names = config.sobject === "Contact" ? CONTACT_FIELDS : LEAD_FIELDS;
  // no full-name field: a name without first/last parts fills them
  const record: Record<string, unknown> = { attributes: { type: config.sobject }, ...crmFields(item.contact, names, { first: "FirstName", last: "LastName", single: "last" }) };
  for (const field of REQUIRED[config.sobject] ?? []) if (!record[field]) record[field] = config.placeholder;
  record[config.externalIdField] = item.leadId;
  return record;
}

interface SalesforceError {
  statusCode?: string;
  errorCode?: string;
  message?: string;
  fields?: string[];
}

/** Per-record errors no retry changes, except a few Salesforce documents as transient. */
const TRANSIENT = new Set(["UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "ALL_OR_NONE_OPERATION_ROLLED_BACK"]);

/** One record's result of a collections upsert. */
export function salesforceResult(result: { id?: string; success?: boolean; errors?: SalesforceError[] } | undefined): ItemResult {
  if (!result) return { ok: false, error: "Salesforce: not in the answer", retryable: true };
  if (result.success && result.id) return { ok: true, externalId: result.id };
  const errors = result.errors ?? [];
  const text = errors.map((e) => `${e.statusCode ?? e.errorCode ?? "ERROR"}${e.fields?.length ? ` on field ${e.fields.join(", ")}` : ""}: ${e.message ?? ""}`).join("; ");
  return { ok: false, error: `Salesforce: ${text || "refused"}`.slice(0, 500), retryable: errors.length > 0 && errors.every((e) => TRANSIENT.has(e.statusCode ?? e.errorCode ?? "")) };
}

/** A whole request's failure: the request limit waits `limitRetrySeconds`; otherwise as failureOf. */
export function salesforceFailure(res: Response, body: unknown, limitRetrySeconds: number): ItemResult & { ok: false } {
  const errors = (Array.isArray(body) ? body : []) as SalesforceError[];
  const codes = errors.map((e) => e.errorCode ?? e.statusCode).filter(Boolean);
  const detail = errors.map((e) => `${e.errorCode ?? e.statusCode ?? ""}${e.fields?.length ? ` on field ${e.fields.join(", ")}` : ""}: ${e.message ?? ""}`).join("; ");
  if (codes.includes("REQUEST_LIMIT_EXCEEDED")) return { ok: false, error: `${res.status} ${detail}`.slice(0, 500), retryable: true, retryAfterMs: limitRetrySeconds * 1000 };
  return failureOf(res, detail ? `Salesforce: ${detail}` : "Salesforce");
}

/** Calls the API with the destination's token; a 401 renews the token once and repeats the call. */
async function call(destination: DestinationContext, config: Config, path: (apiUrl: string) => string, init: RequestInit): Promise<Response> {
  const key = TokenCache.key(destination.id, destination.secret);
  let auth = await tokens.get(key, () => requestToken(destination, config));
  const send = (a: AccessToken) =>
    timedFetch(destination.fetch, path(a.apiUrl!), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${a.token}`, accept: "application/json" } }, destination.timeoutMs);
  let res = await send(auth);
  if (res.status === 401) {
    await res.arrayBuffer().catch(() => undefined);
    auth = await tokens.get(key, () => requestToken(destination, config), auth.token);
    res = await send(auth);
  }
  return res;
}

/** A token that could not be had: retried (credentials can be fixed), with the endpoint's reason on the lead. */
const tokenFailure = (err: TokenError): ItemResult => ({ ok: false, error: err.message.slice(0, 500), retryable: true });

export const connector: Connector = {
  kind: "salesforce",
  label: "Salesforce leads or contacts",
  configSchema,
  secret: {
    required: true,
    describe:
      'JSON credentials of a connected app. JWT bearer flow: {"flow":"jwt","clientId":"<consumer key>","username":"<integration user>","privateKey":"-----BEGIN PRIVATE KEY-----…"}; or the web-server flow\'s refresh token: {"flow":"refresh_token","clientId":"…","clientSecret":"…","refreshToken":"…"}.',
    validate: (s) => {
      let secret: SalesforceSecret;
      try {
        secret = parseSalesforceSecret(s);
      } catch (err) {
        return err instanceof Error ? err.message : "invalid";
      }
      if (secret.flow === "jwt") {
        try {
          if (createPrivateKey(secret.privateKey).asymmetricKeyType !== "rsa") return "privateKey: expected an RSA private key (RS256)";
        } catch {
          return "privateKey: not a PEM private key";
        }
      }
      return null;
    },
  },
  maxBatch: 200,
  rateLimit: { requests: 100, windowMs: 10_000 },
  sendsDeletes: false,
  async deliver(items, destination) {
    const config = configSchema.parse(destination.config);
    const records = items.map((item) => salesforceRecord(item, config));
    let res: Response;
    try {
      res = await call(destination, config, (api) => `${api}/services/data/${config.apiVersion}/composite/sobjects/${config.sobject}/${config.externalIdField}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ allOrNone: false, records }),
      });
    } catch (err) {
      if (err instanceof TokenError) return items.map(() => tokenFailure(err));
      return items.map(() => networkFailure(err));
    }
    const answer = (await res.json().catch(() => null)) as unknown;
    if (!res.ok) {
      const failure = salesforceFailure(res, answer, config.limitRetrySeconds);
      return items.map(() => failure);
    }
    const results = Array.isArray(answer) ? (answer as Parameters<typeof salesforceResult>[0][]) : [];
    return items.map((_, i) => salesforceResult(results[i]));
  },
  erasure: {
    needsExternalId: true,
    always: false,
    async erase(item, destination): Promise<ErasureResult> {
      if (!item.externalId) return { ok: false, reason: "unexpected", status: null, retryable: false };
      const config = configSchema.parse(destination.config);
      let res: Response;
      try {
        res = await call(destination, config, (api) => `${api}/services/data/${config.apiVersion}/sobjects/${config.sobject}/${encodeURIComponent(item.externalId!)}`, { method: "DELETE" });
        // never kept: an error body may name the record
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        if (err instanceof TokenError) return { ok: false, reason: "not_connected", status: err.status, retryable: true };
        return erasureNetworkFailure(err);
      }
      if (res.ok) return { ok: true };
      if (res.status === 404) return { ok: true, gone: true };
      const failure = erasureFailureOf(res);
      // the org's request limit: wait as deliveries do (the status says so; the body is not read)
      return res.status === 403 ? { ...failure, retryable: true, retryAfterMs: config.limitRetrySeconds * 1000 } : failure;
    },
  },
};
