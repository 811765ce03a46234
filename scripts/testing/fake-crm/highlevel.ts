/**
 * A local stand-in for HighLevel's API v2 (services.leadconnectorhq.com), limited to what lead delivery uses, following
 * HighLevel's own OpenAPI documents (github.com/GoHighLevel/highlevel-api-docs: oauth/oauth.json, contacts/contacts.json,
 * the common BadRequestDTO / UnauthorizedDTO / UnprocessableDTO) and the marketplace docs pages:
 *
 * - `POST /oauth/token` (Get Access Token), form-urlencoded `client_id`, `client_secret`, `grant_type`
 *   (`authorization_code` with `code`, or `refresh_token` with `refresh_token`), optional `user_type` and
 *   `redirect_uri`. Answers GetAccessCodeSuccessfulResponseDto. Access tokens live `expires_in` seconds (86399 as
 *   documented); refresh tokens are single use: a refresh answers a new pair and the used refresh token stops working
 *   (docs "OAuth FAQs"). Codes are minted by `issueAuthCode()` (the user's consent screen) and are single use.
 * - `POST /contacts/upsert` (Upsert Contact) with `Authorization: Bearer <token>` and `Version: 2021-07-28`; body
 *   UpsertContactDto (`locationId` required). Matching follows the "Allow Duplicate Contact" rule quoted in the
 *   docs: the configured sequence (default email, then phone) picks the contact to update, else one is created.
 *   Answers 200 `{ new, contact, traceId }`.
 * - `DELETE /contacts/:contactId` (Delete Contact) with the same token and `Version` header: removes the contact and
 *   answers 200 `{ succeded: true }` (DeleteContactsSuccessfulResponseDto, spelled as documented). A contact id the
 *   fake does not hold is 404 `{ statusCode: 404, message: "Contact not found", error: "Not Found" }` (the documented
 *   responses list 400/401/422 only; 404 is what the SDK's GHLNotFoundError is for); a contact of another location
 *   is 403 like upserts. The fake also forgets what it logged of the contact: logged request bodies that name its
 *   email or phone become "[erased]".
 * - Burst and daily rate limits per app per location (docs "Rate Limits": 100 requests / 10 s, 200,000 / day), with
 *   the `X-RateLimit-*` headers on every authenticated answer and 429 past either limit.
 *
 * Errors use the documented DTOs: 400 `{ statusCode, message }`, 401 `{ statusCode, message, error: "Unauthorized" }`,
 * 422 `{ statusCode, message: string[], error: "Unprocessable Entity" }`; 403 for a token of another location is
 * `{ statusCode: 403, message: "The token does not have access to this location." }` (the message HighLevel answers,
 * as reported in its docs repository's issues).
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  Faults,
  RateWindow,
  bearerToken,
  randomId,
  startFaultyServer,
  type FakeRequest,
  type FakeResponse,
  type LoggedRequest,
} from "./common.ts";

export const HIGHLEVEL_API_VERSION = "2021-07-28";

export interface HighLevelFakeOptions {
  clientId: string;
  clientSecret: string;
  /** `expires_in` of access tokens, seconds (documented: 86399). */
  accessTokenTtlSeconds?: number;
  /** Lifetime of refresh tokens, seconds (documented: a year). */
  refreshTokenTtlSeconds?: number;
  /** `scope` in token responses. */
  scope?: string;
  /** Burst limit per location: `max` requests per `intervalMs` (documented 100 / 10000), and `daily` (200000). */
  rateLimit?: { max?: number; intervalMs?: number; daily?: number };
  /** The location's duplicate-matching sequence ("Allow Duplicate Contact" setting); default email then phone. */
  duplicateMatchOrder?: ReadonlyArray<"email" | "phone">;
}

export interface HighLevelContact {
  id: string;
  locationId: string;
  firstName?: string;
  lastName?: string;
  name?: string;
  firstNameLowerCase?: string;
  lastNameLowerCase?: string;
  fullNameLowerCase?: string;
  email?: string;
  emailLowerCase?: string;
  phone?: string;
  companyName?: string;
  source?: string;
  tags: string[];
  customFields: Array<{ id: string; value: unknown }>;
  type: string;
  dateAdded: string;
  dateUpdated: string;
  [field: string]: unknown;
}

