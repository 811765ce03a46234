/** `GET /sdk/<version>.js`: the tracker SDK, content-hashed and shared by every site, cached for a year. */
import { Hono } from "hono";
import { SDK_SOURCE, SDK_VERSION } from "../generated/sdk.ts";
import { ApiError } from "../lib/errors.ts";

export const sdkRoute = new Hono<{ Bindings: Env }>();

sdkRoute.get("/:file{[A-Za-z0-9._-]+\\.js}", function serveSdk(c) {
  if (c.req.param("file") !== `${SDK_VERSION}.js`) {
    throw new ApiError(404, "unknown_sdk_version", "No SDK build with that version.", { current: SDK_VERSION });
  }
  const etag = `"${SDK_VERSION}"`;
  c.header("Cache-Control", "public, max-age=31536000, immutable");
  c.header("ETag", etag);
  c.header("Access-Control-Allow-Origin", "*");
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  return c.body(SDK_SOURCE, 200, { "Content-Type": "application/javascript; charset=utf-8" });
});
