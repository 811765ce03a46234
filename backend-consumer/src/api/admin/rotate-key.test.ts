import { describe, expect, it } from "vitest";
import { DEFAULT_GRACE_SECONDS, graceEnd, MAX_GRACE_SECONDS, rotateKeySchema } from "./rotate-key.ts";

describe("rotate-key body: the grace period's bounds", () => {
  it("defaults to 7 days", () => {
    expect(DEFAULT_GRACE_SECONDS).toBe(604_800);
    expect(rotateKeySchema.parse({})).toEqual({ graceSeconds: 604_800 });
  });

  it("takes whole seconds from 0 (the old key stops now) to 90 days", () => {
    expect(MAX_GRACE_SECONDS).toBe(90 * 86_400);
    for (const graceSeconds of [0, 1, 5, 86_400, MAX_GRACE_SECONDS]) expect(rotateKeySchema.parse({ graceSeconds })).toEqual({ graceSeconds });
  });

  it.each([
    ["negative", -1],
    ["over 90 days", MAX_GRACE_SECONDS + 1],
    ["fractional", 1.5],
    ["a string", "3600"],
    ["null", null],
    ["infinite", Number.POSITIVE_INFINITY],
  ])("refuses %s", (_what, graceSeconds) => {
    expect(rotateKeySchema.safeParse({ graceSeconds }).success).toBe(false);
  });

  it("refuses unknown fields (a new key is always generated, never chosen here)", () => {
    expect(rotateKeySchema.safeParse({ siteKey: "mine" }).success).toBe(false);
  });
});

describe("graceEnd", () => {
  it("is now plus the grace period, to the millisecond", () => {
    const now = new Date("2030-01-01T00:00:00.123Z");
    expect(graceEnd(now, 0).toISOString()).toBe("2030-01-01T00:00:00.123Z");
    expect(graceEnd(now, 7 * 86_400).toISOString()).toBe("2030-01-08T00:00:00.123Z");
  });
});
