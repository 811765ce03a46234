/**
 * `GET /s/<siteKey>.js`: the loader with the site config inlined (one request for loader + config; the SDK is the
 * second, and is cached for a year). `GET /v1/config/<siteKey>`: the same config as JSON.
 */
import { Hono } from "hono";
import { publicConfig, type SiteConfig } from "#contracts";
import { SDK_VERSION } from "../generated/sdk.ts";
import { ApiError } from "../lib/errors.ts";
import { cacheSeconds } from "../lib/key-validity.ts";
import { renderLoader, renderNoopLoader } from "../lib/loader.ts";
import { getSiteConfig } from "../lib/site-config.ts";

/**
 * Browsers reuse a loader for 5 s, then revalidate it (ETag → 304). No `stale-while-revalidate` for browsers on
 * purpose: with it, a returning visitor's next page load would still run the previous config after an edit.
 */
export const LOADER_MAX_AGE_S = 5;
export const LOADER_CACHE_CONTROL = `public, max-age=${LOADER_MAX_AGE_S}`;

/** The loader's caching; a rotated-out key's is cut short so that no browser reuses it past the grace period. */
const cacheControl = (config: SiteConfig): string =>
  config.validUntil === undefined ? LOADER_CACHE_CONTROL : `public, max-age=${cacheSeconds(config, Date.now(), LOADER_MAX_AGE_S)}`;
const SITE_KEY = "[A-Za-z0-9_-]{1,64}";

export const loaderRoute = new Hono<{ Bindings: Env }>();

loaderRoute.get(`/s/:file{${SITE_KEY}\\.js}`, async function serveLoader(c) {
  const siteKey = c.req.param("file").slice(0, -3);
  const config = await getSiteConfig(c.env.CONFIG, siteKey);
  c.header("Content-Type", "application/javascript; charset=utf-8");
  c.header("Access-Control-Allow-Origin", "*");
  if (!config) {
    c.header("Cache-Control", "public, max-age=60");
    return c.body(renderNoopLoader(siteKey));
  }
  const etag = `"${config.version}-${SDK_VERSION}"`;
  c.header("ETag", etag);
  c.header("Cache-Control", cacheControl(config));
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  // where the SDK is and where events go come from configuration: a Host header is the client's to choose
  const origin = c.env.EDGE_PUBLIC_URL.replace(/\/+$/, "");
  return c.body(renderLoader(publicConfig(config), `${origin}/sdk/${SDK_VERSION}.js`, origin));
});

loaderRoute.get(`/v1/config/:siteKey{${SITE_KEY}}`, async function serveConfig(c) {
  const config = await getSiteConfig(c.env.CONFIG, c.req.param("siteKey"));
  if (!config) throw new ApiError(404, "unknown_site", "No active site with that key.");
  const etag = `"${config.version}"`;
  c.header("ETag", etag);
  c.header("Cache-Control", cacheControl(config));
  c.header("Access-Control-Allow-Origin", "*");
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  return c.json(publicConfig(config));
});
