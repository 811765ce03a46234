import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { securitySettingsFromEnv } from "./settings.ts";

const strong = randomBytes(32).toString("hex");
const jwt = { MARIADB_URL: "mysql://x", JWT_SECRET: randomBytes(32).toString("base64url") };

describe("security settings at startup", () => {
  it.each([
    ["missing", undefined],
    ["one character", "x"],
    ["short", "0123456789abcdef0123456789abcdef"],
    ["long but not random", "a".repeat(64)],
  ])("refuses an INTERNAL_TOKEN that is %s", (_name, token) => {
    expect(() => securitySettingsFromEnv({ ...jwt, INTERNAL_TOKEN: token })).toThrow(/INTERNAL_TOKEN/);
  });

  it("accepts 32 random bytes as hex or base64url", () => {
    expect(securitySettingsFromEnv({ ...jwt, INTERNAL_TOKEN: strong }).internalToken).toBe(strong);
    const b64 = randomBytes(32).toString("base64url");
    expect(securitySettingsFromEnv({ ...jwt, INTERNAL_TOKEN: b64 }).internalToken).toBe(b64);
  });

  it("refuses a JWKS and an HS256 secret together in production, and a JWKS without issuer and audience anywhere", () => {
    const both = { ...jwt, INTERNAL_TOKEN: strong, JWT_JWKS_URL: "https://idp.test/jwks", JWT_ISSUER: "https://idp.test", JWT_AUDIENCE: "app" };
    expect(() => securitySettingsFromEnv({ ...both, NODE_ENV: "production" })).toThrow(/not both/);
    expect(securitySettingsFromEnv(both).auth.production).toBe(false);
    expect(() => securitySettingsFromEnv({ ...both, JWT_ISSUER: undefined })).toThrow(/JWT_ISSUER and JWT_AUDIENCE/);
  });

  it("reads a maximum token age and refuses a nonsense one", () => {
    expect(securitySettingsFromEnv({ ...jwt, INTERNAL_TOKEN: strong, JWT_MAX_AGE_S: "3600" }).auth.maxTokenAgeSeconds).toBe(3600);
    expect(() => securitySettingsFromEnv({ ...jwt, INTERNAL_TOKEN: strong, JWT_MAX_AGE_S: "a day" })).toThrow(/JWT_MAX_AGE_S/);
  });
});