export interface IssuedToken {
  accessToken: string;
  refreshToken: string;
  locationId: string;
  companyId: string;
  expiresAt: number;
}

export interface HighLevelFake {
  url: string;
  faults: Faults;
  /** Mints a single-use authorization code, as the consent screen's redirect would carry for an install on this location. */
  issueAuthCode(install: { locationId: string; companyId: string; userId?: string }): string;
  /** Makes every access token issued so far expired (refresh tokens stay valid). */
  expireAllTokens(): void;
  /** Makes one refresh token unusable, as when an app is uninstalled. */
  revokeRefreshToken(refreshToken: string): void;
  /** Tokens issued so far, newest last. */
  tokens(): IssuedToken[];
  /** Stored contacts of a location, in creation order. */
  contacts(locationId: string): HighLevelContact[];
  /** Ids of the contacts removed by Delete Contact, in order (no other trace of them is kept). */
  deleted(): string[];
  /** Every request with its answer (token requests included), faulted ones marked. */
  requests(): LoggedRequest[];
  /** Empties the rate-limit windows (daily counts included). */
  resetRateLimits(): void;
  /** Forgets contacts, tokens, codes and the log; resets faults and rate limits. */
  clear(): void;
  stop(): Promise<void>;
}

interface AccessTokenRecord {
  locationId: string;
  companyId: string;
  expiresAt: number;
}

interface RefreshTokenRecord {
  locationId: string;
  companyId: string;
  userId: string;
  expiresAt: number;
  used: boolean;
}

const badRequest = (message: string): FakeResponse => ({ status: 400, body: { statusCode: 400, message } });
const unauthorized = (message: string): FakeResponse => ({ status: 401, body: { statusCode: 401, message, error: "Unauthorized" } });
const unprocessable = (messages: string[]): FakeResponse => ({
  status: 422,
  body: { statusCode: 422, message: messages, error: "Unprocessable Entity" },
});

const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"];
const USER_TYPES = ["Company", "Location"];

/** Contact fields of UpsertContactDto that are plain strings. */
const STRING_FIELDS = [
  "firstName",
  "lastName",
  "name",
  "email",
  "gender",
  "phone",
  "address1",
  "city",
  "state",
  "postalCode",
  "website",
  "timezone",
  "source",
  "country",
  "companyName",
  "assignedTo",
] as const;

const opaqueToken = (): string => randomBytes(24).toString("hex");

function normalizePhone(phone: string): string {
  const digits = phone.replace(/\D/g, "");
  return phone.trim().startsWith("+") ? `+${digits}` : digits;
}

