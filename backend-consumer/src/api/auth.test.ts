import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { createTokenVerifier, mintToken, requireAuth, type AuthEnv, type Principal } from "./auth.ts";
import { mintSession, SESSION_KID, sessionKeys, type SessionKeys } from "./session.ts";

const SECRET = "unit-test-secret-0123456789abcdefghij";
const now = () => Math.floor(Date.now() / 1000);

describe("HS256 tokens", () => {
  const verify = createTokenVerifier({ hs256Secret: SECRET });

  it("turns a token into the user id it was minted for, and nothing more", async () => {
    const token = await mintToken(SECRET, { sub: "u1" });
    expect(await verify(token)).toBe("u1");
  });

  it("accepts older tokens that carried tenant, role and sites, and ignores those claims", async () => {
    const token = await mintToken(SECRET, { sub: "u1", tid: "t1", role: "agency", sites: ["s1"] });
    expect(await verify(token)).toBe("u1");
  });

  it.each([
    ["expired", () => mintToken(SECRET, { sub: "u", tid: "t", role: "agency" }, now() - 120), /expired/],
    ["without an issue time", () => new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET)), /iat/],
    ["issued a year from now", () => new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now() + 365 * 86400).setExpirationTime(now() + 366 * 86400).sign(new TextEncoder().encode(SECRET)), /iat/],
    ["issued two days ago, still unexpired", () => new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now() - 2 * 86400).setExpirationTime("1h").sign(new TextEncoder().encode(SECRET)), /too old/],
    ["expiring in the year 2200", () => mintToken(SECRET, { sub: "u" }, Math.floor(Date.UTC(2200, 0, 1) / 1000)), /lives longer/],
    ["signed with another secret", () => mintToken("y".repeat(40), { sub: "u", tid: "t", role: "agency" }), /signature/],
    ["without a subject", () => new SignJWT({ tid: "t" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(SECRET)), /sub/],
    ["without an expiry", () => new SignJWT({ sub: "u", tid: "t", role: "agency" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().sign(new TextEncoder().encode(SECRET)), /exp/],
    ["unsigned (alg none)", async () => `${btoa('{"alg":"none"}')}.${btoa(JSON.stringify({ sub: "u", tid: "t", role: "agency", exp: now() + 60 }))}.`, /algorithm|invalid/],
    ["garbage", async () => "a.b.c", /JWT|invalid/],
  ])("refuses a token %s", async (_name, token, message) => {
    await expect(verify(await token())).rejects.toThrow(message);
  });

  it("checks issuer and audience when configured", async () => {
    const strict = createTokenVerifier({ hs256Secret: SECRET, issuer: "https://idp.test", audience: "admin" });
    const good = await mintToken(SECRET, { sub: "u", tid: "t", role: "agency", iss: "https://idp.test", aud: "admin" });
    const wrongIss = await mintToken(SECRET, { sub: "u", tid: "t", role: "agency", iss: "https://evil.test", aud: "admin" });
    const noAud = await mintToken(SECRET, { sub: "u", tid: "t", role: "agency", iss: "https://idp.test" });
    expect(await strict(good)).toBe("u");
    await expect(strict(wrongIss)).rejects.toThrow(/"iss"/);
    await expect(strict(noAud)).rejects.toThrow(/"aud"/);
  });

  it("refuses options without a key source or with a short secret", () => {
    expect(() => createTokenVerifier({})).toThrow(/JWT_SECRET .*or JWT_JWKS_URL/);
    expect(() => createTokenVerifier({ hs256Secret: "short" })).toThrow(/at least 32/);
  });

  it("honours a shorter maximum age", async () => {
    const verify = createTokenVerifier({ hs256Secret: SECRET, maxTokenAgeSeconds: 600 });
    expect(await verify(await mintToken(SECRET, { sub: "u" }, "10m"))).toBe("u");
    await expect(verify(await mintToken(SECRET, { sub: "u" }, "1h"))).rejects.toThrow(/lives longer than 600 s/);
  });
});

