/**
 * A local stand-in for Cloudflare's KV REST API (the subset the config sync uses: bulk write, bulk delete, list
 * keys, read a value; Cloudflare's `{ success, errors, messages, result }` envelope and bearer auth), for tests
 * that run backends without the edge. Records when each key was written.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeKv {
  /** The API base to give the backend as KV_API_URL. */
  url: string;
  values: Map<string, string>;
  /** Every write (or delete) of each key, as Date.now() when it landed. */
  writes: Map<string, number[]>;
  /** Revokes the token (every call then answers 401, as Cloudflare does), or restores it with `false`. */
  revoke(revoked?: boolean): void;
  stop(): Promise<void>;
}

const envelope = (result: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ success: true, errors: [], messages: [], result, ...extra });
const failure = (code: number, message: string) => JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });

export async function startFakeKv(token: string): Promise<FakeKv> {
  let revoked = false;
  const values = new Map<string, string>();
  const writes = new Map<string, number[]>();
  const touched = (key: string) => writes.set(key, [...(writes.get(key) ?? []), Date.now()]);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (revoked || req.headers.authorization !== `Bearer ${token}`) return send(401, failure(10000, "Authentication error"));
    const url = new URL(req.url ?? "/", "http://local");
    const m = /^\/client\/v4\/accounts\/[^/]+\/storage\/kv\/namespaces\/[^/]+(\/.*)$/.exec(url.pathname);
    if (!m) return send(404, failure(7003, "Could not route to the requested path"));
    const path = m[1]!;
    let raw = "";
    for await (const chunk of req) raw += chunk;
    if (req.method === "PUT" && path === "/bulk") {
      const pairs = JSON.parse(raw) as { key: string; value: string }[];
      for (const p of pairs) {
        values.set(p.key, p.value);
        touched(p.key);
      }
      return send(200, envelope({ successful_key_count: pairs.length, unsuccessful_keys: [] }));
    }
    if (req.method === "POST" && path === "/bulk/delete") {
      const keys = JSON.parse(raw) as string[];
      for (const k of keys) {
        values.delete(k);
        touched(k);
      }
      return send(200, envelope({ successful_key_count: keys.length, unsuccessful_keys: [] }));
    }
    if (req.method === "GET" && path === "/keys") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const keys = [...values.keys()].filter((k) => k.startsWith(prefix)).sort();
      return send(200, envelope(keys.map((name) => ({ name })), { result_info: { count: keys.length, cursor: "" } }));
    }
    const value = /^\/values\/(.+)$/.exec(path);
    if (req.method === "GET" && value) {
      const v = values.get(decodeURIComponent(value[1]!));
      return v === undefined ? send(404, failure(10009, "get: 'key not found'")) : send(200, v, "application/octet-stream");
    }
    send(405, failure(10000, "method not allowed"));
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`,
    values,
    writes,
    revoke: (value = true) => {
      revoked = value;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
