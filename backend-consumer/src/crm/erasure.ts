/**
 * Erasure through the CRM destinations (privacy), the pure part: which destinations of a lead's site are to be told,
 * how one attempt's outcome moves its progress on, and what the erase's receipt is given when every destination has
 * settled. The delivery worker (worker.ts) does the I/O. Nothing here holds personal data: destinations are addressed
 * by the CRM's own contact id (delivery_status.externalId) and failures are kept as a status code and a generic text.
 */
import type { ErasureCapability, ErasureResult } from "./connectors/types.ts";

/** How one destination's part of an erasure ended. */
export type ErasureOutcomeKind =
  /** The destination confirmed the erasure. */
  | "erased"
  /** The destination no longer held the contact (404). */
  | "already_gone"
  /** The destination refused in a way no retry changes (a 4xx other than 404, 408, 429 and auth). */
  | "refused"
  /** Retried up to the last attempt without success. */
  | "dead"
  /** The lead reached the destination's status but the CRM never answered a contact id: nothing to address. */
  | "no_contact_id"
  /** The destination's kind cannot erase. */
  | "unsupported"
  /** The destination held the lead but is no longer one of the site's (removed, disabled, or its secret unreadable). */
  | "unreachable";

export const ERASURE_OUTCOMES: readonly ErasureOutcomeKind[] = ["erased", "already_gone", "refused", "dead", "no_contact_id", "unsupported", "unreachable"];

/** An erasure's progress at one destination, on the lead's delivery_status document (field `erasure`). */
export interface ErasureProgress {
  state: "pending" | "settled";
  /** Set once settled. */
  outcome?: ErasureOutcomeKind;
  attempts: number;
  nextAt: Date | null;
  /** Generic: a status code, never a CRM's answer. */
  lastError: string | null;
  updatedAt: Date;
}

/** What the erase's receipt gets when the lead's erasure has settled everywhere: ids and counts only. */
export interface ErasureOutcome {
  leadId: string;
  siteId: string;
  requestedAt: Date;
  settledAt: Date;
  destinations: { destinationId: string; kind: string; outcome: ErasureOutcomeKind }[];
  counts: Record<ErasureOutcomeKind, number>;
}

/** A destination of the site, as the planner needs it. */
export interface ErasureDestination {
  id: string;
  kind: string;
  erasure?: Pick<ErasureCapability, "needsExternalId" | "always">;
}

/** A delivery_status document of the lead, as the planner needs it. */
export interface ErasureStatus {
  destinationId: string;
  kind: string;
  externalId: string | null;
  erasure?: ErasureProgress;
}

export interface ErasurePlan<D extends ErasureDestination> {
  /** Destinations still to be told (their progress, if any, says when). */
  targets: { dest: D; externalId: string | null; progress: ErasureProgress | undefined }[];
  /** Destinations whose part is settled, or needs no request. */
  settled: { destinationId: string; kind: string; outcome: ErasureOutcomeKind }[];
}

/**
 * Who is told: every destination of the site that holds something about the lead (a delivery_status document), and
 * every destination whose kind tells all (`always`: the webhook). A destination that holds the lead but cannot be
 * told (its kind cannot erase, the CRM gave no contact id, or it is no longer the site's) is settled at once, named.
 */
export function planErasure<D extends ErasureDestination>(dests: readonly D[], statuses: readonly ErasureStatus[]): ErasurePlan<D> {
  const byDest = new Map(statuses.map((s) => [s.destinationId, s]));
  const plan: ErasurePlan<D> = { targets: [], settled: [] };
  for (const dest of dests) {
    const status = byDest.get(dest.id);
    byDest.delete(dest.id);
    if (!dest.erasure) {
      if (status) plan.settled.push({ destinationId: dest.id, kind: dest.kind, outcome: "unsupported" });
      continue;
    }
    if (!status && !dest.erasure.always) continue; // never had the lead: nothing to erase
    if (status?.erasure?.state === "settled") {
      plan.settled.push({ destinationId: dest.id, kind: dest.kind, outcome: status.erasure.outcome ?? "erased" });
      continue;
    }
    const externalId = status?.externalId ?? null;
    if (dest.erasure.needsExternalId && !externalId) {
      plan.settled.push({ destinationId: dest.id, kind: dest.kind, outcome: "no_contact_id" });
      continue;
    }
    plan.targets.push({ dest, externalId, progress: status?.erasure });
  }
  for (const status of byDest.values()) plan.settled.push({ destinationId: status.destinationId, kind: status.kind, outcome: "unreachable" });
  return plan;
}

/** The text kept and logged for a failed attempt: a status code or a reason, never what the CRM answered. */
export function erasureError(result: ErasureResult & { ok: false }): string {
  switch (result.reason) {
    case "http":
      return result.status === null ? "erasure failed: HTTP error" : `erasure failed: HTTP ${result.status}`;
    case "network":
      return "erasure failed: network error";
    case "timeout":
      return "erasure failed: timed out";
    case "not_connected":
      return "erasure failed: the CRM is not connected for this location";
    default:
      return "erasure failed";
  }
}

/** One attempt's outcome applied to a destination's progress. `backoffMs(attempts)` gives the wait before the next. */
export function nextProgress(
  previous: ErasureProgress | undefined,
  result: ErasureResult,
  at: Date,
  opts: { maxAttempts: number; backoffMs: (attempts: number) => number },
): ErasureProgress {
  const attempts = (previous?.attempts ?? 0) + 1;
  if (result.ok) return { state: "settled", outcome: result.gone ? "already_gone" : "erased", attempts, nextAt: null, lastError: null, updatedAt: at };
  const lastError = erasureError(result);
  if (!result.retryable) return { state: "settled", outcome: "refused", attempts, nextAt: null, lastError, updatedAt: at };
  if (attempts >= opts.maxAttempts) return { state: "settled", outcome: "dead", attempts, nextAt: null, lastError, updatedAt: at };
  const wait = Math.max(result.retryAfterMs ?? 0, opts.backoffMs(attempts));
  return { state: "pending", attempts, nextAt: new Date(at.getTime() + wait), lastError, updatedAt: at };
}

/** The receipt's summary of a settled erasure. */
export function summarizeErasure(
  leadId: string,
  siteId: string,
  requestedAt: Date,
  settled: readonly { destinationId: string; kind: string; outcome: ErasureOutcomeKind }[],
  at: Date,
): ErasureOutcome {
  const counts = Object.fromEntries(ERASURE_OUTCOMES.map((o) => [o, 0])) as Record<ErasureOutcomeKind, number>;
  for (const s of settled) counts[s.outcome]++;
  return { leadId, siteId, requestedAt, settledAt: at, destinations: settled.map((s) => ({ destinationId: s.destinationId, kind: s.kind, outcome: s.outcome })), counts };
}