describe("remote JWKS (RS256, EdDSA)", () => {
  let server: Server;
  let jwksUrl: string;
  const keys: Record<string, { privateKey: CryptoKey; kid: string }> = {};

  beforeAll(async () => {
    const jwks: JWK[] = [];
    for (const alg of ["RS256", "EdDSA"]) {
      const pair = await generateKeyPair(alg, { extractable: true });
      keys[alg] = { privateKey: pair.privateKey, kid: `k-${alg}` };
      jwks.push({ ...(await exportJWK(pair.publicKey)), kid: `k-${alg}`, alg });
    }
    server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: jwks }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (alg: string, claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid: keys[alg]!.kid })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(keys[alg]!.privateKey);

  const idp = { issuer: "https://idp.test", audience: "lead-tracker" };
  const ours = { iss: idp.issuer, aud: idp.audience };

  it.each(["RS256", "EdDSA"])("accepts %s tokens signed by a key of the set for this app", async (alg) => {
    const verify = createTokenVerifier({ jwksUrl, ...idp });
    expect(await verify(await sign(alg, { sub: "u", ...ours }))).toBe("u");
  });

  it("refuses a JWKS without an issuer and an audience to check: the provider signs tokens for other apps too", () => {
    expect(() => createTokenVerifier({ jwksUrl })).toThrow(/JWT_ISSUER and JWT_AUDIENCE/);
    expect(() => createTokenVerifier({ jwksUrl, issuer: idp.issuer })).toThrow(/JWT_ISSUER and JWT_AUDIENCE/);
  });

  it.each([
    ["another app's audience", { iss: idp.issuer, aud: "other-app" }, /"aud"/],
    ["another issuer", { iss: "https://evil.test", aud: idp.audience }, /"iss"/],
    ["no audience", { iss: idp.issuer }, /"aud"/],
    ["no issuer", { aud: idp.audience }, /"iss"/],
  ])("refuses a provider-signed token with %s", async (_name, claims, message) => {
    const verify = createTokenVerifier({ jwksUrl, ...idp });
    await expect(verify(await sign("EdDSA", { sub: "u", ...claims }))).rejects.toThrow(message);
  });

  it("refuses HS256 tokens when only a JWKS is configured", async () => {
    const verify = createTokenVerifier({ jwksUrl, ...idp });
    await expect(verify(await mintToken(SECRET, { sub: "u", ...ours }))).rejects.toThrow(/algorithm/);
  });

  it("accepts both sources side by side outside production, and refuses to start with both in production", async () => {
    const verify = createTokenVerifier({ jwksUrl, hs256Secret: SECRET, ...idp });
    expect(await verify(await sign("EdDSA", { sub: "a", ...ours }))).toBe("a");
    expect(await verify(await mintToken(SECRET, { sub: "b", ...ours }))).toBe("b");
    expect(() => createTokenVerifier({ jwksUrl, hs256Secret: SECRET, ...idp, production: true })).toThrow(/not both/);
  });
});

describe("requireAuth middleware", () => {
  // The scopes of known users, as the database would answer (the real resolver is tested on MariaDB).
  const principals: Record<string, Principal> = {
    u: { userId: "u", tenantId: "t", role: "location", email: "u@t.test", locationIds: ["l"], siteIds: ["s"] },
  };
  const app = new Hono<AuthEnv>();
  let keys: SessionKeys;
  const narrow = async (p: Principal, loc: string): Promise<Principal | null> =>
    p.locationIds.includes(loc) ? { ...p, locationIds: [loc], siteIds: p.siteIds.filter((s) => s.startsWith(loc)), sessionLocationId: loc } : null;
  beforeAll(async () => {
    keys = await sessionKeys();
    app.use("*", requireAuth({ hs256Secret: SECRET, session: keys }, { principal: async (id) => principals[id] ?? null, narrow }));
    app.get("/me", (c) => c.json(c.get("principal")));
  });
  principals.a = { userId: "a", tenantId: "t", role: "agency", email: "a@t.test", locationIds: ["l1", "l2"], siteIds: ["l1-s", "l2-s"] };
  const me = async (token: string) => app.request("/me", { headers: { authorization: `Bearer ${token}` } });

  it("accepts a dashboard session and scopes it to the location it was opened in", async () => {
    const { token, expiresAt } = await mintSession(keys, { userId: "a", locationId: "l2" });
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    expect(await (await me(token)).json()).toEqual({ ...principals.a, locationIds: ["l2"], siteIds: ["l2-s"], sessionLocationId: "l2" });
    const whole = await mintSession(keys, { userId: "a", locationId: null });
    expect(await (await me(whole.token)).json()).toEqual(principals.a);
  });

  it("refuses a session scoped to a location that is not the user's, and sessions signed by anyone else", async () => {
    expect((await me((await mintSession(keys, { userId: "a", locationId: "elsewhere" })).token)).status).toBe(401);
    const other = await sessionKeys();
    expect((await me((await mintSession(other, { userId: "a", locationId: null })).token)).status).toBe(401);
    // the session's kid on an HS256 token signed with the API secret: still a session, and not one of ours
    const forged = await new SignJWT({ sub: "a" }).setProtectedHeader({ alg: "HS256", kid: SESSION_KID }).setIssuer("lead-tracker").setAudience("lead-tracker:dashboard").setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
    expect((await me(forged)).status).toBe(401);
    // and a session minted to last a day is refused, not just once it is old
    const long = await new SignJWT({ sub: "a" }).setProtectedHeader({ alg: "EdDSA", kid: SESSION_KID }).setIssuer("lead-tracker").setAudience("lead-tracker:dashboard").setIssuedAt().setExpirationTime("1d").sign(keys.privateKey);
    expect((await me(long)).status).toBe(401);
  });

  it("puts the user's scopes, as the database has them, on the context", async () => {
    const token = await mintToken(SECRET, { sub: "u", tid: "forged", role: "agency" });
    const res = await app.request("/me", { headers: { authorization: `Bearer ${token}` } });
    expect(await res.json()).toEqual(principals.u);
  });

  it("answers 401 to a valid token of a user that does not exist (any more)", async () => {
    const res = await app.request("/me", { headers: { authorization: `Bearer ${await mintToken(SECRET, { sub: "gone" })}` } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "unauthorized", message: "No such user." });
  });

  it.each([
    ["no header", {}],
    ["another scheme", { authorization: "Basic dTpw" }],
    ["an empty bearer", { authorization: "Bearer " }],
    ["a bad token", { authorization: "Bearer x.y.z" }],
  ])("answers 401 JSON to %s", async (_name, headers) => {
    const res = await app.request("/me", { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await res.json()).toMatchObject({ error: "unauthorized", message: expect.any(String) });
  });
});
