import { describe, expect, it } from "vitest";
import type { SiteConfig } from "#contracts";
import { cacheSeconds, liveConfig } from "./key-validity.ts";

const UNTIL = Date.UTC(2030, 0, 1, 12, 0, 0);

const config = (over: Partial<SiteConfig> = {}): SiteConfig => ({
  siteId: "site-1",
  siteKey: "sk_old",
  version: 3,
  features: {},
  consent: { mode: "opt-out", respectDoNotTrack: false },
  retentionDays: 90,
  debug: false,
  allowedOrigins: [],
  forms: [],
  ...over,
});

describe("liveConfig: the edge's decision on a key in its grace period", () => {
  const old = config({ validUntil: UNTIL });

  it("serves the old key before validUntil, to the last millisecond", () => {
    expect(liveConfig(old, UNTIL - 7 * 86_400_000)).toBe(old);
    expect(liveConfig(old, UNTIL - 1)).toBe(old);
  });

  it("refuses it at validUntil and after, as if the key were unknown", () => {
    expect(liveConfig(old, UNTIL)).toBeNull();
    expect(liveConfig(old, UNTIL + 1)).toBeNull();
    expect(liveConfig(old, UNTIL + 365 * 86_400_000)).toBeNull();
  });

  it("never expires a current key (no validUntil), and passes an unknown key's null through", () => {
    const current = config({ siteKey: "sk_new" });
    expect(liveConfig(current, UNTIL * 10)).toBe(current);
    expect(liveConfig(null, 0)).toBeNull();
  });

  it("refuses a malformed clock reading rather than serving forever", () => {
    expect(liveConfig(old, Number.NaN)).toBeNull();
  });
});

describe("cacheSeconds: no browser keeps an old key's loader past its grace period", () => {
  it("is the usual maximum for a current key", () => {
    expect(cacheSeconds(config(), UNTIL, 5)).toBe(5);
  });

  it("shrinks to the whole seconds left, then zero", () => {
    const old = config({ validUntil: UNTIL });
    expect(cacheSeconds(old, UNTIL - 60_000, 5)).toBe(5);
    expect(cacheSeconds(old, UNTIL - 3_500, 5)).toBe(3);
    expect(cacheSeconds(old, UNTIL - 999, 5)).toBe(0);
    expect(cacheSeconds(old, UNTIL + 10_000, 5)).toBe(0);
  });
});
