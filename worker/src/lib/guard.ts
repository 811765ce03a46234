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

export async function requireWithinLimits(env: Env, siteKey: string, clientIp: string | null): Promise<void> {
  const [site, client] = await Promise.all([
    env.SITE_RATE_LIMITER.limit({ key: siteKey }),
    env.IP_RATE_LIMITER.limit({ key: `${siteKey}|${clientIp ?? "unknown"}` }),
  ]);
  if (!site.success || !client.success) throw RateLimited(RATE_LIMIT_PERIOD_S);
}
