/**
 * Named HTTP failures of the admin API. Routes throw these; the one `onError` in index.ts turns each into
 * `{ error: <code>, message, ...details }`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

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

export interface ValidationIssue {
  /** Dotted path into the body ("settings.consentMode", "allowedOrigins.0"); "" for the body itself. */
  path: string;
  message: string;
}

/** Also the answer for objects of another tenant and sites a location user may not see: existence never leaks. */
export const NotFound = (what = "resource"): ApiError => new ApiError(404, "not_found", `No such ${what}.`);
export const RouteNotFound = (): ApiError => new ApiError(404, "not_found", "No such route.");
export const Forbidden = (message: string, details: Record<string, unknown> = {}): ApiError => new ApiError(403, "forbidden", message, details);
export const Conflict = (message: string, field?: string): ApiError =>
  new ApiError(409, "conflict", message, field ? { field } : {});
export const InvalidJson = (): ApiError => new ApiError(400, "invalid_json", "Request body is not valid JSON.");
export const PayloadTooLarge = (max: number): ApiError =>
  new ApiError(413, "payload_too_large", `Request body exceeds ${max} bytes.`, { max });

export function ValidationFailed(issues: ValidationIssue[]): ApiError {
  const first = issues[0];
  const summary = first ? `${first.path || "body"}: ${first.message}` : "invalid body";
  return new ApiError(400, "validation_failed", `Request body is invalid (${summary}).`, { issues });
}

/** zod issues → the wire shape; each unknown key becomes its own issue so clients can point at it. */
export function toValidationIssues(issues: readonly z.core.$ZodIssue[]): ValidationIssue[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...at, key].join("."), message: "Unknown field." }));
    }
    return [{ path: at.join("."), message: issue.message }];
  });
}

/** True for MariaDB's duplicate-key error (1062), looked for through drizzle's wrapping `cause`. */
export function isDuplicateKey(err: unknown, index?: string): boolean {
  const e = findDriverError(err);
  return e?.errno === 1062 && (!index || String(e.message).includes(index));
}

/** True for a foreign-key miss (1452): the parent vanished between our check and the insert. */
export function isMissingParent(err: unknown): boolean {
  return findDriverError(err)?.errno === 1452;
}

/** MariaDB refused a value (CHECK such as json_valid, too long, bad string): the caller's input, so a 400. */
export function isRefusedValue(err: unknown): boolean {
  const errno = findDriverError(err)?.errno;
  return errno === 4025 || errno === 1406 || errno === 1366 || errno === 3140;
}

function findDriverError(err: unknown): { errno?: number; message?: string } | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof (e as { errno?: unknown }).errno === "number") return e as { errno: number; message?: string };
  }
  return undefined;
}

export const DatabaseUnavailable = (retryAfterSeconds: number): ApiError =>
  new ApiError(503, "database_unavailable", "The configuration database is unreachable; retry later.", { retryAfter: retryAfterSeconds });

/** mysql2's codes for "cannot reach the server" (refused, reset, lost, timed out, too many connections). */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "POOL_CLOSED",
]);

/** True when the error (or one it wraps) says MariaDB could not be reached, rather than that it refused a query. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, fatal } = e as { code?: unknown; fatal?: unknown };
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
    if (fatal === true) return true;
    // an AggregateError from a dual-stack connect: every address refused
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.some((x) => isDatabaseUnavailable(x))) return true;
  }
  return false;
}
