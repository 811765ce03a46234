/**
 * A local stand-in for Zoho CRM and its accounts server, limited to what lead delivery uses, following Zoho's CRM
 * API reference ("Insert or Update Records (Upsert)", "Delete Records", "Get Records", "Status Codes", "API Limits",
 * "Multi DC Support") and Zoho's OAuth pages ("Refreshing your Access Tokens"). One server plays every data centre:
 * the DC is read from the host the request was meant for (`X-Forwarded-Host`, else `Host`): accounts.zoho.<dc> /
 * www.zohoapis.<dc> (Canada: accounts.zohocloud.ca / www.zohoapis.ca); any other host (127.0.0.1) is `com`. Records
 * and tokens belong to one DC: a refresh token of the EU account does not work at accounts.zoho.com, nor an EU
 * access token at www.zohoapis.com.
 *
 * - `POST /oauth/v2/token` with grant_type=refresh_token, client_id, client_secret, refresh_token (form body or
 *   query string): 200 `{ access_token, api_domain, token_type: "Bearer", expires_in }` (3600 s unless set); a
 *   refresh token or client Zoho does not know is answered 200 `{ error: "invalid_code" }` / `{ error:
 *   "invalid_client" }`, as Zoho does.
 * - `POST /crm/{v2…v8}/{Leads|Contacts}/upsert` (`Authorization: Zoho-oauthtoken <token>`): `{ data, duplicate_check_fields }`,
 *   at most 100 records; matches an existing record by the first duplicate check field with a value (default Email);
 *   answers per record `{ code: "SUCCESS", duplicate_field, action: "insert" | "update", details: { id, Created_Time,
 *   Modified_Time, … }, message: "record added" | "record updated", status: "success" }` or an error
 *   `{ code: "INVALID_DATA", details: { api_name, expected_data_type }, message: "invalid data", status: "error" }`
 *   (an email that is not one, a picklist value outside its options) / `MANDATORY_NOT_FOUND` (Last_Name); 200 when
 *   all succeeded, 207 when some did not, 400 when none did.
 * - `GET /crm/{v}/{module}/{id}`: `{ data: [record] }`, 204 when there is none.
 * - `DELETE /crm/{v}/{module}?ids=a,b`: per id `{ code: "SUCCESS", details: { id }, message: "record deleted",
 *   status: "success" }`, or `{ code: "INVALID_DATA", details: { id }, message: "the related id given seems to be
 *   invalid", status: "error" }` for an id it does not hold.
 * - Errors: 401 `{ code: "INVALID_TOKEN", details: {}, message: "invalid oauth token", status: "error" }` for an
 *   expired, unknown or other DC's token; 429 `{ code: "TOO_MANY_REQUESTS", … }` past the per-minute limit (when set).
 * Fault switches as in common.ts; `failNext` answers with Zoho's body for its status.
 */
import { randomBytes } from "node:crypto";
import { Faults, RateWindow, parseBody, startFaultyServer, type FakeRequest, type FakeResponse, type LoggedRequest } from "./common.ts";

export const ZOHO_DCS = ["com", "eu", "in", "com.au", "jp", "ca"] as const;
export type ZohoDc = (typeof ZOHO_DCS)[number];

export interface ZohoFakeOptions {
  clientId: string;
  clientSecret: string;
  /** Refresh tokens that work, and the DC each belongs to (default com). */
  refreshTokens: { token: string; dc?: ZohoDc }[];
  /** `expires_in` of access tokens, seconds (3600 as documented). */
  accessTokenTtlSeconds?: number;
  /** The api_domain the token answer names (default https://www.zohoapis.<dc>). */
  apiDomain?: (dc: ZohoDc) => string;
  /** Picklist fields and their options. */
  picklists?: Record<string, string[]>;
  /** API calls per minute before 429 (default: no limit). */
  perMinute?: number;
}

export interface ZohoRecord {
  id: string;
  module: string;
  fields: Record<string, string>;
}

export interface ZohoFake {
  url: string;
  faults: Faults;
  records(dc?: ZohoDc, module?: string): ZohoRecord[];
  deleted(): string[];
  requests(): LoggedRequest[];
  /** Access tokens issued, with their DC, newest last. */
  tokensIssued(): { token: string; dc: ZohoDc; at: number }[];
  expireAllTokens(): void;
  clear(): void;
  stop(): Promise<void>;
}

export const zohoError = (status: number, code: string, message: string, details: Record<string, unknown> = {}): FakeResponse => ({ status, body: { code, details, message, status: "error" } });

