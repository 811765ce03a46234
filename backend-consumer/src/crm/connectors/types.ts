/**
 * What a destination kind (a CRM, a webhook) implements. A connector is one file in this directory exporting
 * `connector`: the registry (index.ts) loads every file here, so adding a CRM is adding a file.
 */
import type { z } from "zod";
import type { LeadDocument } from "../../store/leads.ts";
import type { MappedContact } from "../mapping.ts";

export type LeadEventType = "lead.created" | "lead.updated" | "lead.deleted";

export interface DeliveryItem {
  /** Stable per lead version (the webhook-id receivers deduplicate by). */
  deliveryId: string;
  type: LeadEventType;
  leadId: string;
  version: number;
  /** The lead as stored (absent for lead.deleted). */
  lead: LeadDocument | null;
  /** The mapped contact (see mapping.ts); for lead.deleted, just the email. */
  contact: MappedContact;
}

/**
 * An erasure (privacy): the destination is to forget one lead's person. It carries no personal data: the lead's id
 * and the CRM's own id of the contact, as recorded in delivery_status when the lead was delivered.
 */
export interface ErasureItem {
  /** Stable per erasure, `<lead id>.erased` (the webhook-id: the same on every retry). */
  deliveryId: string;
  leadId: string;
  /** The CRM's id of the contact (delivery_status.externalId), or null when the destination never gave one. */
  externalId: string | null;
  /** When the erasure was asked for. */
  at: Date;
}

/**
 * An erasure's outcome. A failure carries the HTTP status and a reason code, never the CRM's answer: an error body
 * may echo the contact (its email, its name), and what is stored or logged about an erasure must not.
 */
export type ErasureResult =
  | { ok: true; /** The destination held nothing (the contact was already gone). */ gone?: boolean }
  | { ok: false; reason: ErasureFailure; status: number | null; retryable: boolean; retryAfterMs?: number };

export type ErasureFailure = "http" | "network" | "timeout" | "not_connected" | "unexpected";

/** What a kind does to erase a person (optional: a kind without it is reported as unable to erase). */
export interface ErasureCapability {
  /**
   * Whether the contact is addressed by the CRM's id (delivery_status.externalId): a destination that never gave one
   * has nothing to address. False for the webhook, which is told the lead id.
   */
  needsExternalId: boolean;
  /** Whether every destination of this kind is told, even one that never had the lead (the webhook: harmless, and it covers a delivery whose outcome was never recorded). */
  always: boolean;
  erase(item: ErasureItem, destination: DestinationContext): Promise<ErasureResult>;
}

/** One item's outcome. `retryable` failures are tried again with backoff (or after `retryAfterMs`). */
export type ItemResult = { ok: true; externalId?: string } | { ok: false; error: string; retryable: boolean; retryAfterMs?: number };

export interface DestinationContext {
  id: string;
  tenantId: string;
  /** The location the delivering site belongs to (a CRM connection is per location). */
  locationId: string;
  config: Record<string, unknown>;
  /** The decrypted secret (token, signing secret), if the kind has one. */
  secret: string | null;
  /** OAuth connections of locations (HighLevel), when the backend has them. */
  connections?: ConnectionProvider;
  fetch: typeof fetch;
  /** Per-request timeout, ms. */
  timeoutMs: number;
}

/** Access tokens of a location's CRM connection, refreshed before they expire and on demand after a 401. */
export interface ConnectionProvider {
  accessToken(provider: string, locationId: string, opts?: { forceRefresh?: boolean }): Promise<{ token: string; externalLocationId: string } | null>;
}

export interface Connector {
  kind: string;
  /** Human name, for the API and the dashboard. */
  label: string;
  /** Validates the destination's non-secret config (and gives its defaults). */
  configSchema: z.ZodType<Record<string, unknown>>;
  /** Whether a destination of this kind needs a secret, and what it looks like. */
  secret: { required: boolean; describe: string; validate?: (secret: string) => string | null; generate?: () => string };
  /** Items per call (1 for one-at-a-time APIs). */
  maxBatch: number;
  /** The CRM's documented rate limit for one destination (requests per window). */
  rateLimit: { requests: number; windowMs: number };
  /** Whether deleted leads are sent (lead.deleted); CRMs keep their contacts on a plain delete. */
  sendsDeletes: boolean;
  deliver(items: DeliveryItem[], destination: DestinationContext): Promise<ItemResult[]>;
  /** Erasure (privacy): removes the person from the destination, one lead at a time, paced like deliveries. */
  erasure?: ErasureCapability;
}

/** Reads an HTTP failure into an item result: 408, 429 and 5xx are retried (429 after its Retry-After), the rest not, except auth failures (a token may be fixed). */
export function failureOf(res: Response, detail: string): ItemResult & { ok: false } {
  const retryAfter = res.headers.get("retry-after");
  const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : retryAfter ? (Date.parse(retryAfter) - Date.now()) / 1000 : NaN;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500 || res.status === 401 || res.status === 403;
  return {
    ok: false,
    error: `${res.status}${detail ? ` ${detail}` : ""}`.slice(0, 500),
    retryable,
    ...(Number.isFinite(seconds) && seconds >= 0 ? { retryAfterMs: Math.min(seconds, 3600) * 1000 } : {}),
  };
}

/** A fetch that gives up after `timeoutMs` (a slow CRM must not hold a delivery worker). */
export async function timedFetch(fetchImpl: typeof fetch, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  return fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

/** Reads an HTTP failure of an erasure: the status decides (as in failureOf), the body is never read. */
export function erasureFailureOf(res: Response): ErasureResult & { ok: false } {
  const failure = failureOf(res, "");
  return { ok: false, reason: "http", status: res.status, retryable: failure.retryable, ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}) };
}

/** A network failure or timeout of an erasure (retried); the error's text is not kept. */
export function erasureNetworkFailure(err: unknown): ErasureResult & { ok: false } {
  const name = err instanceof Error ? err.name : "";
  return { ok: false, reason: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network", status: null, retryable: true };
}

/** A network failure or timeout, as a retryable item result. */
export const networkFailure = (err: unknown): ItemResult => ({ ok: false, error: `network: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500), retryable: true });
