/** Per-event validation of an ingest batch: one bad event never costs the good ones beside it. */
import { eventSchema, eventTime, findUnstorable, MAX_EVENT_BYTES, type RejectedEvent, type TrackerEvent } from "#contracts";
import { ASK_ZOD, compileAcceptor } from "./fast-schema.ts";

export interface BatchVerdict {
  accepted: TrackerEvent[];
  rejected: RejectedEvent[];
}

const encoder = new TextEncoder();

/** Accepts a valid event as zod would, without zod's per-event interpretation; zod decides everything else. */
const acceptEvent = compileAcceptor(eventSchema);

type Parsed = { success: true; data: TrackerEvent } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };

function parseEvent(raw: unknown): Parsed {
  const fast = acceptEvent?.(raw) ?? ASK_ZOD;
  return fast === ASK_ZOD ? eventSchema.safeParse(raw) : { success: true, data: fast };
}

function describeIssues(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/** Longest JSON text of a finite number (`-0.0000012345678901234567` is 25 characters), with room to spare. */
const MAX_NUMBER_JSON = 32;

/**
 * An upper bound on the UTF-8 size of `JSON.stringify(value)`, counted without serialising: a string of n UTF-16
 * units is at most 2 + 6n bytes (`\uXXXX` escapes are 6, a unit never encodes to more than 3 bytes), a number at
 * most MAX_NUMBER_JSON. Stops as soon as the bound passes `limit` (and for anything not plain JSON data, or nested
 * past any limit of the contract), returning Infinity: then the caller serialises and counts exactly.
 */
function jsonBytesBound(value: unknown, limit: number, depth = 0): number {
  switch (typeof value) {
    case "string":
      return 2 + 6 * value.length;
    case "number":
      return MAX_NUMBER_JSON;
    case "boolean":
    case "undefined":
      return 5;
    case "object": {
      if (value === null) return 4;
      if (depth > 32) return Infinity;
      let n = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && n <= limit; i++) n += 1 + jsonBytesBound(value[i], limit, depth + 1);
        return n <= limit ? n : Infinity;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return Infinity;
      for (const key in value) {
        n += 4 + 6 * key.length + jsonBytesBound((value as Record<string, unknown>)[key], limit, depth + 1);
        if (n > limit) return Infinity;
      }
      return n;
    }
    default:
      return Infinity;
  }
}

/**
 * Whether `json` is over MAX_EVENT_BYTES of UTF-8. A UTF-16 code unit is at most 3 bytes of UTF-8, so a text of up
 * to MAX_EVENT_BYTES / 3 units (every realistic event) is within the limit without being encoded.
 */
function overEventBytes(json: string): boolean {
  return json.length * 3 > MAX_EVENT_BYTES && encoder.encode(json).byteLength > MAX_EVENT_BYTES;
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
    const parsed = parseEvent(raw);
    if (!parsed.success) {
      verdict.rejected.push({ index, reason: "invalid", error: describeIssues(parsed.error) });
      return;
    }
    const unstorable = findUnstorable(parsed.data);
    if (unstorable) {
      verdict.rejected.push({ index, reason: unstorable.reason, error: `${unstorable.path}: ${unstorable.reason.replaceAll("_", " ")}` });
      return;
    }
    if (jsonBytesBound(parsed.data, MAX_EVENT_BYTES) > MAX_EVENT_BYTES && overEventBytes(JSON.stringify(parsed.data))) {
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
