/**
 * The queue message: one per accepted ingest request, from the edge Worker to the backend drain.
 * Versioned by `v` so that the drain can read old messages still in flight after a deploy.
 */
import { z } from "zod";
import { eventSchema } from "./event.ts";

/** Cloudflare Queues' per-message limit. */
export const MAX_QUEUE_MESSAGE_BYTES = 128 * 1024;
export const QUEUE_MESSAGE_VERSION = 1;

export const geoSchema = z.object({
  country: z.string().optional(),
  region: z.string().optional(),
  city: z.string().optional(),
  timezone: z.string().optional(),
  asn: z.number().optional(),
});

export const queueMessageSchema = z.object({
  v: z.literal(QUEUE_MESSAGE_VERSION),
  siteId: z.string().min(1),
  /** The site's retention from its config; the backend sets each document's expiry from it. */
  retentionDays: z.number().int().positive().max(3650).optional(),
  /** The site's IANA time zone from its config: the drain buckets statistics by its local days. */
  timezone: z.string().min(1).max(64).optional(),
  /** Edge clock, epoch milliseconds. */
  receivedAt: z.number().int().positive(),
  geo: geoSchema,
  /** Anonymised at the edge: the raw address never leaves the Worker. */
  ip: z.string().nullable(),
  ua: z.string().nullable(),
  events: z.array(eventSchema).min(1),
});

export type Geo = z.infer<typeof geoSchema>;
export type QueueMessage = z.infer<typeof queueMessageSchema>;
