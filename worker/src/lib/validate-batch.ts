/** Per-event validation of an ingest batch: one bad event never costs the good ones beside it. */
import { eventSchema, eventTime, findUnstorable, MAX_EVENT_BYTES, type RejectedEvent, type TrackerEvent } from "#contracts";

export interface BatchVerdict {
  accepted: TrackerEvent[];
  rejected: RejectedEvent[];
}

const encoder = new TextEncoder();

function describeIssues(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/**
 * Validates each event: the contract first (unknown keys are stripped there, and it never walks into free-form
 * values), then what storage can hold (keys and nesting, walked iteratively and never deeper than the limit, which
 * also bounds the size check after it), then the per-event size limit. Duplicates by id are dropped.
 */
export function validateBatch(events: unknown[]): BatchVerdict {
  const verdict: BatchVerdict = { accepted: [], rejected: [] };
  const seen = new Set<string>();
  events.forEach((raw, index) => {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      verdict.rejected.push({ index, reason: "invalid", error: describeIssues(parsed.error) });
      return;
    }
    const unstorable = findUnstorable(parsed.data);
    if (unstorable) {
      verdict.rejected.push({ index, reason: unstorable.reason, error: `${unstorable.path}: ${unstorable.reason.replaceAll("_", " ")}` });
      return;
    }
    if (encoder.encode(JSON.stringify(parsed.data)).byteLength > MAX_EVENT_BYTES) {
      verdict.rejected.push({ index, reason: "too_large", error: `event exceeds ${MAX_EVENT_BYTES} bytes` });
      return;
    }
    if (seen.has(parsed.data.id)) {
      verdict.rejected.push({ index, reason: "duplicate_id", error: "duplicate event id in batch" });
      return;
    }
    seen.add(parsed.data.id);
    verdict.accepted.push(parsed.data);
  });
  return verdict;
}

/**
 * The events with times the backend can trust: a clock that is visibly off is corrected by the request's `sentAt`,
 * and an absurd time becomes the receipt time, the client's kept in `clientTs` (see `eventTime`). A `clientTs`
 * sent by a client is not kept: only the edge sets it.
 */
export function withTrustedTimes(events: TrackerEvent[], receivedAt: number, sentAt?: number): TrackerEvent[] {
  return events.map(({ clientTs: _ignored, ...e }) => ({ ...e, ...eventTime(e.ts, receivedAt, sentAt) }));
}
