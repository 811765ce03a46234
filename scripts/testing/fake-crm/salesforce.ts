/**
 * A local stand-in for a Salesforce org (login server and instance in one), limited to what lead delivery uses,
 * following Salesforce's REST API Developer Guide and Salesforce Help:
 *
 * - `POST /services/oauth2/token` (form-urlencoded):
 *   - `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` ("OAuth 2.0 JWT Bearer Flow for
 *     Server-to-Server Integration"): an RS256 JWT signed by the key whose certificate the connected app holds,
 *     `iss` = consumer key, `sub` = a pre-authorized user, `aud` = the login server (default
 *     https://login.salesforce.com), `exp` in the future (and within 3 minutes, as documented, with a little skew);
 *   - `grant_type=refresh_token&client_id&client_secret?&refresh_token` ("OAuth 2.0 Refresh Token Flow");
 *   answers 200 `{ access_token, scope, instance_url, id, token_type: "Bearer", issued_at, signature }` (no lifetime:
 *   the org's session timeout decides); refusals are 400 `{ error: "invalid_grant" | "invalid_client_id" |
 *   "unsupported_grant_type", error_description }`.
 * - `PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}` ("Upsert Records Using sObject
 *   Collections", API 46.0+): `{ allOrNone, records }`, at most 200, each with `attributes.type` = SObject and the
 *   external id; answers 200 with `[{ id, success, errors, created }]` in order. A record's field errors come back
 *   as `{ statusCode, message, fields }` (`INVALID_EMAIL_ADDRESS`, `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`,
 *   `REQUIRED_FIELD_MISSING`); with allOrNone the others are rolled back (`ALL_OR_NONE_OPERATION_ROLLED_BACK`).
 *   An unknown field or a field that is not an external id is a 400 for the whole request (`INVALID_FIELD`).
 * - `GET` and `DELETE /services/data/vXX.X/sobjects/{SObject}/{id}` ("Get Field Values from a Record", "Delete a
 *   Record"): 200 with the record (`attributes`, `Id`, its fields) / 204; an unknown id is 404 `NOT_FOUND`, a deleted
 *   one 404 `ENTITY_IS_DELETED`.
 * - Errors ("Status Codes and Error Responses") are `[{ message, errorCode, fields? }]`: 401 `INVALID_SESSION_ID`
 *   for an expired or unknown token, 403 `REQUEST_LIMIT_EXCEEDED` past the org's daily API requests (every answer
 *   has `Sforce-Limit-Info: api-usage=<used>/<limit>`), 404 `NOT_FOUND` for other routes.
 * Fault switches as in common.ts; `failNext` answers with the documented body of its status (401, 403 request
 * limit, 5xx `SERVER_UNAVAILABLE`).
 */
import { createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { jwtVerify } from "jose";
import { Faults, bearerToken, parseBody, randomId, startFaultyServer, type FakeRequest, type FakeResponse, type LoggedRequest } from "./common.ts";

export interface SalesforceFakeOptions {
  /** Connected app: consumer key, secret (refresh flow), the certificate's public key (JWT flow). */
  clientId: string;
  clientSecret?: string;
  /** PEM public key (or certificate) the JWT bearer assertions are checked with. */
  publicKey?: string;
  /** Users pre-authorized for the JWT flow. */
  users?: string[];
  /** Refresh tokens that work (web-server flow). */
  refreshTokens?: string[];
  /** The JWT audience the org accepts (default https://login.salesforce.com). */
  audience?: string;
  /** Writable fields per SObject (default: the standard Lead / Contact fields below plus the external id fields). */
  fields?: Record<string, string[]>;
  /** External id fields per SObject (default Lead_Tracker_Id__c on Lead and Contact). */
  externalIds?: Record<string, string[]>;
  /** Restricted picklists: field → allowed values (any SObject). */
  picklists?: Record<string, string[]>;
  /** Daily API requests (default 100,000). */
  dailyLimit?: number;
}

export interface SalesforceRecord {
  Id: string;
  type: string;
  fields: Record<string, string>;
  createdAt: string;
}

export interface SalesforceFake {
  url: string;
  faults: Faults;
  records(sobject?: string): SalesforceRecord[];
  /** Ids removed by DELETE, in order. */
  deleted(): string[];
  requests(): LoggedRequest[];
  /** Tokens issued (JWT and refresh flows), newest last. */
  tokensIssued(): { flow: "jwt" | "refresh_token"; token: string; at: number }[];
  /** Makes every access token issued so far invalid (a session timeout). */
  expireAllTokens(): void;
  /** Sets the API requests used today (e.g. to the limit). */
  setUsage(used: number): void;
  clear(): void;
  stop(): Promise<void>;
}

export const STANDARD_FIELDS: Record<string, string[]> = {
  Lead: ["Email", "FirstName", "LastName", "Phone", "Company", "Website", "Street", "City", "State", "PostalCode", "Country", "Description", "LeadSource", "Title", "Status"],
  Contact: ["Email", "FirstName", "LastName", "Phone", "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry", "Description", "LeadSource", "Title"],
};
const REQUIRED: Record<string, string[]> = { Lead: ["LastName", "Company"], Contact: ["LastName"] };
const PREFIX: Record<string, string> = { Lead: "00Q", Contact: "003" };
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const API_PATH = /^\/services\/data\/v(\d{2,3}\.\d)\/(.+)$/;

const sfError = (status: number, errorCode: string, message: string, fields?: string[]): FakeResponse => ({ status, body: [{ message, errorCode, ...(fields ? { fields } : {}) }] });

export async function startSalesforceFake(opts: SalesforceFakeOptions): Promise<SalesforceFake> {
  const faults = new Faults();
  const audience = opts.audience ?? "https://login.salesforce.com";
  const users = new Set(opts.users ?? []);
  const refreshTokens = new Set(opts.refreshTokens ?? []);
  const publicKey: KeyObject | null = opts.publicKey ? createPublicKey(opts.publicKey) : null;
  const externalIds = opts.externalIds ?? { Lead: ["Lead_Tracker_Id__c"], Contact: ["Lead_Tracker_Id__c"] };
  const writable = (type: string): Set<string> => new Set([...(opts.fields?.[type] ?? STANDARD_FIELDS[type] ?? []), ...(externalIds[type] ?? [])]);
  const picklists = opts.picklists ?? {};
  const dailyLimit = opts.dailyLimit ?? 100_000;

  let url = "";
  let records = new Map<string, SalesforceRecord>();
  /** `<type>|<field>|<value>` → record id, for external id lookups. */
  let byExt = new Map<string, string>();
  let removed = new Set<string>();
  let deletedLog: string[] = [];
  let sessions = new Set<string>();
  let issued: { flow: "jwt" | "refresh_token"; token: string; at: number }[] = [];
  let log: LoggedRequest[] = [];
  let used = 0;

  const newId = (type: string) => `${PREFIX[type] ?? "a00"}${randomId(12)}AAA`.slice(0, 18);
  const mint = (flow: "jwt" | "refresh_token"): FakeResponse => {
    const token = `00D${randomId(12)}!${randomBytes(24).toString("base64url")}`;
    sessions.add(token);
    issued.push({ flow, token, at: Date.now() });
    const issuedAt = String(Date.now());
    return {
      status: 200,
      body: { access_token: token, scope: "api", instance_url: url, id: `${url}/id/00D000000000001EAA/005000000000001AAA`, token_type: "Bearer", issued_at: issuedAt, signature: randomBytes(32).toString("base64") },
    };
  };
  const oauthError = (error: string, description: string, status = 400): FakeResponse => ({ status, body: { error, error_description: description } });

  const token = async (req: FakeRequest): Promise<FakeResponse> => {
    const form = (parseBody(req) ?? {}) as Record<string, string>;
    if (form.grant_type === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      if (!publicKey || !form.assertion) return oauthError("invalid_grant", "invalid assertion");
      try {
        const { payload, protectedHeader } = await jwtVerify(form.assertion, publicKey, { algorithms: ["RS256"], audience, clockTolerance: 5 });
        if (protectedHeader.alg !== "RS256") return oauthError("invalid_grant", "invalid assertion");
        if (payload.iss !== opts.clientId) return oauthError("invalid_client_id", "client identifier invalid");
        if (!payload.sub || !users.has(payload.sub)) return oauthError("invalid_grant", "user hasn't approved this consumer");
        if (!payload.exp || payload.exp * 1000 > Date.now() + 3 * 60_000 + 5_000) return oauthError("invalid_grant", "expiration time too far in the future");
      } catch (err) {
        const code = (err as { code?: string }).code;
        return oauthError("invalid_grant", code === "ERR_JWT_EXPIRED" ? "expired authorization code" : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? "audience is invalid" : "invalid assertion");
      }
      return mint("jwt");
    }
    if (form.grant_type === "refresh_token") {
      if (form.client_id !== opts.clientId) return oauthError("invalid_client_id", "client identifier invalid");
      if (form.client_secret !== undefined && form.client_secret !== opts.clientSecret) return oauthError("invalid_client", "invalid client credentials");
      if (!form.refresh_token || !refreshTokens.has(form.refresh_token)) return oauthError("invalid_grant", "expired access/refresh token");
      return mint("refresh_token");
    }
    return oauthError("unsupported_grant_type", "grant type not supported");
  };

  const upsert = (req: FakeRequest, type: string, extField: string): FakeResponse => {
    let body: { allOrNone?: unknown; records?: unknown };
    try {
      body = JSON.parse(req.rawBody) as typeof body;
    } catch {
      return sfError(400, "JSON_PARSER_ERROR", "Unexpected character in the request body");
    }
    if (!STANDARD_FIELDS[type] && !opts.fields?.[type]) return sfError(404, "NOT_FOUND", `The requested resource does not exist`);
    if (!(externalIds[type] ?? []).includes(extField)) return sfError(400, "INVALID_FIELD", `Field name provided, ${extField} is not an External ID or indexed field for ${type}`);
    if (!Array.isArray(body.records)) return sfError(400, "JSON_PARSER_ERROR", "records must be an array");
    if (body.records.length > 200) return sfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call");
    const known = writable(type);
    const results: { id?: string; success: boolean; errors: { statusCode: string; message: string; fields: string[] }[]; created?: boolean }[] = [];
    const writes: (() => void)[] = [];
    for (const raw of body.records as Record<string, unknown>[]) {
      const attributes = raw.attributes as { type?: string } | undefined;
      if (!attributes?.type) return sfError(400, "INVALID_TYPE", "Must send a concrete entity type.");
      if (attributes.type !== type) return sfError(400, "INVALID_TYPE", `Records must all be of type ${type}`);
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        if (k === "attributes") continue;
        if (!known.has(k)) return sfError(400, "INVALID_FIELD", `No such column '${k}' on sobject of type ${type}`);
        fields[k] = v === null || v === undefined ? "" : String(v);
      }
      const extId = fields[extField];
      const errors: { statusCode: string; message: string; fields: string[] }[] = [];
      if (!extId) errors.push({ statusCode: "MISSING_ARGUMENT", message: `${extField} not specified`, fields: [] });
      if (fields.Email && !EMAIL.test(fields.Email)) errors.push({ statusCode: "INVALID_EMAIL_ADDRESS", message: `Email: invalid email address: ${fields.Email}`, fields: ["Email"] });
      for (const [field, allowed] of Object.entries(picklists)) {
        if (fields[field] !== undefined && fields[field] !== "" && !allowed.includes(fields[field]!)) {
          errors.push({ statusCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message: `${field}: bad value for restricted picklist field: ${fields[field]}`, fields: [field] });
        }
      }
      const existingId = extId ? byExt.get(`${type}|${extField}|${extId}`) : undefined;
      const existing = existingId ? records.get(existingId) : undefined;
      const merged = { ...existing?.fields, ...fields };
      const missing = (REQUIRED[type] ?? []).filter((f) => !merged[f]);
      if (missing.length) errors.push({ statusCode: "REQUIRED_FIELD_MISSING", message: `Required fields are missing: [${missing.join(", ")}]`, fields: missing });
      if (errors.length) {
        results.push({ success: false, errors });
        continue;
      }
      const record = existing ?? { Id: newId(type), type, fields: {}, createdAt: new Date().toISOString() };
      writes.push(() => {
        record.fields = merged;
        records.set(record.Id, record);
        byExt.set(`${type}|${extField}|${extId}`, record.Id);
      });
      results.push({ id: record.Id, success: true, errors: [], created: !existing });
    }
    if (body.allOrNone === true && results.some((r) => !r.success)) {
      return {
        status: 200,
        body: results.map((r) => (r.success ? { id: r.id, success: false, errors: [{ statusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", message: "Record rolled back because not all records were valid and the request was using AllOrNone header", fields: [] }] } : r)),
      };
    }
    for (const w of writes) w();
    return { status: 200, body: results };
  };

  const handle = async (req: FakeRequest): Promise<FakeResponse> => {
    if (req.path === "/services/oauth2/token" && req.method === "POST") return token(req);
    const m = API_PATH.exec(req.path);
    if (!m) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    const session = bearerToken(req) ?? /^OAuth\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""))?.[1] ?? null;
    if (!session || !sessions.has(session)) return sfError(401, "INVALID_SESSION_ID", "Session expired or invalid");
    if (used >= dailyLimit) return sfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
    used++;
    if (Number(m[1]) < 46 && m[2]!.startsWith("composite/sobjects")) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    const parts = m[2]!.split("/").map(decodeURIComponent);
    if (parts[0] === "composite" && parts[1] === "sobjects" && parts.length === 4 && req.method === "PATCH") return upsert(req, parts[2]!, parts[3]!);
    if (parts[0] === "sobjects" && parts.length === 3) {
      const [, type, id] = parts as [string, string, string];
      if (req.method === "GET") {
        const r = records.get(id);
        if (!r || r.type !== type) return removed.has(id) ? sfError(404, "ENTITY_IS_DELETED", "entity is deleted") : sfError(404, "NOT_FOUND", "The requested resource does not exist");
        return { status: 200, body: { attributes: { type, url: `/services/data/v${m[1]}/sobjects/${type}/${id}` }, Id: id, ...r.fields } };
      }
      if (req.method === "DELETE") {
        if (removed.has(id)) return sfError(404, "ENTITY_IS_DELETED", "entity is deleted");
        const r = records.get(id);
        if (!r || r.type !== type) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
        records.delete(id);
        for (const [k, v] of byExt) if (v === id) byExt.delete(k);
        removed.add(id);
        deletedLog.push(id);
        return { status: 204 };
      }
    }
    return sfError(404, "NOT_FOUND", "The requested resource does not exist");
  };

  const server = await startFaultyServer({
    faults,
    handler: async (req) => {
      const res = await handle(req);
      return { ...res, headers: { ...res.headers, "sforce-limit-info": `api-usage=${used}/${dailyLimit}` } };
    },
    isVendorRoute: () => true,
    errorBody: (status) =>
      status === 401
        ? [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]
        : status === 403
          ? [{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]
          : status >= 500
            ? [{ message: "Server temporarily unavailable", errorCode: "SERVER_UNAVAILABLE" }]
            : [{ message: `request failed with status ${status}`, errorCode: "BAD_REQUEST" }],
    log: (e) => log.push(e),
  });
  url = server.url;

  return {
    url,
    faults,
    records: (sobject) => [...records.values()].filter((r) => !sobject || r.type === sobject).map((r) => structuredClone(r)),
    deleted: () => [...deletedLog],
    requests: () => [...log],
    tokensIssued: () => [...issued],
    expireAllTokens: () => {
      sessions = new Set();
    },
    setUsage: (n) => {
      used = n;
    },
    clear: () => {
      records = new Map();
      byExt = new Map();
      removed = new Set();
      deletedLog = [];
      sessions = new Set();
      issued = [];
      log = [];
      used = 0;
      faults.reset();
    },
    stop: () => server.stop(),
  };
}
