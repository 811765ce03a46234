import { describe, expect, it } from "vitest";
import { isOrigin, SITE_KEY_PATTERN, siteCreateSchema, sitePatchSchema, userCreateSchema } from "./schemas.ts";
import { generateSiteKey } from "./sites.ts";

describe("isOrigin", () => {
  it.each([
    ["https://shop.example", true],
    ["http://localhost:8080", true],
    ["https://shop.example/", false],
    ["https://shop.example/path", false],
    ["https://SHOP.example", false],
    ["ftp://shop.example", false],
    ["shop.example", false],
    ["*", false],
  ])("%s → %s", (value, expected) => {
    expect(isOrigin(value)).toBe(expected);
  });
});

describe("site bodies", () => {
  it("fills defaults on create and normalises the domain", () => {
    expect(siteCreateSchema.parse({ name: "Shop", domain: " Shop.Example " })).toEqual({
      name: "Shop",
      domain: "shop.example",
      active: true,
      settings: {},
      timezone: null,
    });
  });

  it("takes IANA time zones only", () => {
    expect(siteCreateSchema.parse({ name: "a", domain: "a.example", timezone: "Europe/Berlin" }).timezone).toBe("Europe/Berlin");
    expect(siteCreateSchema.safeParse({ name: "a", domain: "a.example", timezone: "Mars/Olympus" }).success).toBe(false);
  });

  it("fills nothing in on patch", () => {
    expect(sitePatchSchema.parse({ active: false })).toEqual({ active: false });
  });

  it.each([
    ["a domain with a scheme", { name: "a", domain: "https://a.example" }],
    ["a domain with a path", { name: "a", domain: "a.example/x" }],
    ["a blank name", { name: "  ", domain: "a.example" }],
    ["an unknown key", { name: "a", domain: "a.example", tenantId: "t" }],
  ])("refuses %s", (_name, body) => {
    expect(siteCreateSchema.safeParse(body).success).toBe(false);
  });
});

describe("user bodies", () => {
  it("lowercases the email", () => {
    expect(userCreateSchema.parse({ email: "A@B.Example", role: "agency" }).email).toBe("a@b.example");
  });
});

describe("generateSiteKey", () => {
  it("makes distinct, lower-case sk_ keys of 24 base32 characters that pass the site key pattern", () => {
    const keys = Array.from({ length: 50 }, generateSiteKey);
    for (const key of keys) {
      expect(key).toMatch(/^sk_[a-z2-7]{24}$/);
      expect(key).toMatch(SITE_KEY_PATTERN);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });
});
