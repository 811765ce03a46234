/** Who may send events: a known, active site; an allowed origin; within the rate limits. */
import type { SiteConfig } from "#contracts";
import { InvalidServerKey, OriginNotAllowed, OriginRequired, RateLimited, UnknownSite } from "./errors.ts";
import { getSiteConfig } from "./site-config.ts";

/** Window of the rate-limiting bindings (wrangler.toml `simple.period`): what a limited client waits. */
export const RATE_LIMIT_PERIOD_S = 10;

export async function requireSite(kv: KVNamespace, siteKey: string): Promise<SiteConfig> {
  const config = await getSiteConfig(kv, siteKey);
  if (!config) throw UnknownSite();
  return config;
}

const encoder = new TextEncoder();

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Who may send for this site. A server sends with one of the site's secret keys (`Authorization: Bearer`), never
 * with the public site key alone. A browser always sends `Origin` on these posts, so a request without one and
 * without a secret key is refused; with an allowlist, the origin must be on it (an empty list allows every origin).
 */
export async function requireSender(config: SiteConfig, origin: string | undefined, authorization: string | undefined): Promise<void> {
  const secret = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (secret) {
    if (!config.serverKeyHashes?.includes(await sha256Hex(secret))) throw InvalidServerKey();
    return;
  }
  if (!origin) throw OriginRequired();
  if (config.allowedOrigins.length > 0 && !config.allowedOrigins.includes(origin)) throw OriginNotAllowed(origin);
}

/**
 * Rate limits, keyed so that no client can spend anyone else's budget (clients are IPv4 addresses or IPv6 /64s):
 * - before anything is looked up, every client has a budget of its own for every request, known site key or not,
 *   so a flood of unknown keys is refused before it costs a KV read;
 * - per site and client, a budget a page's real traffic never reaches;
 * - per site, a budget spent only by requests that carry accepted events (empty or fully rejected batches spend
 *   nothing), which one client cannot exhaust: its own per-site budget is 120 of the site's 5,000 per window;
 * - per site and client, a cap on lead events a minute (a person submits a few forms, not hundreds).
 */
export async function requireClientWithinLimit(env: Env, client: string): Promise<void> {
  if (!(await env.CLIENT_RATE_LIMITER.limit({ key: client })).success) throw RateLimited(RATE_LIMIT_PERIOD_S);
}

export async function requireSiteClientWithinLimit(env: Env, siteKey: string, client: string): Promise<void> {
  if (!(await env.IP_RATE_LIMITER.limit({ key: `${siteKey}|${client}` })).success) throw RateLimited(RATE_LIMIT_PERIOD_S);
}

/** Lead events a client may send a site per minute (the binding's window is 60 s). */
export const LEAD_LIMIT_PERIOD_S = 60;

export async function requireSiteWithinLimits(env: Env, siteKey: string, client: string, leadEvents: number): Promise<void> {
  if (!(await env.SITE_RATE_LIMITER.limit({ key: siteKey })).success) throw RateLimited(RATE_LIMIT_PERIOD_S);
  for (let i = 0; i < leadEvents; i++) {
    if (!(await env.LEAD_RATE_LIMITER.limit({ key: `${siteKey}|${client}` })).success) throw RateLimited(LEAD_LIMIT_PERIOD_S);
  }
}
