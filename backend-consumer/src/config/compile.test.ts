import { describe, expect, it } from "vitest";
import { compileSiteConfig, contentHash, type SiteBundle } from "./compile.ts";

const now = new Date("2030-01-01T00:00:00Z");
const bundle = (over: Partial<SiteBundle> = {}): SiteBundle => ({
  site: {
    id: "site-1",
    tenantId: "t",
    name: "Shop",
    domain: "shop.example",
    locationId: "l",
    timezone: null,
    siteKey: "sk_new",
    active: true,
    allowedOrigins: ["https://shop.example"],
    settings: {},
    createdAt: now,
    updatedAt: now,
  },
  locationTimezone: "UTC",
  forms: [],
  fields: [],
  secretHashes: [],
  ...over,
});

describe("compileSiteConfig under a rotated-out key", () => {
  it("a current key's config has no validUntil", () => {
    const config = compileSiteConfig(bundle(), 5);
    expect(config.siteKey).toBe("sk_new");
    expect(config).not.toHaveProperty("validUntil");
  });

  it("an old key in its grace period serves the same site, under the old key, marked with when it stops", () => {
    const validUntil = now.getTime() + 60_000;
    const current = compileSiteConfig(bundle(), 5);
    const old = compileSiteConfig(bundle({ grace: { siteKey: "sk_old", validUntil } }), 5);
    // the SDK sends events with the key it was loaded with: the edge can then stop them on time
    expect(old).toEqual({ ...current, siteKey: "sk_old", validUntil });
    expect(contentHash(old)).not.toBe(contentHash(current));
  });

  it("a new grace end is new content (the sync rewrites the entry)", () => {
    const a = compileSiteConfig(bundle({ grace: { siteKey: "sk_old", validUntil: now.getTime() + 1000 } }), 5);
    const b = compileSiteConfig(bundle({ grace: { siteKey: "sk_old", validUntil: now.getTime() + 2000 } }), 5);
    expect(contentHash(a)).not.toBe(contentHash(b));
  });
});
