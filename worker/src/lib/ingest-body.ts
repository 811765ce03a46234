/**
 * What the ingest routes (POST /v1/events, POST /v1/activity) share about a request's body and its message: JSON
 * sent as application/json or as text/plain (what `sendBeacon` and preflight-free `fetch` send), and the one queue
 * message each accepted request makes.
 */
import { ApiError, InvalidJson, UnsupportedMediaType } from "./errors.ts";
import { errorText, workerLog } from "./log.ts";

const ACCEPTED_MEDIA_TYPES = new Set(["application/json", "text/plain", ""]);
const decoder = new TextDecoder();

/** 415 unless the request says JSON, plain text, or nothing. */
export function requireJsonMediaType(contentType: string | undefined): void {
  if (!ACCEPTED_MEDIA_TYPES.has((contentType ?? "").split(";")[0]!.trim().toLowerCase())) throw UnsupportedMediaType();
}

/**
 * The body as JSON. Read as bytes and decoded here (as `text()` would, invalid UTF-8 replaced): workerd warns on
 * every `text()` of a body whose content type does not say text, and beacons without a type are normal traffic.
 */
export function parseJsonBody(bytes: ArrayBuffer): unknown {
  const text = decoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw InvalidJson();
  }
}

/** Puts the request's message on the queue; 503 (retry in 5 s) if the queue will not take it. */
export async function enqueue(env: Env, reqId: string | undefined, message: unknown, logFields: Record<string, unknown>): Promise<void> {
  try {
    await env.EVENTS.send(message, { contentType: "json" });
  } catch (cause) {
    workerLog(env, { reqId }).error("queue send failed", { ...logFields, error: errorText(cause) });
    throw new ApiError(503, "queue_unavailable", "Events could not be queued; retry later.", { retryAfter: 5 });
  }
}
