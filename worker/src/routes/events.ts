/**
 * `POST /v1/events`: the ingest route. Parse → validate each event → enqueue one message per request → 202.
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
import { anonymiseIp, geoFromCf } from "../lib/enrich.ts";
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
import { validateBatch } from "../lib/validate-batch.ts";

const ACCEPTED_MEDIA_TYPES = new Set(["application/json", "text/plain", ""]);

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw InvalidJson();
  }
}

export const eventsRoute = new Hono<{ Bindings: Env }>();

eventsRoute.use(
  "*",
  cors({ origin: (origin) => origin, allowMethods: ["POST", "OPTIONS"], allowHeaders: ["Content-Type"], maxAge: 86400 }),
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

    const envelope = ingestRequestSchema.safeParse(parseBody(await c.req.text()));
    if (!envelope.success) throw InvalidBatch("Expected { siteKey: string, events: [...] }.");
    const { siteKey, events } = envelope.data;
    if (events.length === 0) throw EmptyBatch();
    if (events.length > MAX_EVENTS_PER_REQUEST) throw TooManyEvents(MAX_EVENTS_PER_REQUEST, events.length);

    const verdict = validateBatch(events);
    if (verdict.accepted.length === 0) throw NoValidEvents(verdict.rejected);

    const message: QueueMessage = {
      v: QUEUE_MESSAGE_VERSION,
      // Until site config exists at the edge (issue B), the public site key is the site's id.
      siteId: siteKey,
      receivedAt: Date.now(),
      geo: geoFromCf(c.req.raw.cf as Record<string, unknown> | undefined),
      ip: anonymiseIp(c.req.header("cf-connecting-ip")),
      ua: c.req.header("user-agent")?.slice(0, 512) ?? null,
      events: verdict.accepted,
    };
    try {
      await c.env.EVENTS.send(message, { contentType: "json" });
    } catch (cause) {
      console.error("queue send failed", cause instanceof Error ? cause.message : String(cause));
      c.header("Retry-After", "5");
      throw new ApiError(503, "queue_unavailable", "Events could not be queued; retry later.");
    }
    const body: IngestResponse = { accepted: verdict.accepted.length, rejected: verdict.rejected };
    return c.json(body, 202);
  },
);
