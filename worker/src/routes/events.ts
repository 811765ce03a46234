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
import { EmptyBatch, InvalidBatch, NoValidEvents, PayloadTooLarge, TooManyEvents } from "../lib/errors.ts";
import { requireClientWithinLimit, requireSender, requireSite, requireSiteClientWithinLimit, requireSiteWithinLimits } from "../lib/guard.ts";
import { validateBatch, withTrustedTimes } from "../lib/validate-batch.ts";
import { enqueue, parseJsonBody, requireJsonMediaType } from "../lib/ingest-body.ts";

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
    requireJsonMediaType(c.req.header("content-type"));

    const clientIp = c.req.header("cf-connecting-ip") ?? null;
    const client = clientKey(clientIp);
    await requireClientWithinLimit(c.env, client);
    const envelope = ingestRequestSchema.safeParse(parseJsonBody(await c.req.arrayBuffer()));
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
    await enqueue(c.env, c.req.header("cf-ray"), message, { siteId: site.siteId });
    const body: IngestResponse = { accepted: verdict.accepted.length, rejected: verdict.rejected };
    return c.json(body, 202);
  },
);
