/**
 * A local stand-in for HubSpot's CRM v3 contacts API (api.hubapi.com), limited to what lead delivery uses, following
 * HubSpot's reference pages "Upsert a batch of contacts" (POST /crm/v3/objects/contacts/batch/upsert), "Retrieve a
 * contact" (GET /crm/v3/objects/contacts/{contactId}), "Error handling" and "API usage guidelines and limits":
 *
 * - Private-app auth: `Authorization: Bearer <token>`, the token one of `tokens`; otherwise 401
 *   `{ status: "error", message, correlationId, category: "INVALID_AUTHENTICATION" }`.
 * - Batch upsert body `{ inputs: [{ idProperty: "email", id, properties }] }`, at most 100 inputs; upserts by email
 *   (case-insensitive) and answers 200 `{ status: "COMPLETE", results: [{ id, properties, createdAt, updatedAt,
 *   archived, new }], startedAt, completedAt }`. Property names outside the known set are refused the way HubSpot
 *   does: 400 VALIDATION_ERROR whose message is `Property values were not valid: [{"isValid":false,...,
 *   "error":"PROPERTY_DOESNT_EXIST",...}]`; so are invalid emails and options outside an enumeration property's options.
 * - Burst limit per 10 s and daily limit for private apps (defaults 100 / 10 s and 250,000 / day, the Free/Starter
 *   numbers), with `X-HubSpot-RateLimit-Daily`, `-Daily-Remaining`, `-Interval-Milliseconds`, `-Max`, `-Remaining` on
 *   every authenticated answer; past a limit 429 `{ status: "error", message: "You have reached your
 *   ten_secondly_rolling limit.", errorType: "RATE_LIMIT", correlationId, policyName: "TEN_SECONDLY_ROLLING" | "DAILY",
 *   requestId }` (the body the official client's retry logic keys on).
 * - GDPR delete, "Permanently delete a contact (GDPR-compliant)": `POST /crm/v3/objects/contacts/gdpr-delete` with
 *   `{ objectId, idProperty? }` (`idProperty` "email" to name the contact by email, else the id): the contact is
 *   removed for good and the answer is 204 No Content; an unknown id is 404 OBJECT_NOT_FOUND; an unknown email is
 *   204 as documented (HubSpot blocklists the address; the fake keeps nothing); a missing `objectId` or another
 *   `idProperty` is 400 VALIDATION_ERROR. Auth and rate limits as above. Like HubSpot's "all associated content",
 *   the fake also forgets what it logged of the contact: logged request bodies that name its email become "[erased]".
 */
import { randomUUID } from "node:crypto";
import { Faults, RateWindow, bearerToken, startFaultyServer, type FakeRequest, type FakeResponse, type LoggedRequest } from "./common.ts";

/** HubSpot's default contact properties that the fake accepts (writable) unless `knownProperties` says otherwise. */
export const DEFAULT_CONTACT_PROPERTIES: readonly string[] = [
  "email",
  "firstname",
  "lastname",
  "phone",
  "company",
  "website",
  "city",
  "state",
  "country",
  "lifecyclestage",
  "hs_lead_status",
  "message",
];

/** Internal values of HubSpot's default enumeration properties. */
export const DEFAULT_PROPERTY_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  lifecyclestage: ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"],
  hs_lead_status: ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"],
};

/** Properties HubSpot sets itself and returns on reads (not writable). */
const SYSTEM_PROPERTIES = ["createdate", "lastmodifieddate", "hs_object_id"];
/** What a read returns when no `properties` are asked for. */
const DEFAULT_READ_PROPERTIES = ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"];
const MAX_BATCH_INPUTS = 100;

export interface HubSpotFakeOptions {
  /** Private-app access tokens that authenticate (e.g. `pat-na1-...`). */
  tokens: string[];
  /** Writable contact property names; default DEFAULT_CONTACT_PROPERTIES. */
  knownProperties?: readonly string[];
  /** Allowed values of enumeration properties; default DEFAULT_PROPERTY_OPTIONS. */
  propertyOptions?: Readonly<Record<string, readonly string[]>>;
  /** Private-app limits: `max` requests per `intervalMs` (default 100 / 10000) and `daily` (default 250000). */
  rateLimit?: { max?: number; intervalMs?: number; daily?: number };
}

