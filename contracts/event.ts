/**
 * The event wire format: what the browser SDK sends to the edge in `POST /v1/events`.
 * Every event carries a client-generated id so that any retry, anywhere, stays idempotent downstream.
 */
import { z } from "zod";
import type { UnstorableReason } from "./storable.ts";

export const EVENT_TYPES = [
  "page_view",
  "form_interaction",
  "form_submission",
  "identify",
  "track",
  "session_start",
  "engagement",
] as const;

/** Limits that keep a request inside `fetch(..., { keepalive: true })`'s 64 KB budget. */
export const MAX_EVENTS_PER_REQUEST = 50;
export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_EVENT_BYTES = 32 * 1024;

const shortId = z.string().min(1).max(128);
const url = z.string().max(4096);
const bag = z.record(z.string().max(256), z.unknown());

export const pageSchema = z.object({
  url,
  path: url.optional(),
  title: z.string().max(1024).optional(),
  referrer: url.optional(),
});

export const formSchema = z.object({
  formId: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
  fields: z.record(z.string().max(256), z.string().max(8192)),
  trigger: z.string().max(64).optional(),
  progress: z
    .object({
      completed: z.array(z.string().max(256)).max(200),
      total: z.number().int().nonnegative(),
      percent: z.number().min(0).max(100),
    })
    .optional(),
});

export const UTM_KEYS = ["source", "medium", "campaign", "term", "content"] as const;
export const CLICK_ID_KEYS = ["gclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid"] as const;

const touchSchema = z.object({
  utm: z.partialRecord(z.enum(UTM_KEYS), z.string().max(512)).optional(),
  clickIds: z.partialRecord(z.enum(CLICK_ID_KEYS), z.string().max(512)).optional(),
  referrer: url.optional(),
  landingPage: url.optional(),
  /** Client time of the touch, epoch ms. */
  ts: z.number().int().positive().optional(),
});

/** Where a session came from (sent with `session_start`), and the visitor's first touch ever. */
export const attributionSchema = touchSchema.extend({ firstTouch: touchSchema.optional() });

export const eventSchema = z.object({
  id: z.uuid(),
  type: z.enum(EVENT_TYPES),
  /**
   * Client clock, epoch milliseconds. The edge adds its own `receivedAt`, and corrects a `ts` from a visibly wrong
   * clock (see `eventTime` in storable.ts), keeping the original in `clientTs`.
   */
  ts: z.number().int().positive(),
  /** Set by the edge only: the client's `ts` when the edge corrected it. */
  clientTs: z.number().optional(),
  sessionId: shortId,
  visitorId: shortId,
  /** Event name for `track`. */
  name: z.string().min(1).max(256).optional(),
  page: pageSchema.optional(),
  props: bag.optional(),
  form: formSchema.optional(),
  traits: bag.optional(),
  userId: z.string().max(256).optional(),
  consent: z.enum(["granted", "denied", "unknown"]).optional(),
  /** On `session_start`: the session's attribution and the visitor's first touch. */
  attribution: attributionSchema.optional(),
});

/** The request envelope. `siteKey` sits in the body because `sendBeacon` cannot set headers. */
export const ingestRequestSchema = z.object({
  siteKey: z.string().min(1).max(64),
  sentAt: z.number().int().positive().optional(),
  events: z.array(z.unknown()),
});

export type TrackerEvent = z.infer<typeof eventSchema>;
export type EventType = TrackerEvent["type"];
export type PageInfo = z.infer<typeof pageSchema>;
export type Attribution = z.infer<typeof attributionSchema>;
export type IngestRequest = Omit<z.infer<typeof ingestRequestSchema>, "events"> & { events: TrackerEvent[] };

/**
 * Why the edge refused one event of a batch: `invalid` (fails the contract), `too_large` (over MAX_EVENT_BYTES),
 * `duplicate_id` (the same id earlier in the batch), or what storage could not hold (UNSTORABLE_REASONS).
 */
export type RejectReason = "invalid" | "too_large" | "duplicate_id" | UnstorableReason;

export interface RejectedEvent {
  index: number;
  reason: RejectReason;
  /** Human-readable: the failing path and what is wrong there. */
  error: string;
}

/** What `POST /v1/events` answers with a 202. */
export interface IngestResponse {
  accepted: number;
  rejected: RejectedEvent[];
}
