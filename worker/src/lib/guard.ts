/** Who may send events: a known, active site; an allowed origin; within the rate limits. */
import type { SiteConfig } from "#contracts";
import { OriginNotAllowed, RateLimited, UnknownSite } from "./errors.ts";
import { getSiteConfig } from "./site-config.ts";

/** Window of the rate-limiting bindings (wrangler.toml `simple.period`): what a limited client waits. */
export const RATE_LIMIT_PERIOD_S = 10;

export async function requireSite(kv: KVNamespace, siteKey: string): Promise<SiteConfig> {
  const config = await getSiteConfig(kv, siteKey);
  if (!config) throw UnknownSite();
  return config;
}

/**
 * Browsers always send `Origin` on these cross-origin posts; an empty allowlist means the site has not restricted
 * origins yet. Requests without `Origin` (servers, tests) are not browsers, and an allowlist cannot bind them.
 */
export function requireOrigin(config: SiteConfig, origin: string | undefined): void {
  if (!origin || config.allowedOrigins.length === 0) return;
  if (!config.allowedOrigins.includes(origin)) throw OriginNotAllowed(origin);
}

export async function requireWithinLimits(env: Env, siteKey: string, clientIp: string | null): Promise<void> {
  const [site, client] = await Promise.all([
    env.SITE_RATE_LIMITER.limit({ key: siteKey }),
    env.IP_RATE_LIMITER.limit({ key: `${siteKey}|${clientIp ?? "unknown"}` }),
  ]);
  if (!site.success || !client.success) throw RateLimited(RATE_LIMIT_PERIOD_S);
}
