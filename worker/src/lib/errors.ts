/**
 * Named HTTP failures. Routes throw these; `onError` in app.ts turns each into one JSON shape:
 * `{ error: <code>, message, ...details }`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { RejectedEvent } from "#contracts";

export class ApiError extends HTTPException {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: ContentfulStatusCode, code: string, message: string, details: Record<string, unknown> = {}) {
    super(status, { message });
    this.code = code;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}

export const InvalidJson = (): ApiError => new ApiError(400, "invalid_json", "Request body is not valid JSON.");
export const InvalidBatch = (message: string): ApiError => new ApiError(400, "invalid_batch", message);
export const EmptyBatch = (): ApiError => new ApiError(400, "empty_batch", "The batch holds no events.");
export const TooManyEvents = (max: number, got: number): ApiError =>
  new ApiError(400, "too_many_events", `At most ${max} events per request; got ${got}.`, { max });
export const PayloadTooLarge = (max: number): ApiError =>
  new ApiError(413, "payload_too_large", `Request body exceeds ${max} bytes.`, { max });
export const UnsupportedMediaType = (): ApiError =>
  new ApiError(415, "unsupported_media_type", "Send the batch as application/json or text/plain JSON.");
export const NoValidEvents = (rejected: RejectedEvent[]): ApiError =>
  new ApiError(400, "no_valid_events", "Every event in the batch was rejected.", { accepted: 0, rejected });
export const UnknownSite = (): ApiError => new ApiError(401, "unknown_site", "Unknown or inactive site key.");
export const OriginRequired = (): ApiError =>
  new ApiError(403, "origin_required", "Browsers send Origin; a server sends with the site's secret key (Authorization: Bearer).");
export const InvalidServerKey = (): ApiError => new ApiError(401, "invalid_server_key", "That is not a secret key of this site.");
export const OriginNotAllowed = (origin: string): ApiError =>
  new ApiError(403, "origin_not_allowed", `Origin ${origin} may not send events for this site.`);
export const RateLimited = (retryAfterSeconds: number): ApiError =>
  new ApiError(429, "rate_limited", "Too many requests; retry later.", { retryAfter: retryAfterSeconds });
export const NotFound = (): ApiError => new ApiError(404, "not_found", "No such route.");
