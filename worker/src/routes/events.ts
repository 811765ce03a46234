/**
 * `POST /v1/events`: the ingest route. Size limit → parse → site key (401) → origin (403) → rate limits (429)
 * → batch limits → zod per event → enqueue one message per request → 202.
 * Accepts `application/json` and `text/plain` JSON (what `sendBeacon` and preflight-free `fetch` send).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import {
  ingestRequestSchema,
  MAX_EVENTS_PER_REQUEST,
  MAX_REQUEST_BYTES,
  QUEUE_MESSAGE_VERSION,
  type IngestResponse,
  type QueueMessage,
} from "#contracts";
import { anonymiseIp, clientKey, geoFromCf } from "../lib/enrich.ts";
import {
  ApiError,
  EmptyBatch,
  InvalidBatch,
  InvalidJson,
  NoValidEvents,
  PayloadTooLarge,
  TooManyEvents,
  UnsupportedMediaType,
} from "../lib/errors.ts";
import { requireClientWithinLimit, requireSender, requireSite, requireSiteClientWithinLimit, requireSiteWithinLimits } from "../lib/guard.ts";
import { validateBatch, withTrustedTimes } from "../lib/validate-batch.ts";
import { errorText, workerLog } from "../lib/log.ts";

const ACCEPTED_MEDIA_TYPES = new Set(["application/json", "text/plain", ""]);

const decoder = new TextDecoder();

/**
 * The body as JSON. Read as bytes and decoded here (as `text()` would, invalid UTF-8 replaced): workerd warns on
 * every `text()` of a body whose content type does not say text, and beacons without a type are normal traffic.
 */
function parseBody(bytes: ArrayBuffer): unknown {
  const text = decoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw InvalidJson();
  }
}

export const eventsRoute = new Hono<{ Bindings: Env }>();

eventsRoute.use(
  "*",
  // Preflights come before the body (and so the site) is known: any origin may ask; the POST enforces the allowlist.
  cors({
    origin: (origin) => origin,
    allowMethods: ["POST", "OPTIONS"],
    allowHeaders: ["Content-Type", "Authorization"],
    exposeHeaders: ["Retry-After"],
    maxAge: 86400,
  }),
);

eventsRoute.post(
  "/",
  bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: () => {
      throw PayloadTooLarge(MAX_REQUEST_BYTES);
    },
  }),
  async function ingest(c) {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (!ACCEPTED_MEDIA_TYPES.has(mediaType)) throw UnsupportedMediaType();

    const clientIp = c.req.header("cf-connecting-ip") ?? null;
    const client = clientKey(clientIp);
    await requireClientWithinLimit(c.env, client);
    const envelope = ingestRequestSchema.safeParse(parseBody(await c.req.arrayBuffer()));
    if (!envelope.success) throw InvalidBatch("Expected { siteKey: string, events: [...] }.");
    const { events, sentAt } = envelope.data;
    const siteKey = envelope.data.siteKey.toLowerCase();
    const site = await requireSite(c.env.CONFIG, siteKey);
    await requireSender(site, c.req.header("origin"), c.req.header("authorization"));
    await requireSiteClientWithinLimit(c.env, siteKey, client);
    if (events.length === 0) throw EmptyBatch();
    if (events.length > MAX_EVENTS_PER_REQUEST) throw TooManyEvents(MAX_EVENTS_PER_REQUEST, events.length);

    const verdict = validateBatch(events);
    if (verdict.accepted.length === 0) throw NoValidEvents(verdict.rejected);
    // only now, with events to accept, does the request spend the site's budget
    const leadEvents = verdict.accepted.filter((e) => e.type === "form_submission" || e.type === "form_interaction").length;
    await requireSiteWithinLimits(c.env, siteKey, client, leadEvents);

    const receivedAt = Date.now();
    const message: QueueMessage = {
      v: QUEUE_MESSAGE_VERSION,
      siteId: site.siteId,
      retentionDays: site.retentionDays,
      ...(site.timezone ? { timezone: site.timezone } : {}),
      receivedAt,
      geo: geoFromCf(c.req.raw.cf as Record<string, unknown> | undefined),
      ip: anonymiseIp(clientIp),
      ua: c.req.header("user-agent")?.slice(0, 512) ?? null,
      events: withTrustedTimes(verdict.accepted, receivedAt, sentAt),
    };
    try {
      await c.env.EVENTS.send(message, { contentType: "json" });
    } catch (cause) {
      workerLog(c.env, { reqId: c.req.header("cf-ray") }).error("queue send failed", { siteId: site.siteId, error: errorText(cause) });
      throw new ApiError(503, "queue_unavailable", "Events could not be queued; retry later.", { retryAfter: 5 });
    }
    const body: IngestResponse = { accepted: verdict.accepted.length, rejected: verdict.rejected };
    return c.json(body, 202);
  },
);
