/**
 * Zoho CRM leads (or contacts), upserted by Zoho's duplicate check fields (Email by default), so a repeated delivery
 * updates the record it made.
 *
 * Requests and answers as documented in Zoho CRM's API reference:
 * - "Insert or Update Records (Upsert)": `POST {api-domain}/crm/{version}/{module}/upsert` with
 *   `Authorization: Zoho-oauthtoken <token>` and `{ data: [...], duplicate_check_fields: ["Email"] }`, at most 100
 *   records a call; one answer per record, in order: `{ code: "SUCCESS", action: "insert" | "update",
 *   duplicate_field, details: { id, … }, message, status: "success" }`, or `{ code: "INVALID_DATA" |
 *   "MANDATORY_NOT_FOUND" | …, details: { api_name, expected_data_type? }, message, status: "error" }`: a record
 *   refused for a field fails that lead at once, naming the field (`details.api_name`); the others go on.
 * - Status codes: 401 `INVALID_TOKEN` (an expired or revoked access token: renewed once and the call repeated),
 *   429 `TOO_MANY_REQUESTS` (the API or concurrency limit: tried again after Retry-After, else `rateLimitRetrySeconds`,
 *   the destination pausing meanwhile), 5xx retried.
 * - "Delete Records": `DELETE {api-domain}/crm/{version}/{module}?ids=<id>`, answering per id
 *   `{ code: "SUCCESS", details: { id }, status: "success" }`; an id Zoho does not hold is answered `INVALID_DATA`
 *   (the id is invalid): counted as already gone, as is a 404.
 * - OAuth ("Refreshing your Access Tokens", "Multi DC Support"): the secret is JSON `{ "clientId", "clientSecret",
 *   "refreshToken" }` (a self client's or a server-based client's refresh token, which does not expire);
 *   `POST {accounts-server}/oauth/v2/token` with grant_type=refresh_token, client_id, client_secret, refresh_token
 *   (sent as a form body, not in the URL, so they stay out of access logs) answers `{ access_token, api_domain,
 *   token_type, expires_in: 3600 }`; a refused refresh token is answered 200 `{ error: "invalid_code" }`. Tokens are
 *   renewed five minutes before they expire and once after a 401. The data centre decides both domains: a location
 *   on `eu` uses accounts.zoho.eu and www.zohoapis.eu (and so on for com, in, com.au, jp, ca; Canada's accounts
 *   server is accounts.zohocloud.ca).
 *
 * Zoho's official Node SDK is not used: it keeps tokens in its own store (a file or a database), fixes the domains
 * through its DataCenter classes, and hides the per-record answers this connector needs.
 */
import { z } from "zod";
import { parseCredentials, refreshAtFor, TokenCache, TokenError, type AccessToken } from "../oauth-tokens.ts";
import { erasureFailureOf, erasureNetworkFailure, failureOf, networkFailure, timedFetch, type Connector, type DeliveryItem, type DestinationContext, type ErasureResult, type ItemResult } from "./types.ts";
import { crmFields } from "../mapping.ts";

export const ZOHO_LOCATIONS = ["com", "eu", "in", "com.au", "jp", "ca"] as const;
export type ZohoLocation = (typeof ZOHO_LOCATIONS)[number];

/** Accounts server and API domain of each data centre (Zoho CRM "Multi DC Support"). */
export function zohoDomains(location: ZohoLocation): { accounts: string; api: string } {
  if (location === "ca") return { accounts: "https://accounts.zohocloud.ca", api: "https://www.zohoapis.ca" };
  return { accounts: `https://accounts.zoho.${location}`, api: `https://www.zohoapis.${location}` };
}

const FIELDS: Record<string, string> = {
  email: "Email",
  firstName: "First_Name",
  lastName: "Last_Name",
  phone: "Phone",
  company: "Company",
  website: "Website",
  address: "Street",
  city: "City",
  state: "State",
  postalCode: "Zip_Code",
  country: "Country",
  notes: "Description",
  source: "Lead_Source",
};
const CONTACT_FIELDS: Record<string, string> = {
  ...FIELDS,
  address: "Mailing_Street",
  city: "Mailing_City",
  state: "Mailing_State",
  postalCode: "Mailing_Zip",
  country: "Mailing_Country",
  company: "",
  website: "",
};

export const zohoSecretSchema = z.strictObject({ clientId: z.string().min(1).max(255), clientSecret: z.string().min(1).max(255), refreshToken: z.string().min(1).max(1000) });
export type ZohoSecret = z.infer<typeof zohoSecretSchema>;

