/**
 * Serves the browser dashboard built by scripts/build-dashboard.ts: `GET /app/assets/<hashed file>` (cached for a
 * year: a new build has new names), and index.html for `/app` and any other path under it, so deep links load the
 * app, which reads its state from the query string. The files are read at request time, so a rebuild shows on the
 * next load without a restart; before the first build the answer is a 503 saying so.
 *
 * The HTML carries a strict Content-Security-Policy: scripts, styles and API calls from this origin only, no inline
 * code or styles, and framing only by this origin and the CRM's origins (`frameAncestors`), where the dashboard
 * runs as a Custom Page.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { Hono, type Context } from "hono";

export const DEFAULT_DASHBOARD_DIST = resolve(dirname(import.meta.filename), "../../dashboard/dist");

export interface DashboardOptions {
  /** The build's directory (default: backend-consumer/dashboard/dist). */
  distDir?: string;
  /** Origins that may frame the dashboard besides its own (the CRM's), e.g. "https://app.gohighlevel.com". */
  frameAncestors: string[];
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/** A built asset's name: hashed by the build, one path segment, nothing that could climb out of the directory. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.[a-z0-9]+$/;

/** A CSP source expression must not smuggle in another directive or a quote. */
const SAFE_SOURCE = /^[A-Za-z0-9*:/._\-[\]]+$/;

export function contentSecurityPolicy(frameAncestors: string[]): string {
  for (const origin of frameAncestors) if (!SAFE_SOURCE.test(origin)) throw new Error(`dashboard: frame ancestor ${JSON.stringify(origin)} is not a CSP source`);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    `frame-ancestors ${["'self'", ...frameAncestors].join(" ")}`,
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

export function dashboardRoutes(opts: DashboardOptions): Hono {
  const dist = resolve(opts.distDir ?? DEFAULT_DASHBOARD_DIST);
  const assets = join(dist, "assets");
  const csp = contentSecurityPolicy(opts.frameAncestors);
  const app = new Hono();

  const notBuilt = (c: Context) =>
    c.json({ error: "dashboard_not_built", message: "The dashboard has not been built: run `node scripts/build-dashboard.ts`." }, 503, { "Cache-Control": "no-store" });
  const noAsset = (c: Context) => c.json({ error: "not_found", message: "No such dashboard asset." }, 404, { "Cache-Control": "no-store" });

  const html = async (c: Context) => {
    let body: Buffer;
    try {
      body = await readFile(join(dist, "index.html"));
    } catch {
      return notBuilt(c);
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    const headers = {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-cache",
      ETag: etag,
      "Content-Security-Policy": csp,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    };
    if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(body), 200, headers);
  };

  const asset = async (c: Context) => {
    const name = c.req.param("file") ?? "";
    if (!ASSET_NAME.test(name)) return noAsset(c);
    const path = join(assets, name);
    // belt and braces: the name pattern already keeps the path inside the assets directory
    if (!path.startsWith(assets + sep)) return noAsset(c);
    let body: Buffer;
    try {
      if (!(await stat(path)).isFile()) return noAsset(c);
      body = await readFile(path);
    } catch {
      try {
        await stat(dist);
      } catch {
        return notBuilt(c);
      }
      return noAsset(c);
    }
    return c.body(new Uint8Array(body), 200, {
      "Content-Type": TYPES[extname(name)] ?? "application/octet-stream",
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
    });
  };

  app.get("/app/assets/:file", asset);
  // anything else under assets/ (nested, empty, encoded slashes) is not an asset, and not a page either
  app.get("/app/assets", noAsset);
  app.get("/app/assets/*", noAsset);
  app.get("/app", html);
  app.get("/app/*", html);
  return app;
}
