/**
 * Shared plumbing for the local stand-ins of the third-party APIs that leads are delivered to (see webhook-receiver.ts,
 * highlevel.ts, hubspot.ts): a small JSON HTTP server on 127.0.0.1 (port 0, so tests never collide), a request log,
 * and a `Faults` controller that every fake exposes so failure paths can be driven from a test:
 *
 * - `down()` / `up()`: while down, every request is answered 503 with a JSON body, like an outage behind a load balancer.
 * - `failNext(count, status, opts)`: the next `count` requests to the vendor's own routes fail with `status`
 *   (a 429 gets `Retry-After` when `retryAfterSeconds` is given); the body is the vendor's error shape unless `opts.body`.
 * - `slow(ms)`: every answer is held back `ms` milliseconds. The request is processed first, so a client that times out
 *   has still had its write applied, as with a real slow server.
 * - `reset()`: all of the above off.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface FakeRequest {
  method: string;
  /** Path without the query string, e.g. `/contacts/upsert`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON; `undefined` sends no body (e.g. 204). */
  body?: unknown;
}

export type Handler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface RunningServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  stop(): Promise<void>;
}

/** One line of a fake's request log: what came in and what it was answered. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON or form body when it parses, else the raw text ("" when empty). */
  body: unknown;
  status: number;
  /** Set when the answer came from a fault rather than the fake's own logic. */
  fault?: "down" | "failNext";
  at: number;
}

/** Starts an HTTP server on 127.0.0.1 at a free port that answers every request through `handler`. */
export async function startJsonServer(handler: Handler): Promise<RunningServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const fakeReq: FakeRequest = {
        method: (req.method ?? "GET").toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        rawBody: Buffer.concat(chunks).toString("utf8"),
      };
      Promise.resolve()
        .then(() => handler(fakeReq))
        .catch((err: unknown): FakeResponse => {
          console.error("fake-crm handler failed:", err);
          return { status: 500, body: { message: `fake internal error: ${err instanceof Error ? err.message : String(err)}` } };
        })
        .then((out) => {
          if (res.destroyed) return;
          const headers: Record<string, string> = { ...out.headers };
          let payload: string | undefined;
          if (out.body !== undefined) {
            payload = JSON.stringify(out.body);
            headers["content-type"] ??= "application/json; charset=utf-8";
          }
          res.writeHead(out.status, headers);
          res.end(payload);
        });
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

export interface FailNextOptions {
  /** Adds `Retry-After: <seconds>` to the failed answers. */
  retryAfterSeconds?: number;
  /** Replaces the vendor-shaped error body. */
  body?: unknown;
  /** Only requests whose path starts with this are failed (others pass and do not use up the count). */
  path?: string;
}

interface QueuedFailure {
  remaining: number;
  status: number;
  opts: FailNextOptions;
}

/** Fault switches for one fake. Failures queue in the order `failNext` was called. */
export class Faults {
  #down = false;
  #slowMs = 0;
  #queue: QueuedFailure[] = [];

  /** Every request answers 503 until `up()`. */
  down(): void {
    this.#down = true;
  }

  up(): void {
    this.#down = false;
  }

  /** The next `count` requests to the vendor's routes (matching `opts.path` when given) answer `status`. */
  failNext(count: number, status: number, opts: FailNextOptions = {}): void {
    if (!Number.isInteger(count) || count < 1) throw new Error("failNext: count must be a positive integer");
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error("failNext: status must be an HTTP status");
    this.#queue.push({ remaining: count, status, opts });
  }

  /** Every answer is delayed by `ms` (0 turns it off). */
  slow(ms: number): void {
    if (!(ms >= 0)) throw new Error("slow: ms must be >= 0");
    this.#slowMs = ms;
  }

  reset(): void {
    this.#down = false;
    this.#slowMs = 0;
    this.#queue = [];
  }