const configSchema = z.strictObject({
  location: z.enum(ZOHO_LOCATIONS).default("com").describe("The Zoho data centre of the CRM account: com, eu, in, com.au, jp or ca (its accounts server and API domain follow)."),
  accountsUrl: z.url({ protocol: /^https?$/ }).optional().describe("Overrides the data centre's accounts server (a local stand-in)."),
  apiUrl: z.url({ protocol: /^https?$/ }).optional().describe("Overrides the data centre's API domain (a local stand-in)."),
  apiVersion: z.enum(["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"]).default("v6"),
  module: z.enum(["Leads", "Contacts"]).default("Leads").describe("What a lead becomes: a Lead (default) or a Contact."),
  duplicateCheckFields: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,99}$/)).min(1).max(5).default(["Email"]).describe("Fields Zoho matches an existing record by (system duplicate check or unique fields)."),
  leadIdField: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,99}$/).optional().describe("A field to hold our lead id (e.g. a unique Lead_Tracker_Id; list it first in duplicateCheckFields to match by it)."),
  placeholder: z.string().min(1).max(80).default("[not provided]").describe("Last_Name of a lead without a last name (Zoho requires one)."),
  rateLimitRetrySeconds: z.number().int().min(1).max(24 * 3600).default(60).describe("Wait after a 429 without Retry-After."),
});
type Config = z.infer<typeof configSchema>;

const tokens = new TokenCache();
/** The process's Zoho token cache (tests read its request count). */
export const zohoTokens = tokens;

function endpoints(config: Pick<Config, "location" | "accountsUrl" | "apiUrl">): { accounts: string; api: string } {
  const dc = zohoDomains(config.location);
  return { accounts: (config.accountsUrl ?? dc.accounts).replace(/\/+$/, ""), api: (config.apiUrl ?? dc.api).replace(/\/+$/, "") };
}

export const parseZohoSecret = (secret: string | null): ZohoSecret => parseCredentials("Zoho", zohoSecretSchema, secret);

