import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkNodeVersion } from "../main.ts";
import { configTable, loadConfig } from "./config.ts";

const base = { MONGODB_URI: "mongodb://127.0.0.1:27017/" };
const plane = { ...base, MARIADB_URL: "mysql://u:p@127.0.0.1:3306/t", JWT_SECRET: randomBytes(32).toString("base64url"), KV_SYNC: "off" };

const refusal = (env: Record<string, string | undefined>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  return "accepted";
};

describe("backend configuration", () => {
  it("needs only MongoDB to drain, and gives every default", () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ MONGODB_DB: "tracker", BACKEND_HOST: "127.0.0.1", BACKEND_PORT: 8790, PULL_BATCH_SIZE: 100, SYNC_INTERVAL_MS: 100, KV_SYNC: "on", LOCAL_QUEUE_CONSUMER: false, LOG_LEVEL: "info" });
  });

  it.each([
    [{}, /^config: MONGODB_URI is missing: MongoDB/],
    [{ ...base, PULL_BATCH_SIZE: "abc" }, /^config: PULL_BATCH_SIZE is invalid: expected a whole number from 1 to 100$/],
    [{ ...base, PULL_BATCH_SIZE: "500" }, /^config: PULL_BATCH_SIZE is invalid: expected at most 100$/],
    [{ ...base, SYNC_INTERVAL_MS: "abc" }, /^config: SYNC_INTERVAL_MS is invalid: expected a whole number from 10 to/],
    [{ ...base, SYNC_INTERVAL_MS: "1" }, /^config: SYNC_INTERVAL_MS is invalid: expected at least 10$/],
    [{ ...base, BACKEND_PORT: "http" }, /^config: BACKEND_PORT is invalid/],
    [{ ...base, LOG_LEVEL: "loud" }, /^config: LOG_LEVEL is invalid/],
    [{ ...base, LOCAL_QUEUE_CONSUMER: "yes" }, /^config: LOCAL_QUEUE_CONSUMER is invalid: expected true or false$/],
    [{ ...base, LOCAL_QUEUE_CONSUMER: "true" }, /^config: INTERNAL_TOKEN is missing: needed with LOCAL_QUEUE_CONSUMER/],
    [{ ...base, LOCAL_QUEUE_CONSUMER: "true", INTERNAL_TOKEN: "x" }, /^config: INTERNAL_TOKEN is invalid: expected at least 32 random bytes/],
    [{ ...base, LOCAL_QUEUE_CONSUMER: "true", INTERNAL_TOKEN: "a".repeat(64) }, /INTERNAL_TOKEN is invalid/],
    [{ ...base, DESTINATION_SECRET_KEY: "c2hvcnQ=" }, /^config: DESTINATION_SECRET_KEY is invalid: expected 32 bytes in base64/],
    [{ ...base, CLOUDFLARE_QUEUE_ID: "q" }, /^config: CLOUDFLARE_ACCOUNT_ID is missing: needed to pull the queue$/],
    [{ ...plane, KV_SYNC: "on" }, /^config: CLOUDFLARE_ACCOUNT_ID is missing: needed for the KV sync/],
    [{ ...plane, JWT_SECRET: undefined }, /^config: set JWT_SECRET \(local\) or JWT_JWKS_URL$/],
    [{ ...plane, JWT_JWKS_URL: "https://idp.example/jwks" }, /JWT_ISSUER and JWT_AUDIENCE/],
    [{ ...plane, NODE_ENV: "production", JWT_JWKS_URL: "https://idp.example/jwks", JWT_ISSUER: "i", JWT_AUDIENCE: "a" }, /not both/],
    [{ ...plane, NODE_ENV: "production", HIGHLEVEL_SHARED_SECRET: "s".repeat(32) }, /^config: SESSION_SIGNING_KEY is missing/],
    [{ ...base, HIGHLEVEL_CLIENT_ID: "id" }, /^config: HIGHLEVEL_CLIENT_SECRET is missing/],
  ])("refuses %j with one line naming the variable", (env, message) => {
    const got = refusal(env);
    expect(got).toMatch(message);
    expect(got.split("\n")).toHaveLength(1);
  });

  it("accepts a full production configuration", () => {
    const c = loadConfig({
      ...plane,
      NODE_ENV: "production",
      JWT_SECRET: undefined,
      JWT_JWKS_URL: "https://idp.example/jwks",
      JWT_ISSUER: "https://idp.example",
      JWT_AUDIENCE: "lead-tracker",
      KV_SYNC: "on",
      CLOUDFLARE_ACCOUNT_ID: "acct",
      CLOUDFLARE_API_TOKEN: "cf-token",
      KV_NAMESPACE_ID: "ns",
      CLOUDFLARE_QUEUE_ID: "q",
      DESTINATION_SECRET_KEY: randomBytes(32).toString("base64"),
      BACKEND_HOST: "0.0.0.0",
      DASHBOARD_FRAME_ANCESTORS: "https://crm.agency.example https://app.agency.example",
    });
    expect(c.auth).toMatchObject({ jwksUrl: "https://idp.example/jwks", production: true });
    expect(c.frameAncestors).toEqual(["https://crm.agency.example", "https://app.agency.example"]);
  });

  it("is what the README's backend table says, variable for variable", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const block = /<!-- backend-config:start -->\n([\s\S]*?)\n<!-- backend-config:end -->/.exec(readme)?.[1];
    expect(block, "README: the generated table between the backend-config markers (npm run docs:env)").toBe(configTable());
  });

  it("refuses a Node without type stripping by default, naming what it needs", () => {
    expect(() => checkNodeVersion("22.12.0")).toThrow(/22\.12\.0 is too old.*22\.18/);
    expect(() => checkNodeVersion("20.19.1")).toThrow(/too old/);
    expect(() => checkNodeVersion("22.18.0")).not.toThrow();
    expect(() => checkNodeVersion("24.1.0")).not.toThrow();
  });
});

// a secret given in the environment stays out of the configuration's error lines
it("never prints a secret it refuses", () => {
  const secret = "whsec_not-base64-but-secret";
  expect(refusal({ ...base, DESTINATION_SECRET_KEY: secret })).not.toContain(secret);
  expect(refusal({ ...base, LOCAL_QUEUE_CONSUMER: "true", INTERNAL_TOKEN: "short-secret" })).not.toContain("short-secret");
});
