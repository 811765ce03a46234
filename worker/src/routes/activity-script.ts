/**
 * `GET /crm/activity.js`: the CRM's Custom JS (team activity, tracker-sdk/src/activity/) with its config inlined, so
 * the marketplace app's Custom JS is one `<script src>` and the script needs no second request. Everything inlined
 * comes from the Worker's vars (never from the request): the app id, where tokens are exchanged, where events go,
 * the idle timeout and the page names (DEFAULT_PAGE_NAMES with ACTIVITY_PAGE_NAMES over them). Config values are
 * embedded with the loader's safe JSON (`embedJson`). Browsers reuse it for 5 minutes, then revalidate (ETag → 304).
 */
import { Hono } from "hono";
import { z } from "zod";
import { DEFAULT_PAGE_NAMES, type ActivityScriptConfig } from "#contracts";
import { ACTIVITY_SOURCE, ACTIVITY_VERSION } from "../generated/activity.ts";
import { embedJson } from "../lib/loader.ts";
import { workerLog, type WorkerLog } from "../lib/log.ts";

export const ACTIVITY_SCRIPT_CACHE_CONTROL = "public, max-age=300";
const DEFAULT_IDLE_SECONDS = 60;

/** ACTIVITY_PAGE_NAMES: route key → page name. */
const pageNamesSchema = z.record(z.string().min(1).max(512), z.string().max(64));

/** The configured page names, or none (with a warning) if the var is not such a JSON object. */
export function configuredPageNames(raw: string | undefined, log: WorkerLog): Record<string, string> {
  if (!raw || !raw.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const names = pageNamesSchema.safeParse(parsed);
  if (names.success) return names.data;
  log.warn("ACTIVITY_PAGE_NAMES ignored: not a JSON object of route keys to names of at most 64 characters");
  return {};
}

/** The config the script runs with, from the Worker's vars. */
export function activityScriptConfig(env: Env, log: WorkerLog): ActivityScriptConfig {
  const idle = Number(env.ACTIVITY_IDLE_SECONDS);
  return {
    appId: String(env.HIGHLEVEL_APP_ID ?? "").trim(),
    tokenUrl: String(env.ACTIVITY_TOKEN_URL ?? ""),
    endpoint: `${env.EDGE_PUBLIC_URL.replace(/\/+$/, "")}/v1/activity`,
    idleMs: 1000 * (Number.isFinite(idle) && idle > 0 ? idle : DEFAULT_IDLE_SECONDS),
    pages: { ...DEFAULT_PAGE_NAMES, ...configuredPageNames(env.ACTIVITY_PAGE_NAMES, log) },
  };
}

/** The served script: the bundle, which reads `LT_ACTIVITY_CONFIG`, wrapped in a function that passes the config. */
export const renderActivityScript = (config: ActivityScriptConfig): string =>
  `(function(LT_ACTIVITY_CONFIG){${ACTIVITY_SOURCE}})(${embedJson(config)});`;

/**
 * Without an app id the script has nothing to ask the CRM for, and without a token URL nowhere to exchange it:
 * valid JavaScript that only says so.
 */
export const ACTIVITY_OFF_SCRIPT = `console.debug(${embedJson("[LeadTracker activity] off: no app id (HIGHLEVEL_APP_ID) or token URL (ACTIVITY_TOKEN_URL) at this edge")});`;

/**
 * The vars change only with a deployment: the rendered script and its ETag are kept per isolate for the vars they
 * came from (so a bad ACTIVITY_PAGE_NAMES is also reported once per isolate, not per request).
 */
let cached: { vars: string; body: string; etag: string } | undefined;

async function rendered(env: Env, log: WorkerLog): Promise<{ body: string; etag: string }> {
  const { HIGHLEVEL_APP_ID, ACTIVITY_TOKEN_URL, EDGE_PUBLIC_URL, ACTIVITY_IDLE_SECONDS, ACTIVITY_PAGE_NAMES } = env;
  const vars = JSON.stringify([HIGHLEVEL_APP_ID, ACTIVITY_TOKEN_URL, EDGE_PUBLIC_URL, ACTIVITY_IDLE_SECONDS, ACTIVITY_PAGE_NAMES]);
  if (cached?.vars !== vars) {
    const config = activityScriptConfig(env, log);
    const body = config.appId && config.tokenUrl ? renderActivityScript(config) : ACTIVITY_OFF_SCRIPT;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
    const hex = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
    cached = { vars, body, etag: `"${ACTIVITY_VERSION}-${hex}"` };
  }
  return cached;
}

export const activityScriptRoute = new Hono<{ Bindings: Env }>();

activityScriptRoute.get("/activity.js", async function serveActivityScript(c) {
  const { body, etag } = await rendered(c.env, workerLog(c.env, { reqId: c.req.header("cf-ray"), route: "activity-script" }));
  c.header("Content-Type", "text/javascript; charset=utf-8");
  c.header("Cache-Control", ACTIVITY_SCRIPT_CACHE_CONTROL);
  c.header("ETag", etag);
  c.header("Access-Control-Allow-Origin", "*");
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  return c.body(body);
});