  /** What is switched on now (for assertions and debugging). */
  state(): { down: boolean; slowMs: number; pendingFailures: number } {
    return { down: this.#down, slowMs: this.#slowMs, pendingFailures: this.#queue.reduce((n, q) => n + q.remaining, 0) };
  }

  get slowMs(): number {
    return this.#slowMs;
  }

  get isDown(): boolean {
    return this.#down;
  }

  /** Takes one queued failure that applies to `path`, if any. */
  take(path: string): { status: number; opts: FailNextOptions } | null {
    const i = this.#queue.findIndex((q) => q.opts.path === undefined || path.startsWith(q.opts.path));
    if (i < 0) return null;
    const q = this.#queue[i]!;
    q.remaining -= 1;
    if (q.remaining <= 0) this.#queue.splice(i, 1);
    return { status: q.status, opts: q.opts };
  }
}

export interface FaultyServerOptions {
  faults: Faults;
  /** The fake's own logic. */
  handler: Handler;
  /** Whether `failNext` applies to this request (the vendor's routes, not a fake-only route). */
  isVendorRoute(req: FakeRequest): boolean;
  /** The vendor's error body for a failed request with this status. */
  errorBody(status: number, req: FakeRequest): unknown;
  /** Receives every answered request. */
  log(entry: LoggedRequest): void;
}

/** The body a load balancer in front of a down service answers with. */
export function outageBody(): unknown {
  return { error: "service_unavailable", message: "no healthy upstream", status: 503 };
}

/** Starts a server whose answers go through `faults` first, and logs every request. */
export function startFaultyServer(o: FaultyServerOptions): Promise<RunningServer> {
  return startJsonServer(async (req) => {
    let res: FakeResponse;
    let fault: LoggedRequest["fault"];
    if (o.faults.isDown) {
      res = { status: 503, body: outageBody() };
      fault = "down";
    } else {
      const failure = o.isVendorRoute(req) ? o.faults.take(req.path) : null;
      if (failure) {
        const headers: Record<string, string> = {};
        if (failure.opts.retryAfterSeconds !== undefined) headers["retry-after"] = String(failure.opts.retryAfterSeconds);
        res = { status: failure.status, headers, body: failure.opts.body ?? o.errorBody(failure.status, req) };
        fault = "failNext";
      } else {
        res = await o.handler(req);
      }
    }
    o.log({
      method: req.method,
      path: req.path,
      query: Object.fromEntries(req.query),
      headers: req.headers,
      body: parseBody(req),
      status: res.status,
      ...(fault ? { fault } : {}),
      at: Date.now(),
    });
    const delay = o.faults.slowMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return res;
  });
}

/** JSON or form body when it parses, else the raw text. */
export function parseBody(req: FakeRequest): unknown {
  if (req.rawBody === "") return "";
  const type = String(req.headers["content-type"] ?? "");
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(req.rawBody));
  try {
    return JSON.parse(req.rawBody) as unknown;
  } catch {
    return req.rawBody;
  }
}

/** The bearer token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(req: FakeRequest): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ""));
  return m ? m[1]! : null;
}

/** Random id of `length` characters from [A-Za-z0-9]. */
export function randomId(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** A sliding-window request counter: at most `max` admitted requests per `intervalMs`, and `daily` per day. */
export class RateWindow {
  readonly max: number;
  readonly intervalMs: number;
  readonly daily: number;
  #hits: number[] = [];
  #day = "";
  #dayCount = 0;

  constructor(max: number, intervalMs: number, daily: number) {
    this.max = max;
    this.intervalMs = intervalMs;
    this.daily = daily;
  }

  #prune(now: number): void {
    while (this.#hits.length > 0 && this.#hits[0]! <= now - this.intervalMs) this.#hits.shift();
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayCount = 0;
    }
  }

  /** Counts the request when it is within both limits; says which limit refused it otherwise. */
  admit(now = Date.now()): "ok" | "burst" | "daily" {
    this.#prune(now);
    if (this.#dayCount >= this.daily) return "daily";
    if (this.#hits.length >= this.max) return "burst";
    this.#hits.push(now);
    this.#dayCount += 1;
    return "ok";
  }

  remaining(now = Date.now()): { burst: number; daily: number } {
    this.#prune(now);
    return { burst: Math.max(0, this.max - this.#hits.length), daily: Math.max(0, this.daily - this.#dayCount) };
  }

  /** Milliseconds until the oldest request in the window leaves it. */
  msUntilSlot(now = Date.now()): number {
    this.#prune(now);
    return this.#hits.length === 0 ? 0 : Math.max(0, this.#hits[0]! + this.intervalMs - now);
  }

  reset(): void {
    this.#hits = [];
    this.#dayCount = 0;
  }
}