async function requestToken(destination: DestinationContext, config: Config): Promise<AccessToken> {
  const secret = parseZohoSecret(destination.secret);
  const { accounts } = endpoints(config);
  const body = new URLSearchParams({ grant_type: "refresh_token", client_id: secret.clientId, client_secret: secret.clientSecret, refresh_token: secret.refreshToken });
  let res: Response;
  try {
    res = await timedFetch(destination.fetch, `${accounts}/oauth/v2/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body }, destination.timeoutMs);
  } catch (err) {
    throw new TokenError(`Zoho token: network: ${err instanceof Error ? err.message : String(err)}`, null);
  }
  const answer = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || !answer.access_token) throw new TokenError(`Zoho token: ${res.status} ${answer.error ?? ""} ${answer.error_description ?? ""}`.trim(), res.status);
  const lifetime = (Number(answer.expires_in) > 0 ? Number(answer.expires_in) : 3600) * 1000;
  // the API domain of the configured data centre (or the override); the answer's api_domain names the same one
  return { token: answer.access_token, refreshAt: refreshAtFor(Date.now(), lifetime) };
}

/** The record of one lead: mapped fields, Last_Name filled, our lead id when a field holds it. */
export function zohoRecord(item: Pick<DeliveryItem, "leadId" | "contact">, config: Pick<Config, "module" | "leadIdField" | "placeholder">): Record<string, unknown> {
  const names = config.module === "Contacts" ? CONTACT_FIELDS : FIELDS;
  const record: Record<string, unknown> = crmFields(item.contact, names, { first: "First_Name", last: "Last_Name", single: "last" });
  if (!record.Last_Name) record.Last_Name = config.placeholder;
  if (config.leadIdField) record[config.leadIdField] = item.leadId;
  return record;
}

interface ZohoAnswer {
  code?: string;
  status?: string;
  message?: string;
  details?: { id?: string; api_name?: string; expected_data_type?: string; [k: string]: unknown };
}

/** Per-record codes Zoho may answer for a moment's trouble. */
const TRANSIENT = new Set(["TOO_MANY_REQUESTS", "INTERNAL_ERROR", "LIMIT_EXCEEDED"]);

/** One record's answer of an upsert. */
export function zohoResult(answer: ZohoAnswer | undefined): ItemResult {
  if (!answer) return { ok: false, error: "Zoho: not in the answer", retryable: true };
  if (answer.status === "success" && answer.details?.id) return { ok: true, externalId: String(answer.details.id) };
  const field = answer.details?.api_name ? ` on field ${answer.details.api_name}` : "";
  const expected = answer.details?.expected_data_type ? ` (expected ${answer.details.expected_data_type})` : "";
  return { ok: false, error: `Zoho: ${answer.code ?? "ERROR"}${field}${expected}: ${answer.message ?? ""}`.slice(0, 500), retryable: TRANSIENT.has(answer.code ?? "") };
}

/** A whole request's failure: 429 waits Retry-After or `rateLimitRetrySeconds`; otherwise as failureOf. */
export function zohoFailure(res: Response, body: ZohoAnswer | null, rateLimitRetrySeconds: number): ItemResult & { ok: false } {
  const failure = failureOf(res, `Zoho: ${body?.code ?? ""}${body?.details?.api_name ? ` on field ${body.details.api_name}` : ""} ${body?.message ?? ""}`.trim());
  if ((res.status === 429 || body?.code === "TOO_MANY_REQUESTS") && failure.retryAfterMs === undefined) return { ...failure, retryable: true, retryAfterMs: rateLimitRetrySeconds * 1000 };
  return failure;
}

async function call(destination: DestinationContext, config: Config, path: string, init: RequestInit): Promise<Response> {
  const key = TokenCache.key(destination.id, destination.secret);
  const { api } = endpoints(config);
  let auth = await tokens.get(key, () => requestToken(destination, config));
  const send = (a: AccessToken) =>
    timedFetch(destination.fetch, `${api}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Zoho-oauthtoken ${a.token}`, accept: "application/json" } }, destination.timeoutMs);
  let res = await send(auth);
  if (res.status === 401) {
    await res.arrayBuffer().catch(() => undefined);
    auth = await tokens.get(key, () => requestToken(destination, config), auth.token);
    res = await send(auth);
  }
  return res;
}

export const connector: Connector = {
  kind: "zoho",
  label: "Zoho CRM leads or contacts",
  configSchema,
  secret: {
    required: true,
    describe: 'JSON OAuth credentials: {"clientId":"1000.…","clientSecret":"…","refreshToken":"1000.…"} (a self client\'s refresh token with scope ZohoCRM.modules.leads.ALL, or .contacts.ALL).',
    validate: (s) => {
      try {
        parseZohoSecret(s);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : "invalid";
      }
    },
  },
  maxBatch: 100,
  // Zoho counts API credits per day and concurrent calls per org; a steady 100 calls a minute (10,000 records) stays well inside
  rateLimit: { requests: 100, windowMs: 60_000 },
  sendsDeletes: false,
  async deliver(items, destination) {
    const config = configSchema.parse(destination.config);
    const body = { data: items.map((item) => zohoRecord(item, config)), duplicate_check_fields: config.duplicateCheckFields };
    let res: Response;
    try {
      res = await call(destination, config, `/crm/${config.apiVersion}/${config.module}/upsert`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    } catch (err) {
      if (err instanceof TokenError) return items.map(() => ({ ok: false, error: err.message.slice(0, 500), retryable: true }));
      return items.map(() => networkFailure(err));
    }
    const answer = (await res.json().catch(() => null)) as { data?: ZohoAnswer[] } & ZohoAnswer | null;
    // a multi-status answer (some records refused) carries the per-record results, whatever its status code
    if (Array.isArray(answer?.data) && (res.ok || res.status === 400)) return items.map((_, i) => zohoResult(answer.data![i]));
    if (!res.ok) {
      const failure = zohoFailure(res, answer, config.rateLimitRetrySeconds);
      return items.map(() => failure);
    }
    return items.map(() => ({ ok: false, error: `Zoho: ${res.status} without per-record answers`, retryable: true }));
  },
  erasure: {
    needsExternalId: true,
    always: false,
    async erase(item, destination): Promise<ErasureResult> {
      if (!item.externalId) return { ok: false, reason: "unexpected", status: null, retryable: false };
      const config = configSchema.parse(destination.config);
      let res: Response;
      let answer: { data?: ZohoAnswer[] } | null;
      try {
        res = await call(destination, config, `/crm/${config.apiVersion}/${config.module}?ids=${encodeURIComponent(item.externalId)}`, { method: "DELETE" });
        // read for the per-id code only; never kept
        answer = (await res.json().catch(() => null)) as { data?: ZohoAnswer[] } | null;
      } catch (err) {
        if (err instanceof TokenError) return { ok: false, reason: "not_connected", status: err.status, retryable: true };
        return erasureNetworkFailure(err);
      }
      const one = answer?.data?.[0];
      if (res.ok || (res.status === 400 && one)) {
        if (one?.status === "success" || (!one && res.ok)) return { ok: true };
        if (one?.code === "INVALID_DATA" || one?.code === "RECORD_NOT_FOUND") return { ok: true, gone: true };
        return { ok: false, reason: "http", status: res.status, retryable: TRANSIENT.has(one?.code ?? "") };
      }
      if (res.status === 404) return { ok: true, gone: true };
      const failure = erasureFailureOf(res);
      return res.status === 429 && failure.retryAfterMs === undefined ? { ...failure, retryAfterMs: config.rateLimitRetrySeconds * 1000 } : failure;
    },
  },
};