export async function startHighLevelFake(opts: HighLevelFakeOptions): Promise<HighLevelFake> {
  const accessTtl = opts.accessTokenTtlSeconds ?? 86399;
  const refreshTtl = opts.refreshTokenTtlSeconds ?? 365 * 24 * 3600;
  const scope = opts.scope ?? "contacts.readonly contacts.write";
  const limit = { max: opts.rateLimit?.max ?? 100, intervalMs: opts.rateLimit?.intervalMs ?? 10_000, daily: opts.rateLimit?.daily ?? 200_000 };
  const matchOrder = opts.duplicateMatchOrder ?? ["email", "phone"];
  const faults = new Faults();

  let codes = new Map<string, { locationId: string; companyId: string; userId: string }>();
  let accessTokens = new Map<string, AccessTokenRecord>();
  let refreshTokens = new Map<string, RefreshTokenRecord>();
  let issued: IssuedToken[] = [];
  let contactsByLocation = new Map<string, HighLevelContact[]>();
  let customFieldIds = new Map<string, string>();
  let windows = new Map<string, RateWindow>();
  let log: LoggedRequest[] = [];
  let deleted: string[] = [];

  const windowFor = (locationId: string): RateWindow => {
    let w = windows.get(locationId);
    if (!w) windows.set(locationId, (w = new RateWindow(limit.max, limit.intervalMs, limit.daily)));
    return w;
  };

  const rateHeaders = (w: RateWindow): Record<string, string> => {
    const left = w.remaining();
    return {
      "x-ratelimit-limit-daily": String(w.daily),
      "x-ratelimit-daily-remaining": String(left.daily),
      "x-ratelimit-interval-milliseconds": String(w.intervalMs),
      "x-ratelimit-max": String(w.max),
      "x-ratelimit-remaining": String(left.burst),
    };
  };

  const mintTokens = (grant: { locationId: string; companyId: string; userId: string }): Record<string, unknown> => {
    const accessToken = opaqueToken();
    const refreshToken = opaqueToken();
    const now = Date.now();
    accessTokens.set(accessToken, { locationId: grant.locationId, companyId: grant.companyId, expiresAt: now + accessTtl * 1000 });
    refreshTokens.set(refreshToken, { ...grant, expiresAt: now + refreshTtl * 1000, used: false });
    issued.push({ accessToken, refreshToken, locationId: grant.locationId, companyId: grant.companyId, expiresAt: now + accessTtl * 1000 });
    return {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: accessTtl,
      refresh_token: refreshToken,
      scope,
      userType: "Location",
      locationId: grant.locationId,
      companyId: grant.companyId,
      userId: grant.userId,
      isBulkInstallation: false,
    };
  };

  const token = (req: FakeRequest): FakeResponse => {
    if (req.method !== "POST") return { status: 404, body: { statusCode: 404, message: `Cannot ${req.method} ${req.path}`, error: "Not Found" } };
    const form = String(req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")
      ? new URLSearchParams(req.rawBody)
      : new URLSearchParams();
    const field = (k: string): string => form.get(k) ?? "";
    const problems: string[] = [];
    if (!field("client_id")) problems.push("client_id should not be empty");
    if (!field("client_secret")) problems.push("client_secret should not be empty");
    if (!GRANT_TYPES.includes(field("grant_type"))) problems.push(`grant_type must be one of the following values: ${GRANT_TYPES.join(", ")}`);
    if (form.has("user_type") && !USER_TYPES.includes(field("user_type"))) {
      problems.push(`user_type must be one of the following values: ${USER_TYPES.join(", ")}`);
    }
    if (problems.length > 0) return unprocessable(problems);
    if (field("client_id") !== opts.clientId || field("client_secret") !== opts.clientSecret) {
      return unauthorized("Invalid client credentials");
    }
    // The fake's installs are all sub-account (Location) installs: a Company token cannot be had from them.
    if (form.has("user_type") && field("user_type") !== "Location") {
      return badRequest("This app install is for a Location (Sub-Account): user_type must be Location");
    }
    const grantType = field("grant_type");
    if (grantType === "authorization_code") {
      const grant = codes.get(field("code"));
      if (!field("code") || !grant) return badRequest("Invalid grant: authorization code is invalid");
      codes.delete(field("code"));
      return { status: 200, body: mintTokens(grant) };
    }
    if (grantType === "refresh_token") {
      const rt = refreshTokens.get(field("refresh_token"));
      if (!field("refresh_token") || !rt || rt.used || rt.expiresAt <= Date.now()) {
        return badRequest("Invalid grant: refresh token is invalid");
      }
      rt.used = true;
      return { status: 200, body: mintTokens({ locationId: rt.locationId, companyId: rt.companyId, userId: rt.userId }) };
    }
    return badRequest("Unsupported grant_type for this app");
  };

  const customFieldId = (locationId: string, key: string): string => {
    const k = `${locationId}\u0000${key}`;
    let id = customFieldIds.get(k);
    if (!id) customFieldIds.set(k, (id = randomId(20)));
    return id;
  };

  const upsert = (req: FakeRequest): FakeResponse => {
    const version = req.headers.version;
    if (version === undefined) return badRequest("version header was not found");
    if (version !== HIGHLEVEL_API_VERSION) return badRequest(`version header must be ${HIGHLEVEL_API_VERSION}`);
    const tokenValue = bearerToken(req);
    const at = tokenValue ? accessTokens.get(tokenValue) : undefined;
    if (!at) return unauthorized("Invalid token: access token is invalid");
    if (at.expiresAt <= Date.now()) return unauthorized("Invalid token: access token has expired");

    const w = windowFor(at.locationId);
    const admitted = w.admit();
    const headers = rateHeaders(w);
    if (admitted !== "ok") {
      return {
        status: 429,
        headers,
        body: { statusCode: 429, message: admitted === "daily" ? "Daily API limit exceeded" : "Too many requests" },
      };
    }
    const withHeaders = (r: FakeResponse): FakeResponse => ({ ...r, headers: { ...headers, ...r.headers } });

    let body: unknown;
    try {
      body = JSON.parse(req.rawBody);
    } catch {
      return withHeaders(badRequest("Unexpected token in JSON body"));
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return withHeaders(badRequest("Bad Request"));
    const input = body as Record<string, unknown>;

    const problems: string[] = [];
    if (typeof input.locationId !== "string" || input.locationId === "") problems.push("locationId should not be empty");
    for (const f of STRING_FIELDS) {
      if (input[f] !== undefined && input[f] !== null && typeof input[f] !== "string") problems.push(`${f} must be a string`);
    }
    if (input.tags !== undefined && (!Array.isArray(input.tags) || input.tags.some((t) => typeof t !== "string"))) {
      problems.push("each value in tags must be a string");
    }
    const customFields = input.customFields;
    if (customFields !== undefined) {
      if (!Array.isArray(customFields)) problems.push("customFields must be an array");
      else {
        customFields.forEach((cf: unknown, i: number) => {
          const c = cf as Record<string, unknown> | null;
          if (c === null || typeof c !== "object" || (typeof c.id !== "string" && typeof c.key !== "string")) {
            problems.push(`customFields.${i} must have either id or key`);
          }
        });
      }
    }
    if (typeof input.email === "string" && input.email !== "" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email)) {
      problems.push("email must be an email");
    }
    if (problems.length > 0) return withHeaders(unprocessable(problems));

    const locationId = input.locationId as string;
    if (locationId !== at.locationId) {
      return withHeaders({ status: 403, body: { statusCode: 403, message: "The token does not have access to this location." } });
    }

    const list = contactsByLocation.get(locationId) ?? [];
    contactsByLocation.set(locationId, list);
    const email = typeof input.email === "string" && input.email !== "" ? input.email.toLowerCase() : undefined;
    const phone = typeof input.phone === "string" && input.phone !== "" ? normalizePhone(input.phone) : undefined;
    let existing: HighLevelContact | undefined;
    for (const by of matchOrder) {
      if (by === "email" && email) existing = list.find((c) => c.emailLowerCase === email);
      if (by === "phone" && phone) existing = list.find((c) => c.phone !== undefined && c.phone.replace(/\D/g, "") === phone.replace(/\D/g, ""));
      if (existing) break;
    }

    const now = new Date().toISOString();
    const contact: HighLevelContact = existing ?? {
      id: randomId(20),
      locationId,
      tags: [],
      customFields: [],
      type: "lead",
      dateAdded: now,
      dateUpdated: now,
    };
    for (const f of STRING_FIELDS) {
      const v = input[f] as string | null | undefined;
      if (v === undefined) continue;
      if (v === null) delete contact[f];
      else contact[f] = f === "phone" ? normalizePhone(v) : f === "email" ? v.toLowerCase() : v;
    }
    for (const f of ["dnd", "dndSettings", "inboundDndSettings", "dateOfBirth"]) if (input[f] !== undefined) contact[f] = input[f];
    // Documented: "This field will overwrite all current tags associated with the contact."
    if (Array.isArray(input.tags)) contact.tags = [...new Set((input.tags as string[]).map((t) => t.trim()))];
    if (Array.isArray(customFields)) {
      for (const cf of customFields as Array<{ id?: string; key?: string; field_value?: unknown; value?: unknown }>) {
        const id = cf.id ?? customFieldId(locationId, cf.key!);
        const value = cf.field_value ?? cf.value;
        const at2 = contact.customFields.findIndex((c) => c.id === id);
        if (at2 >= 0) contact.customFields[at2] = { id, value };
        else contact.customFields.push({ id, value });
      }
    }
    if (contact.email) contact.emailLowerCase = contact.email.toLowerCase();
    if (input.name === undefined && (input.firstName !== undefined || input.lastName !== undefined)) {
      const full = [contact.firstName, contact.lastName].filter((s) => s).join(" ");
      if (full) contact.name = full;
    }
    if (contact.firstName) contact.firstNameLowerCase = contact.firstName.toLowerCase();
    if (contact.lastName) contact.lastNameLowerCase = contact.lastName.toLowerCase();
    if (contact.name) contact.fullNameLowerCase = contact.name.toLowerCase();
    contact.dateUpdated = now;
    if (!existing) list.push(contact);

    return withHeaders({ status: 200, body: { new: !existing, contact: structuredClone(contact), traceId: randomUUID() } });
  };

  const deleteContact = (req: FakeRequest, contactId: string): FakeResponse => {
    const version = req.headers.version;
    if (version === undefined) return badRequest("version header was not found");
    if (version !== HIGHLEVEL_API_VERSION) return badRequest(`version header must be ${HIGHLEVEL_API_VERSION}`);
    const tokenValue = bearerToken(req);
    const at = tokenValue ? accessTokens.get(tokenValue) : undefined;
    if (!at) return unauthorized("Invalid token: access token is invalid");
    if (at.expiresAt <= Date.now()) return unauthorized("Invalid token: access token has expired");
    const w = windowFor(at.locationId);
    const admitted = w.admit();
    const headers = rateHeaders(w);
    if (admitted !== "ok") {
      return { status: 429, headers, body: { statusCode: 429, message: admitted === "daily" ? "Daily API limit exceeded" : "Too many requests" } };
    }
    let owner: string | undefined;
    let index = -1;
    for (const [locationId, list] of contactsByLocation) {
      index = list.findIndex((c) => c.id === contactId);
      if (index >= 0) {
        owner = locationId;
        break;
      }
    }
    if (owner === undefined) return { status: 404, headers, body: { statusCode: 404, message: "Contact not found", error: "Not Found" } };
    if (owner !== at.locationId) return { status: 403, headers, body: { statusCode: 403, message: "The token does not have access to this location." } };
    const [contact] = contactsByLocation.get(owner)!.splice(index, 1);
    deleted.push(contactId);
    const traces = [contact!.emailLowerCase, contact!.phone].filter((v): v is string => typeof v === "string" && v !== "");
    if (traces.length) {
      log = log.map((e) => {
        const text = JSON.stringify(e.body).toLowerCase();
        return traces.some((t) => text.includes(t.toLowerCase())) ? { ...e, body: "[erased]" } : e;
      });
    }
    return { status: 200, headers, body: { succeded: true } };
  };

  const CONTACT_PATH = /^\/contacts\/([^/]+)$/;

  const handle = (req: FakeRequest): FakeResponse => {
    if (req.path === "/oauth/token") return token(req);
    if (req.path === "/contacts/upsert" && req.method === "POST") return upsert(req);
    const contactMatch = CONTACT_PATH.exec(req.path);
    if (contactMatch && contactMatch[1] !== "upsert" && req.method === "DELETE") return deleteContact(req, decodeURIComponent(contactMatch[1]!));
    return { status: 404, body: { statusCode: 404, message: `Cannot ${req.method} ${req.path}`, error: "Not Found" } };
  };

  const server = await startFaultyServer({
    faults,
    handler: handle,
    isVendorRoute: () => true,
    errorBody: (status) => ({ statusCode: status, message: status === 429 ? "Too many requests" : `Request failed with status ${status}` }),
    log: (e) => log.push(e),
  });

  return {
    url: server.url,
    faults,
    issueAuthCode: (install) => {
      const code = opaqueToken();
      codes.set(code, { locationId: install.locationId, companyId: install.companyId, userId: install.userId ?? randomId(20) });
      return code;
    },
    expireAllTokens: () => {
      const past = Date.now() - 1;
      for (const t of accessTokens.values()) t.expiresAt = past;
    },
    revokeRefreshToken: (rt) => {
      const r = refreshTokens.get(rt);
      if (r) r.used = true;
    },
    tokens: () => issued.map((t) => ({ ...t, expiresAt: accessTokens.get(t.accessToken)!.expiresAt })),
    contacts: (locationId) => structuredClone(contactsByLocation.get(locationId) ?? []),
    deleted: () => [...deleted],
    requests: () => [...log],
    resetRateLimits: () => {
      windows = new Map();
    },
    clear: () => {
      codes = new Map();
      accessTokens = new Map();
      refreshTokens = new Map();
      issued = [];
      contactsByLocation = new Map();
      customFieldIds = new Map();
      windows = new Map();
      log = [];
      deleted = [];
      faults.reset();
    },
    stop: () => server.stop(),
  };
}