/** The DC a host name belongs to; anything not Zoho's is `com`. */
export function dcOfHost(host: string): ZohoDc {
  const name = host.replace(/:\d+$/, "").toLowerCase();
  if (name.endsWith("zohocloud.ca") || name.endsWith("zohoapis.ca")) return "ca";
  const m = /\.zoho(?:apis)?\.(com\.au|com|eu|in|jp)$/.exec(name);
  return (m?.[1] as ZohoDc | undefined) ?? "com";
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CRM_PATH = /^\/crm\/(v2|v2\.1|v3|v4|v5|v6|v7|v8)\/(Leads|Contacts)(?:\/(upsert|\d+))?$/;

export async function startZohoFake(opts: ZohoFakeOptions): Promise<ZohoFake> {
  const faults = new Faults();
  const ttl = opts.accessTokenTtlSeconds ?? 3600;
  const refresh = new Map(opts.refreshTokens.map((r) => [r.token, r.dc ?? "com"]));
  const picklists = opts.picklists ?? {};
  let records = new Map<string, ZohoRecord & { dc: ZohoDc }>();
  let access = new Map<string, { dc: ZohoDc; expiresAt: number }>();
  let issued: { token: string; dc: ZohoDc; at: number }[] = [];
  let deleted: string[] = [];
  let log: LoggedRequest[] = [];
  let window = new RateWindow(opts.perMinute ?? Number.MAX_SAFE_INTEGER, 60_000, Number.MAX_SAFE_INTEGER);
  let nextId = 5_725_767_000_000_100_000n;

  const hostOf = (req: FakeRequest) => String(req.headers["x-forwarded-host"] ?? req.headers.host ?? "");

  const token = (req: FakeRequest): FakeResponse => {
    const dc = dcOfHost(hostOf(req));
    const form = { ...Object.fromEntries(req.query), ...((parseBody(req) || {}) as Record<string, string>) };
    if (form.grant_type !== "refresh_token") return { status: 200, body: { error: "unsupported_grant_type" } };
    if (form.client_id !== opts.clientId || form.client_secret !== opts.clientSecret) return { status: 200, body: { error: "invalid_client" } };
    if (!form.refresh_token || refresh.get(form.refresh_token) !== dc) return { status: 200, body: { error: "invalid_code" } };
    const accessToken = `1000.${randomBytes(16).toString("hex")}.${randomBytes(16).toString("hex")}`;
    access.set(accessToken, { dc, expiresAt: Date.now() + ttl * 1000 });
    issued.push({ token: accessToken, dc, at: Date.now() });
    return { status: 200, body: { access_token: accessToken, api_domain: opts.apiDomain?.(dc) ?? (dc === "ca" ? "https://www.zohoapis.ca" : `https://www.zohoapis.${dc}`), token_type: "Bearer", expires_in: ttl } };
  };

  const validate = (fields: Record<string, unknown>, existing: Record<string, string> | undefined): ZohoRecord["fields"] | FakeResponse["body"] => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) {
      const value = v === null || v === undefined ? "" : String(v);
      if (k === "Email" && value && !EMAIL.test(value)) return { code: "INVALID_DATA", details: { expected_data_type: "email", api_name: k }, message: "invalid data", status: "error" };
      if (picklists[k] && value && !picklists[k]!.includes(value)) return { code: "INVALID_DATA", details: { expected_data_type: "picklist", api_name: k }, message: "invalid data", status: "error" };
      out[k] = value;
    }
    if (!{ ...existing, ...out }.Last_Name) return { code: "MANDATORY_NOT_FOUND", details: { api_name: "Last_Name" }, message: "required field not found", status: "error" };
    return out;
  };

  const upsert = (dc: ZohoDc, module: string, req: FakeRequest): FakeResponse => {
    let body: { data?: unknown; duplicate_check_fields?: unknown };
    try {
      body = JSON.parse(req.rawBody) as typeof body;
    } catch {
      return zohoError(400, "INVALID_DATA", "body is not a valid JSON");
    }
    if (!Array.isArray(body.data) || body.data.length === 0) return zohoError(400, "INVALID_DATA", "data is missing", { api_name: "data" });
    if (body.data.length > 100) return zohoError(400, "LIMIT_EXCEEDED", "the number of records exceeded the limit", { limit: 100 });
    const checks = Array.isArray(body.duplicate_check_fields) ? (body.duplicate_check_fields as string[]) : ["Email"];
    const now = new Date().toISOString();
    const answers = (body.data as Record<string, unknown>[]).map((raw) => {
      let match: (ZohoRecord & { dc: ZohoDc }) | undefined;
      let field: string | null = null;
      for (const f of checks) {
        const v = raw[f];
        if (v === undefined || v === null || v === "") continue;
        match = [...records.values()].find((r) => r.dc === dc && r.module === module && String(r.fields[f] ?? "").toLowerCase() === String(v).toLowerCase());
        if (match) {
          field = f;
          break;
        }
      }
      const fields = validate(raw, match?.fields);
      if ("status" in (fields as object) && (fields as { status?: unknown }).status === "error") return fields as Record<string, unknown>;
      const record = match ?? { id: String(nextId++), module, dc, fields: {} };
      record.fields = { ...record.fields, ...(fields as Record<string, string>) };
      records.set(record.id, record);
      const user = { name: "Fake Admin", id: "5725767000000411001" };
      return {
        code: "SUCCESS",
        duplicate_field: field,
        action: match ? "update" : "insert",
        details: { Modified_Time: now, Modified_By: user, Created_Time: now, id: record.id, Created_By: user },
        message: match ? "record updated" : "record added",
        status: "success",
      };
    });
    const ok = answers.filter((a) => a.status === "success").length;
    return { status: ok === answers.length ? 200 : ok === 0 ? 400 : 207, body: { data: answers } };
  };

  const handle = (req: FakeRequest): FakeResponse => {
    if (req.path === "/oauth/v2/token" && req.method === "POST") return token(req);
    const m = CRM_PATH.exec(req.path);
    if (!m) return zohoError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one");
    const auth = /^Zoho-oauthtoken\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
    const dc = dcOfHost(hostOf(req));
    const session = auth ? access.get(auth) : undefined;
    if (!session || session.dc !== dc || session.expiresAt <= Date.now()) return zohoError(401, "INVALID_TOKEN", "invalid oauth token");
    if (window.admit() !== "ok") return zohoError(429, "TOO_MANY_REQUESTS", "The number of API requests per minute has exceeded the limit", {});
    const [, , module, rest] = m as unknown as [string, string, string, string | undefined];
    if (rest === "upsert" && req.method === "POST") return upsert(dc, module, req);
    if (rest && rest !== "upsert" && req.method === "GET") {
      const r = records.get(rest);
      if (!r || r.dc !== dc || r.module !== module) return { status: 204 };
      return { status: 200, body: { data: [{ id: r.id, ...r.fields }] } };
    }
    if (!rest && req.method === "DELETE") {
      const ids = (req.query.get("ids") ?? "").split(",").filter(Boolean);
      if (ids.length === 0) return zohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", { param: "ids" });
      const data = ids.map((id) => {
        const r = records.get(id);
        if (!r || r.dc !== dc || r.module !== module) return { code: "INVALID_DATA", details: { id }, message: "the related id given seems to be invalid", status: "error" };
        records.delete(id);
        deleted.push(id);
        return { code: "SUCCESS", details: { id }, message: "record deleted", status: "success" };
      });
      return { status: 200, body: { data } };
    }
    return zohoError(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one");
  };

  const server = await startFaultyServer({
    faults,
    handler: handle,
    isVendorRoute: () => true,
    errorBody: (status) =>
      status === 401
        ? { code: "INVALID_TOKEN", details: {}, message: "invalid oauth token", status: "error" }
        : status === 429
          ? { code: "TOO_MANY_REQUESTS", details: {}, message: "The number of API requests per minute has exceeded the limit", status: "error" }
          : status >= 500
            ? { code: "INTERNAL_ERROR", details: {}, message: "Internal Server Error", status: "error" }
            : { code: "INVALID_REQUEST", details: {}, message: `request failed with status ${status}`, status: "error" },
    log: (e) => log.push(e),
  });

  return {
    url: server.url,
    faults,
    records: (dc, module) => [...records.values()].filter((r) => (!dc || r.dc === dc) && (!module || r.module === module)).map(({ id, module: mod, fields }) => ({ id, module: mod, fields: { ...fields } })),
    deleted: () => [...deleted],
    requests: () => [...log],
    tokensIssued: () => [...issued],
    expireAllTokens: () => {
      for (const t of access.values()) t.expiresAt = 0;
    },
    clear: () => {
      records = new Map();
      access = new Map();
      issued = [];
      deleted = [];
      log = [];
      window = new RateWindow(opts.perMinute ?? Number.MAX_SAFE_INTEGER, 60_000, Number.MAX_SAFE_INTEGER);
      faults.reset();
    },
    stop: () => server.stop(),
  };
}
