/** The JSON API under /v1, called with the signed-in user's bearer token. */
import { auth } from "./auth.ts";
import type { ActivityAnswer, ActivityQuery, ActivityUserDetail, StatsAnswer, StatsQuery } from "./types.ts";

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const isAbort = (err: unknown): boolean => err instanceof DOMException && err.name === "AbortError";

interface CallOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
}

async function send(path: string, opts: CallOptions, retried: boolean): Promise<Response> {
  const token = auth.token();
  if (!token) throw new ApiError(401, "signed_out", "You are signed out.");
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json, text/csv" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? "GET",
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
      credentials: "omit",
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, "network", "Could not reach the server. Check your connection and try again.");
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => null)) as { error?: string; message?: string } | null;
  const message = body?.message ?? `The server answered HTTP ${res.status}.`;
  if (res.status === 401) {
    if (!retried && (await auth.recover(token, message))) return send(path, opts, true);
    if (auth.token()) auth.signOut(null, `${message} Sign in again.`);
  }
  throw new ApiError(res.status, body?.error ?? "http_error", message);
}

/** A JSON call; throws ApiError with the API's `message` on failure. */
export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await send(path, opts, false);
  return (await res.json()) as T;
}

/** A call whose answer is a file. */
export async function download(path: string, signal?: AbortSignal): Promise<Blob> {
  const res = await send(path, signal ? { signal } : {}, false);
  return res.blob();
}

export const stats = (query: StatsQuery, signal?: AbortSignal): Promise<StatsAnswer> =>
  api<StatsAnswer>("/v1/stats/query", { method: "POST", body: query, ...(signal ? { signal } : {}) });

export const activity = (q: ActivityQuery, signal?: AbortSignal): Promise<ActivityAnswer> =>
  api<ActivityAnswer>("/v1/activity/query", { method: "POST", body: q, ...(signal ? { signal } : {}) });

/**
 * One user's activity page; null when the API answers 404 (another tenant's user, or a colleague of a location
 * user): the page says "not available" instead of an error banner.
 */
export async function activityUser(id: string, dateRange: string | [string, string], timezone: string, signal?: AbortSignal): Promise<ActivityUserDetail | null> {
  const range = typeof dateRange === "string" ? dateRange : dateRange.join(",");
  try {
    return await api<ActivityUserDetail>(`/v1/activity/users/${encodeURIComponent(id)}${query({ date_range: range, timezone })}`, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Runs `tasks` with at most `limit` in flight, results in order. */
export async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      try {
        out[i] = { status: "fulfilled", value: await tasks[i]!() };
      } catch (reason) {
        out[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

export const query = (params: Record<string, string | null | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
};