export interface HubSpotContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface HubSpotFake {
  url: string;
  faults: Faults;
  /** Stored contacts in creation order. */
  contacts(): HubSpotContact[];
  /** Ids of the contacts removed by GDPR deletes, in order (no other trace of them is kept). */
  purged(): string[];
  /** Every request with its answer, faulted ones marked. */
  requests(): LoggedRequest[];
  /** Makes a token stop authenticating (as when a private app's token is rotated). */
  revokeToken(token: string): void;
  /** Empties the rate-limit windows (daily count included). */
  resetRateLimits(): void;
  /** Forgets contacts and the log; resets faults and rate limits (revoked tokens stay revoked). */
  clear(): void;
  stop(): Promise<void>;
}

type ErrorCategory = "INVALID_AUTHENTICATION" | "VALIDATION_ERROR" | "OBJECT_NOT_FOUND" | "RATE_LIMITS" | "INTERNAL_ERROR";

function hubspotError(status: number, category: ErrorCategory, message: string, extra: Record<string, unknown> = {}): FakeResponse {
  return { status, body: { status: "error", message, correlationId: randomUUID(), category, ...extra } };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function startHubSpotFake(opts: HubSpotFakeOptions): Promise<HubSpotFake> {
  const validTokens = new Set(opts.tokens);
  const known = new Set(opts.knownProperties ?? DEFAULT_CONTACT_PROPERTIES);
  const options = opts.propertyOptions ?? DEFAULT_PROPERTY_OPTIONS;
  const limit = { max: opts.rateLimit?.max ?? 100, intervalMs: opts.rateLimit?.intervalMs ?? 10_000, daily: opts.rateLimit?.daily ?? 250_000 };
  const faults = new Faults();

  let window = new RateWindow(limit.max, limit.intervalMs, limit.daily);
  let byId = new Map<string, HubSpotContact>();
  let nextId = 1001;
  let log: LoggedRequest[] = [];
  let purged: string[] = [];

  const rateHeaders = (): Record<string, string> => {
    const left = window.remaining();
    return {
      "x-hubspot-ratelimit-daily": String(window.daily),
      "x-hubspot-ratelimit-daily-remaining": String(left.daily),
      "x-hubspot-ratelimit-interval-milliseconds": String(window.intervalMs),
      "x-hubspot-ratelimit-max": String(window.max),
      "x-hubspot-ratelimit-remaining": String(left.burst),
    };
  };

  const findByEmail = (email: string): HubSpotContact | undefined => {
    const e = email.toLowerCase();
    for (const c of byId.values()) if (c.properties.email === e) return c;
    return undefined;
  };

  /** HubSpot's per-property validation results, as embedded in its "Property values were not valid" message. */
  const validateProperties = (props: Record<string, unknown>): Array<Record<string, unknown>> => {
    const bad: Array<Record<string, unknown>> = [];
    for (const [name, raw] of Object.entries(props)) {
      const result = (error: string, message: string): Record<string, unknown> => ({
        isValid: false,
        message,
        error,
        name,
        localizedErrorMessage: message,
      });
      if (!known.has(name)) {
        bad.push(result("PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`));
        continue;
      }
      const value = raw === null || raw === undefined ? "" : String(raw);
      if (name === "email" && value !== "" && !EMAIL.test(value)) {
        bad.push(result("INVALID_EMAIL", `Email address ${value} is invalid`));
      }
      const allowed = options[name];
      if (allowed && value !== "" && !allowed.includes(value)) {
        bad.push(result("INVALID_OPTION", `${value} was not one of the allowed options: [${allowed.join(", ")}]`));
      }
    }
    return bad;
  };

  const upsertBatch = (req: FakeRequest): FakeResponse => {
    const startedAt = new Date().toISOString();
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody);
    } catch (err) {
      return hubspotError(400, "VALIDATION_ERROR", `Invalid input JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const inputs = (body as { inputs?: unknown } | null)?.inputs;
    if (!Array.isArray(inputs)) return hubspotError(400, "VALIDATION_ERROR", "Invalid input JSON: inputs must be an array");
    if (inputs.length > MAX_BATCH_INPUTS) {
      return hubspotError(400, "VALIDATION_ERROR", `Batch input size ${inputs.length} exceeds the limit of ${MAX_BATCH_INPUTS}`);
    }
    const seen = new Set<string>();
    const dupes = new Set<string>();
    const allBad: Array<Record<string, unknown>> = [];
    for (const [i, raw] of inputs.entries()) {
      const inp = raw as { id?: unknown; idProperty?: unknown; properties?: unknown } | null;
      if (inp === null || typeof inp !== "object") return hubspotError(400, "VALIDATION_ERROR", `inputs[${i}] must be an object`);
      if (inp.idProperty !== "email") {
        return hubspotError(400, "VALIDATION_ERROR", `inputs[${i}].idProperty must be "email" (the only unique property the fake upserts by)`);
      }
      if (typeof inp.id !== "string" || !EMAIL.test(inp.id)) {
        return hubspotError(400, "VALIDATION_ERROR", `inputs[${i}].id must be the contact's email address`);
      }
      if (inp.properties === null || typeof inp.properties !== "object" || Array.isArray(inp.properties)) {
        return hubspotError(400, "VALIDATION_ERROR", `inputs[${i}].properties must be an object`);
      }
      const key = inp.id.toLowerCase();
      if (seen.has(key)) dupes.add(key);
      seen.add(key);
      allBad.push(...validateProperties(inp.properties as Record<string, unknown>));
    }
    if (dupes.size > 0) return hubspotError(400, "VALIDATION_ERROR", `Duplicate IDs found in batch input: [${[...dupes].join(", ")}]. IDs must be unique`);
    if (allBad.length > 0) {
      return hubspotError(400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(allBad)}`, {
        errors: allBad.map((b) => ({ message: b.message, code: b.error, context: { propertyName: [b.name] } })),
      });
    }

    const now = new Date().toISOString();
    const results = (inputs as Array<{ id: string; properties: Record<string, unknown> }>).map((inp) => {
      const email = inp.id.toLowerCase();
      const existing = findByEmail(email);
      const contact: HubSpotContact = existing ?? {
        id: String(nextId++),
        properties: {},
        createdAt: now,
        updatedAt: now,
        archived: false,
      };
      const written: Record<string, string> = {};
      for (const [k, v] of Object.entries(inp.properties)) {
        const value = v === null || v === undefined ? "" : String(v);
        written[k] = k === "email" ? value.toLowerCase() : value;
      }
      Object.assign(contact.properties, written);
      contact.properties.email = email;
      contact.properties.hs_object_id = contact.id;
      contact.properties.createdate = contact.createdAt;
      contact.properties.lastmodifieddate = now;
      contact.updatedAt = now;
      if (!existing) byId.set(contact.id, contact);
      const shown: Record<string, string> = { ...written };
      for (const k of ["email", ...SYSTEM_PROPERTIES]) shown[k] = contact.properties[k]!;
      return { id: contact.id, properties: shown, createdAt: contact.createdAt, updatedAt: contact.updatedAt, archived: false, new: !existing };
    });
    return { status: 200, body: { status: "COMPLETE", results, startedAt, completedAt: new Date().toISOString() } };
  };

  const getOne = (req: FakeRequest, rawId: string): FakeResponse => {
    const id = decodeURIComponent(rawId);
    const idProperty = req.query.get("idProperty");
    const contact = idProperty === "email" ? findByEmail(id) : idProperty && idProperty !== "hs_object_id" ? undefined : byId.get(id);
    if (!contact || (contact.archived && req.query.get("archived") !== "true")) {
      return hubspotError(404, "OBJECT_NOT_FOUND", "resource not found");
    }
    const asked = req.query.getAll("properties").flatMap((p) => p.split(",")).map((p) => p.trim()).filter((p) => p !== "");
    const names = asked.length > 0 ? [...new Set([...asked, ...SYSTEM_PROPERTIES])] : DEFAULT_READ_PROPERTIES;
    const properties: Record<string, string | null> = {};
    for (const n of names) properties[n] = contact.properties[n] ?? null;
    return { status: 200, body: { id: contact.id, properties, createdAt: contact.createdAt, updatedAt: contact.updatedAt, archived: contact.archived } };
  };

  /** Removes the contact and every logged request body that names its email. */
  const purge = (contact: HubSpotContact): void => {
    byId.delete(contact.id);
    purged.push(contact.id);
    const email = contact.properties.email;
    if (!email) return;
    log = log.map((e) => (JSON.stringify(e.body).toLowerCase().includes(email) ? { ...e, body: "[erased]" } : e));
  };

  const gdprDelete = (req: FakeRequest): FakeResponse => {
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody);
    } catch (err) {
      return hubspotError(400, "VALIDATION_ERROR", `Invalid input JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const input = (body ?? {}) as { objectId?: unknown; idProperty?: unknown };
    if (typeof input.objectId !== "string" || input.objectId === "") return hubspotError(400, "VALIDATION_ERROR", "Invalid input JSON: objectId is required");
    const idProperty = input.idProperty ?? "hs_object_id";
    if (idProperty !== "hs_object_id" && idProperty !== "email") {
      return hubspotError(400, "VALIDATION_ERROR", `Invalid idProperty: ${String(idProperty)} (use "email", or omit it for the object id)`);
    }
    if (idProperty === "email") {
      const contact = findByEmail(input.objectId);
      // documented: an address without a contact is blocklisted instead (the fake keeps nothing of it)
      if (contact) purge(contact);
      return { status: 204 };
    }
    const contact = byId.get(input.objectId);
    if (!contact) return hubspotError(404, "OBJECT_NOT_FOUND", "resource not found");
    purge(contact);
    return { status: 204 };
  };

  const CONTACT_PATH = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/;

  const handle = (req: FakeRequest): FakeResponse => {
    const upsertRoute = req.path === "/crm/v3/objects/contacts/batch/upsert";
    const gdprRoute = req.path === "/crm/v3/objects/contacts/gdpr-delete" && req.method === "POST";
    const getMatch = CONTACT_PATH.exec(req.path);
    if (!(upsertRoute && req.method === "POST") && !gdprRoute && !(getMatch && req.method === "GET" && getMatch[1] !== "batch")) {
      return { status: 404, body: { status: "error", message: `Unable to route ${req.method} ${req.path}`, correlationId: randomUUID() } };
    }
    const token = bearerToken(req);
    if (!token || !validTokens.has(token)) {
      return hubspotError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
      );
    }
    const admitted = window.admit();
    const headers = rateHeaders();
    if (admitted !== "ok") {
      const daily = admitted === "daily";
      return {
        status: 429,
        headers,
        body: {
          status: "error",
          message: daily ? "You have reached your daily limit." : "You have reached your ten_secondly_rolling limit.",
          errorType: "RATE_LIMIT",
          correlationId: randomUUID(),
          policyName: daily ? "DAILY" : "TEN_SECONDLY_ROLLING",
          requestId: randomUUID(),
        },
      };
    }
    const res = gdprRoute ? gdprDelete(req) : upsertRoute ? upsertBatch(req) : getOne(req, getMatch![1]!);
    return { ...res, headers: { ...headers, ...res.headers } };
  };

  const server = await startFaultyServer({
    faults,
    handler: handle,
    isVendorRoute: () => true,
    errorBody: (status) =>
      status === 429
        ? {
            status: "error",
            message: "You have reached your ten_secondly_rolling limit.",
            errorType: "RATE_LIMIT",
            correlationId: randomUUID(),
            policyName: "TEN_SECONDLY_ROLLING",
            requestId: randomUUID(),
          }
        : {
            status: "error",
            message: status >= 500 ? "internal error" : `request failed with status ${status}`,
            correlationId: randomUUID(),
            category: status >= 500 ? "INTERNAL_ERROR" : status === 401 ? "INVALID_AUTHENTICATION" : "VALIDATION_ERROR",
          },
    log: (e) => log.push(e),
  });

  return {
    url: server.url,
    faults,
    contacts: () => [...byId.values()].map((c) => structuredClone(c)),
    purged: () => [...purged],
    requests: () => [...log],
    revokeToken: (t) => {
      validTokens.delete(t);
    },
    resetRateLimits: () => {
      window = new RateWindow(limit.max, limit.intervalMs, limit.daily);
    },
    clear: () => {
      byId = new Map();
      nextId = 1001;
      log = [];
      purged = [];
      window = new RateWindow(limit.max, limit.intervalMs, limit.daily);
      faults.reset();
    },
    stop: () => server.stop(),
  };
}
