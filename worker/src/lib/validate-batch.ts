/** Per-event validation of an ingest batch: one bad event never costs the good ones beside it. */
import { eventSchema, MAX_EVENT_BYTES, type TrackerEvent } from "#contracts";

export interface BatchVerdict {
  accepted: TrackerEvent[];
  rejected: { index: number; error: string }[];
}

const encoder = new TextEncoder();

function describeIssues(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/** Validates each event against the contract and the per-event size limit; duplicates by id are dropped. */
export function validateBatch(events: unknown[]): BatchVerdict {
  const verdict: BatchVerdict = { accepted: [], rejected: [] };
  const seen = new Set<string>();
  events.forEach((raw, index) => {
    const size = encoder.encode(JSON.stringify(raw) ?? "").byteLength;
    if (size > MAX_EVENT_BYTES) {
      verdict.rejected.push({ index, error: `event exceeds ${MAX_EVENT_BYTES} bytes` });
      return;
    }
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      verdict.rejected.push({ index, error: describeIssues(parsed.error) });
      return;
    }
    if (seen.has(parsed.data.id)) {
      verdict.rejected.push({ index, error: "duplicate event id in batch" });
      return;
    }
    seen.add(parsed.data.id);
    verdict.accepted.push(parsed.data);
  });
  return verdict;
}
