/**
 * `POST /v1/activity`: team activity from the CRM's Custom JS. Size limit → parse → actor token (401, named) →
 * client and per-user rate limits (429) → zod per event → one queue message per request → 202.
 *
 * Who the events are about comes only from the verified actor token: user, tenant, location, role, time zone and
 * retention are stamped from its claims, and anything the body says about them is never read. Paths are normalised
 * again and pages named here, whatever the script did. Any origin may
 * send (the CRM's pages are on the CRM's domains, white-labelled ones included): the token is the credential.
 * A refused token costs nothing but its own request.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { errors, importSPKI, jwtVerify, type CryptoKey } from "jose";
import {
  ACTIVITY_MAX_EVENTS,
  activityEnvelopeSchema,
  activityEventSchema,
  ACTOR_TOKEN_AUDIENCE,
  ACTOR_TOKEN_ISSUER,
  ACTOR_TOKEN_TTL_S,
  actorClaimsSchema,
  MAX_REQUEST_BYTES,
  QUEUE_MESSAGE_VERSION,
  type ActivityEvent,
  type ActivityQueueMessage,
  type Actor,
  type RejectedEvent,
} from "#contracts";
import { ApiError, InvalidBatch, NoValidEvents, PayloadTooLarge, TooManyEvents } from "../lib/errors.ts";
import { requireClientWithinLimit, requireSiteClientWithinLimit } from "../lib/guard.ts";
import { clientKey } from "../lib/enrich.ts";
import { enqueue, parseJsonBody, requireJsonMediaType } from "../lib/ingest-body.ts";
import { workerLog } from "../lib/log.ts";
import { DEFAULT_PAGE_NAMES, normalisePath, pageNameIn } from "../../../contracts/activity-path.ts";
import { configuredPageNames } from "./activity-script.ts";


export const ActivityNotConfigured = (): ApiError =>
  new ApiError(404, "activity_not_configured", "Team activity is not configured at this edge (ACTIVITY_TOKEN_PUBLIC_KEY).");
export const ActorTokenMissing = (): ApiError => new ApiError(401, "actor_token_missing", "The batch carries no actor token.");
export const ActorTokenExpired = (): ApiError => new ApiError(401, "actor_token_expired", "The actor token has expired; exchange the session details again.");
export const ActorTokenInvalid = (): ApiError => new ApiError(401, "actor_token_invalid", "The actor token is not one this service issued, or it was altered.");

/** The verification key, imported once per isolate (and again only if the configured key changes). */
let keyCache: { pem: string; key: Promise<CryptoKey> } | null = null;
function verificationKey(pem: string): Promise<CryptoKey> {
  if (keyCache?.pem !== pem) {
    const key = importSPKI(pem, "EdDSA");
    // a key that does not import is a deployment error: reported as 500 by onError, and not cached
    key.catch(() => (keyCache = null));
    keyCache = { pem, key };
  }
  return keyCache.key;
}

/** The actor a token names, or a 401 saying why not. */
export async function verifyActor(pem: string, token: string): Promise<Actor> {
  const key = await verificationKey(pem);
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["EdDSA"],
      issuer: ACTOR_TOKEN_ISSUER,
      audience: ACTOR_TOKEN_AUDIENCE,
      requiredClaims: ["exp", "iat", "sub"],
      maxTokenAge: ACTOR_TOKEN_TTL_S + 30,
      clockTolerance: 30,
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw ActorTokenExpired();
    throw ActorTokenInvalid();
  }
  // a validly signed token that claims to live longer than we ever issue is not ours to trust
  if (payload.exp! - payload.iat! > ACTOR_TOKEN_TTL_S + 30) throw ActorTokenInvalid();
  const claims = actorClaimsSchema.safeParse(payload);
  if (!claims.success || typeof payload.sub !== "string" || !payload.sub || payload.sub.length > 36) throw ActorTokenInvalid();
  const { ten, loc, role, tz, ret } = claims.data;
  return { userId: payload.sub, tenantId: ten, locationId: loc, role, timezone: tz, retentionDays: ret };
}

/** The page-name map the served script was given, per isolate (and again only if the var changes). */
let namesCache: { raw: string; names: Record<string, string> } | null = null;
function pageNames(env: Env): Record<string, string> {
  const raw = String(env.ACTIVITY_PAGE_NAMES ?? "");
  if (namesCache?.raw !== raw) namesCache = { raw, names: { ...DEFAULT_PAGE_NAMES, ...configuredPageNames(raw, workerLog(env)) } };
  return namesCache.names;
}

/**
 * The event as stored: its path normalised again here (a script that was changed, or a client that is not the
 * script, cannot store an id, an email or a query string) and its page named from that path by the edge's own map.
 */
function normalised(event: ActivityEvent, names: Record<string, string>): ActivityEvent {
  const path = normalisePath(event.path);
  return { ...event, path, page: pageNameIn(path, names) };
}

export const activityRoute = new Hono<{ Bindings: Env }>();

activityRoute.use(
  "*",
  cors({ origin: "*", allowMethods: ["POST", "OPTIONS"], allowHeaders: ["Content-Type"], exposeHeaders: ["Retry-After"], maxAge: 86400 }),
);

activityRoute.post(
  "/",
  bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: () => {
      throw PayloadTooLarge(MAX_REQUEST_BYTES);
    },
  }),
  async function ingestActivity(c) {
    requireJsonMediaType(c.req.header("content-type"));
    const pem = String(c.env.ACTIVITY_TOKEN_PUBLIC_KEY ?? "").trim();
    if (!pem) throw ActivityNotConfigured();

    const client = clientKey(c.req.header("cf-connecting-ip") ?? null);
    await requireClientWithinLimit(c.env, client);
    const body = parseJsonBody(await c.req.arrayBuffer());
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== "string" || !token) throw ActorTokenMissing();
    const envelope = activityEnvelopeSchema.safeParse(body);
    if (!envelope.success) {
      const events = (body as { events?: unknown }).events;
      if (Array.isArray(events) && events.length > ACTIVITY_MAX_EVENTS) throw TooManyEvents(ACTIVITY_MAX_EVENTS, events.length);
      throw InvalidBatch(`Expected { token: string, events: [1..${ACTIVITY_MAX_EVENTS} events] }.`);
    }
    const actor = await verifyActor(pem, envelope.data.token);
    // one user's scripts share the per-client-and-site budget of a website's visitor
    await requireSiteClientWithinLimit(c.env, `actor:${actor.userId}`, client);

    const accepted: ActivityEvent[] = [];
    const rejected: RejectedEvent[] = [];
    const names = pageNames(c.env);
    const seen = new Set<string>();
    envelope.data.events.forEach((raw, index) => {
      const parsed = activityEventSchema.safeParse(raw);
      if (!parsed.success) {
        const error = parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).join("; ").slice(0, 300);
        rejected.push({ index, reason: "invalid", error });
      } else if (seen.has(parsed.data.id)) rejected.push({ index, reason: "duplicate_id", error: "id: the same id earlier in the batch" });
      else {
        seen.add(parsed.data.id);
        accepted.push(normalised(parsed.data, names));
      }
    });
    if (accepted.length === 0) throw NoValidEvents(rejected);

    const message: ActivityQueueMessage = { v: QUEUE_MESSAGE_VERSION, kind: "activity", receivedAt: Date.now(), actor, events: accepted };
    await enqueue(c.env, c.req.header("cf-ray"), message, { tenantId: actor.tenantId });
    return c.json({ accepted: accepted.length, rejected }, 202);
  },
);
