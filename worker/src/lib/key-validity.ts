/**
 * Site key rotation at the edge. A rotated-out key keeps its KV entry for a grace period; the entry carries
 * `validUntil` (epoch ms), and the edge decides by its own clock, so the old key stops on time even when the backend
 * (which deletes the entry afterwards) is down. Pure: `now` is the caller's, so tests control the clock.
 */
import type { SiteConfig } from "#contracts";

/**
 * The config the edge may act on at `now`, or null: a key whose grace period has ended (`now >= validUntil`) is
 * answered exactly like an unknown or inactive key. Configs without `validUntil` never expire here.
 */
export function liveConfig(config: SiteConfig | null, now: number): SiteConfig | null {
  if (!config) return null;
  if (config.validUntil !== undefined && !(now < config.validUntil)) return null;
  return config;
}

/**
 * How long (whole seconds) a response built from this config may be cached: `maxSeconds`, but never beyond the
 * key's `validUntil`, so no browser keeps running an old key's loader after its grace period.
 */
export function cacheSeconds(config: SiteConfig, now: number, maxSeconds: number): number {
  if (config.validUntil === undefined) return maxSeconds;
  return Math.max(0, Math.min(maxSeconds, Math.floor((config.validUntil - now) / 1000)));
}
