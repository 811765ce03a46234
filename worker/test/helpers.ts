/** Helpers for Worker tests running inside workerd. */
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { configKey, type SiteConfig } from "#contracts";
import worker from "../src/index.ts";
import { clearSiteConfigCache } from "../src/lib/site-config.ts";

export const ORIGIN = "https://edge.test";

export function makeEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: crypto.randomUUID(),
    type: "page_view",
    ts: Date.now(),
    sessionId: "sess-1",
    visitorId: "vis-1",
    page: { url: "https://shop.example/", title: "Shop" },
    ...overrides,
  };
}

/** Calls the Worker's fetch handler directly, as the runtime would. */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  return worker.fetch(new Request(`${ORIGIN}${path}`, init) as Request<unknown, IncomingRequestCfProperties>, env, ctx);
}

/** A page's origin, as a browser sends it on every post (sites in these tests allow every origin unless they say). */
export const PAGE_ORIGIN = "https://shop.example";

/** Posts a batch as a browser on PAGE_ORIGIN would; `headers` replace the defaults (so a test can leave Origin out). */
export function postEvents(body: unknown, headers: Record<string, string> = { "content-type": "text/plain", origin: PAGE_ORIGIN }): Promise<Response> {
  return call("/v1/events", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
}

/** Records what the route hands to the real queue binding, without replacing it. */
export function spyOnQueue() {
  return vi.spyOn(env.EVENTS, "send");
}

export function siteConfig(siteKey: string, over: Partial<SiteConfig> = {}): SiteConfig {
  return {
    siteId: `${siteKey}-id`,
    siteKey,
    version: 1,
    features: {},
    consent: { mode: "opt-out", respectDoNotTrack: false },
    retentionDays: 30,
    debug: false,
    allowedOrigins: [],
    forms: [],
    ...over,
  };
}

/** Puts site configs into the real local KV the Worker reads, and forgets the isolate's cached copies. */
export async function putSites(...configs: SiteConfig[]): Promise<void> {
  clearSiteConfigCache();
  for (const config of configs) await env.CONFIG.put(configKey(config.siteKey), JSON.stringify(config));
}
