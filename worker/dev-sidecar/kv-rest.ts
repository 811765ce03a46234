/**
 * The subset of Cloudflare's KV REST API (`/client/v4/accounts/:account/storage/kv/namespaces/:ns/...`) that the
 * backend's config sync uses, served over the local KV namespace. In development the sync's one KV client talks to
 * this instead of api.cloudflare.com, so the same code writes local and production KV.
 */
import { Hono } from "hono";
import type { DevSidecarEnv } from "./env.ts";

type Envelope<T> = { success: boolean; errors: { code: number; message: string }[]; messages: []; result: T };
const ok = <T>(result: T): Envelope<T> => ({ success: true, errors: [], messages: [], result });
const fail = (code: number, message: string): Envelope<null> => ({ success: false, errors: [{ code, message }], messages: [], result: null });

export const kvRest = new Hono<{ Bindings: DevSidecarEnv }>().basePath("/client/v4/accounts/:account/storage/kv/namespaces/:ns");

kvRest.use("*", async function requireToken(c, next) {
  if (c.req.header("authorization") !== `Bearer ${c.env.INTERNAL_TOKEN}`) return c.json(fail(10000, "Authentication error"), 401);
  await next();
});

kvRest.put("/bulk", async (c) => {
  const pairs = await c.req.json<{ key: string; value: string }[]>().catch(() => null);
  if (!Array.isArray(pairs) || pairs.length > 10_000) return c.json(fail(10026, "body must be an array of up to 10,000 pairs"), 400);
  await Promise.all(pairs.map((p) => c.env.CONFIG.put(p.key, p.value)));
  return c.json(ok({ successful_key_count: pairs.length, unsuccessful_keys: [] }));
});

kvRest.post("/bulk/delete", async (c) => {
  const keys = await c.req.json<string[]>().catch(() => null);
  if (!Array.isArray(keys) || keys.length > 10_000) return c.json(fail(10026, "body must be an array of up to 10,000 keys"), 400);
  await Promise.all(keys.map((k) => c.env.CONFIG.delete(k)));
  return c.json(ok({ successful_key_count: keys.length, unsuccessful_keys: [] }));
});

kvRest.get("/keys", async (c) => {
  const list = await c.env.CONFIG.list({
    prefix: c.req.query("prefix") ?? undefined,
    cursor: c.req.query("cursor") || undefined,
    limit: Number(c.req.query("limit") ?? 1000),
  });
  return c.json({ ...ok(list.keys.map((k) => ({ name: k.name }))), result_info: { count: list.keys.length, cursor: list.list_complete ? "" : list.cursor } });
});

kvRest.get("/values/:key", async (c) => {
  const value = await c.env.CONFIG.get(c.req.param("key"));
  if (value === null) return c.json(fail(10009, "get: 'key not found'"), 404);
  return c.body(value, 200, { "content-type": "application/octet-stream" });
});
