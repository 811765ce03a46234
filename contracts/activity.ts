/**
 * Team activity (issue L): what the CRM's own users do inside the CRM, sent by the Custom JS that the marketplace
 * app injects into every CRM page. The people here are the agency's and its clients' staff, not website visitors.
 *
 * Who the events are about is never taken from the body: the Custom JS exchanges the CRM's encrypted session
 * details for a short-lived **actor token** (EdDSA, signed by the backend), every batch carries it, and the edge
 * stamps user, tenant and location from the verified token onto the queue message.
 */
import { z } from "zod";
import { QUEUE_MESSAGE_VERSION } from "./queue-message.ts";

/** The actor token: issuer and audience of its own, so it can never pass for a dashboard session or an API token. */
export const ACTOR_TOKEN_ISSUER = "lead-tracker";
export const ACTOR_TOKEN_AUDIENCE = "lead-tracker:activity";
export const ACTOR_TOKEN_KID = "lead-tracker-actor";
/** At most one hour; the Custom JS renews it the same way before it runs out. */
export const ACTOR_TOKEN_TTL_S = 3600;

/** Claims of an actor token, besides `sub` (our user id), `iss`, `aud`, `iat`, `exp`. */
export const actorClaimsSchema = z.object({
  /** Our tenant id (the CRM's company). */
  ten: z.string().min(1).max(36),
  /** Our location id when the CRM page is inside a location, else null (agency-level pages). */
  loc: z.string().min(1).max(36).nullable(),
  /** The user's role with us: agency or location. */
  role: z.enum(["agency", "location"]),
  /** IANA time zone the user's days are counted in: the location's, else the tenant's default (UTC). */
  tz: z.string().min(1).max(64),
  /** Days activity events are kept (the tenant's retention). */
  ret: z.number().int().positive().max(3650),
});
export type ActorClaims = z.infer<typeof actorClaimsSchema>;

/** Per request: at most 50 events, like website events. */
export const ACTIVITY_MAX_EVENTS = 50;
/** A route path after normalisation (ids replaced by placeholders, no query string, no fragment). */
const path = z.string().min(1).max(512).regex(/^\//, "a path starts with /");
const common = {
  /** Random id made in the browser; with the user id it is the event's identity (stored once). */
  id: z.string().min(8).max(64),
  /** Browser clock, epoch ms. */
  ts: z.number().int().positive(),
  /** Activity session: ends after 30 minutes without activity. */
  session: z.string().min(1).max(64),
  /** One page view: a route change starts a new one. */
  view: z.string().min(1).max(64),
  path,
  /** Readable page name from the page-name map ("Contacts"), else the normalised path. */
  page: z.string().min(1).max(64),
};

/**
 * `view`: a route became current (a page view). `time`: active time spent on that view since its last report,
 * in ms; sent when the view ends, the tab is hidden, the user goes idle, or the page is left. Time on a page is the
 * sum of its `time` events.
 */
export const activityEventSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("view"), ...common }),
  z.strictObject({ type: z.literal("time"), ...common, ms: z.number().int().min(1).max(3_600_000) }),
]);
export type ActivityEvent = z.infer<typeof activityEventSchema>;

/** What the Custom JS posts to the edge's POST /v1/activity (as text/plain: no CORS preflight). */
export const activityEnvelopeSchema = z.object({
  /** The actor token. */
  token: z.string().min(1).max(4096),
  sentAt: z.number().int().positive().optional(),
  /** Validated one by one: a bad event is rejected alone. */
  events: z.array(z.unknown()).min(1).max(ACTIVITY_MAX_EVENTS),
});

/** The actor as the edge read it from the verified token (never from the body). */
export const actorSchema = z.object({
  userId: z.string().min(1).max(36),
  tenantId: z.string().min(1).max(36),
  locationId: z.string().min(1).max(36).nullable(),
  role: z.enum(["agency", "location"]),
  timezone: z.string().min(1).max(64),
  retentionDays: z.number().int().positive().max(3650),
});
export type Actor = z.infer<typeof actorSchema>;

/** Edge → backend, on the same queue as website events; `kind` tells them apart. */
export const activityQueueMessageSchema = z.object({
  v: z.literal(QUEUE_MESSAGE_VERSION),
  kind: z.literal("activity"),
  /** Edge clock, epoch ms. */
  receivedAt: z.number().int().positive(),
  actor: actorSchema,
  events: z.array(activityEventSchema).min(1).max(ACTIVITY_MAX_EVENTS),
});
export type ActivityQueueMessage = z.infer<typeof activityQueueMessageSchema>;

export const isActivityMessage = (body: unknown): boolean =>
  typeof body === "object" && body !== null && (body as { kind?: unknown }).kind === "activity";
