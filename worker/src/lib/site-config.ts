/**
 * Reading a site's compiled config at the edge, through two cache layers whose staleness adds up to a bound:
 * - an in-isolate memory cache, kept for ISOLATE_TTL_MS (0.5 s);
 * - Workers KV reads with `cacheTtl: KV_CACHE_TTL_S` (30 s, the minimum KV allows), on top of KV's own global
 *   propagation of a new value ("up to 60 s or more", per Cloudflare).
 * Worst case in production: 0.5 s + 30 s + propagation. Locally (miniflare KV has no edge cache): 0.5 s.
 */
import { configKey, type SiteConfig } from "#contracts";
import { liveConfig } from "./key-validity.ts";

export const ISOLATE_TTL_MS = 500;
export const KV_CACHE_TTL_S = 30;

const cache = new Map<string, { at: number; config: SiteConfig | null }>();
const MAX_ENTRIES = 5000;

/**
 * Site keys are lower-case everywhere (MariaDB, KV); a snippet may carry any case of one. A rotated-out key past its
 * grace period (`validUntil`, key-validity.ts) reads as null, whatever the caches or KV still hold.
 */
export async function getSiteConfig(kv: KVNamespace, rawKey: string, now = Date.now()): Promise<SiteConfig | null> {
  const siteKey = rawKey.toLowerCase();
  const hit = cache.get(siteKey);
  if (hit && now - hit.at < ISOLATE_TTL_MS) return liveConfig(hit.config, now);
  const config = await kv.get<SiteConfig>(configKey(siteKey), { type: "json", cacheTtl: KV_CACHE_TTL_S });
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(siteKey, { at: now, config });
  return liveConfig(config, now);
}

/** For tests: forget everything cached in this isolate. */
export function clearSiteConfigCache(): void {
  cache.clear();
}
