import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { configKey, type SiteConfig } from "#contracts";
import { SDK_VERSION } from "../src/generated/sdk.ts";
import { clearSiteConfigCache } from "../src/lib/site-config.ts";
import worker from "../src/index.ts";
import { call } from "./helpers.ts";

const config = (over: Partial<SiteConfig> = {}): SiteConfig => ({
  siteId: "site-1",
  siteKey: "shop",
  version: 7,
  features: { pageViews: true },
  consent: { mode: "opt-out", respectDoNotTrack: false },
  retentionDays: 90,
  debug: false,
  allowedOrigins: ["https://shop.example"],
  forms: [{ id: "f1", name: "Contact", selector: "#contact", alternativeSelectors: [], pageUrlPattern: "", fields: [] }],
  ...over,
});

beforeEach(async () => {
  clearSiteConfigCache();
  await env.CONFIG.put(configKey("shop"), JSON.stringify(config()));
});

describe("GET /s/<siteKey>.js", () => {
  it("serves the loader with the config inlined and the SDK URL of this build", async () => {
    const res = await call("/s/shop.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=5");
    expect(res.headers.get("etag")).toBe(`"7-${SDK_VERSION}"`);
    const js = await res.text();
    expect(js).toContain(`"${env.EDGE_PUBLIC_URL}/sdk/${SDK_VERSION}.js"`);
    expect(js).toContain('"selector":"#contact"');
  });

  it("takes the SDK's and the edge's URL from configuration, never from the request's Host", async () => {
    // a cache or proxy keyed without Host would otherwise serve an attacker's script URL to every visitor
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const forged = new Request("https://evil.example/s/shop.js", { headers: { host: "evil.example", "x-forwarded-host": "evil.example" } });
    const js = await (await worker.fetch(forged as Request<unknown, IncomingRequestCfProperties>, env, ctx)).text();
    expect(js).not.toContain("evil.example");
    expect(js).toContain(`t.e="${env.EDGE_PUBLIC_URL}"`);
  });

  it("answers 304 to the current ETag", async () => {
    const res = await call("/s/shop.js", { headers: { "if-none-match": `"7-${SDK_VERSION}"` } });
    expect(res.status).toBe(304);
  });

  it("serves a new version once KV holds it and the isolate cache has expired", async () => {
    await call("/s/shop.js");
    await env.CONFIG.put(configKey("shop"), JSON.stringify(config({ version: 8 })));
    clearSiteConfigCache();
    expect((await call("/s/shop.js")).headers.get("etag")).toBe(`"8-${SDK_VERSION}"`);
  });

  it("gives an unknown site a valid no-op script, not an error", async () => {
    const res = await call("/s/unknown-site.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/javascript/);
    const js = await res.text();
    expect(js).toMatch(/^console\.info\(".*unknown or inactive.*"\);$/);
  });

  it("rejects a malformed site key with a JSON 404", async () => {
    const res = await call("/s/bad%20key.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});

describe("GET /v1/config/<siteKey>", () => {
  it("returns the compiled config with an ETag of its version, and 304 for it", async () => {
    const res = await call("/v1/config/shop");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(config());
    expect(res.headers.get("etag")).toBe('"7"');
    expect((await call("/v1/config/shop", { headers: { "if-none-match": '"7"' } })).status).toBe(304);
  });

  it("answers an unknown site with a JSON 404", async () => {
    const res = await call("/v1/config/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "unknown_site" });
  });
});
