import { describe, expect, it } from "vitest";
import { SDK_SOURCE, SDK_VERSION } from "../src/generated/sdk.ts";
import { call } from "./helpers.ts";

describe("GET /sdk/<version>.js", () => {
  it("serves the current build as JavaScript with a one-year immutable cache", async () => {
    const res = await call(`/sdk/${SDK_VERSION}.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await res.text()).toBe(SDK_SOURCE);
  });

  it("answers 304 to a matching If-None-Match", async () => {
    const res = await call(`/sdk/${SDK_VERSION}.js`, { headers: { "if-none-match": `"${SDK_VERSION}"` } });
    expect(res.status).toBe(304);
  });

  it("answers an unknown version with a JSON 404 naming the current one", async () => {
    const res = await call("/sdk/000000000000.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "unknown_sdk_version", current: SDK_VERSION });
  });
});

describe("other routes", () => {
  it("GET /healthz reports ok and the SDK version", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, sdkVersion: SDK_VERSION });
  });

  it("an unknown path is a JSON 404", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
