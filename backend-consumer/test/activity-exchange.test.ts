/**
 * The actor token exchange (POST /v1/auth/highlevel/actor) on real MariaDB through the backend's HTTP app: payloads
 * made by the real crypto-js (as the CRM makes them) and by our own encryptor, posted as text/plain the way the
 * Custom JS posts them; the token's claims checked against the rows; refusals named; CORS open; audit only when a
 * user is created or changed.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import CryptoJS from "crypto-js";
import { and, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTOR_TOKEN_KID, ACTOR_TOKEN_TTL_S } from "#contracts";
import { actorKeys, verifyActorToken, type ActorKeys } from "../src/activity/token.ts";
import { createApi } from "../src/api/app.ts";
import { sessionKeys } from "../src/api/session.ts";
import { encryptPassphrasePayload } from "../src/api/sso/crypto-js-passphrase.ts";
import { auditLog, locations, sites, tenants, users } from "../src/config/schema.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";

const SHARED = "hl-shared-secret-" + randomBytes(8).toString("hex");
const JWT = randomBytes(32).toString("base64url");
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
let unconfigured: Hono;
let keys: ActorKeys;
const A = { id: crypto.randomUUID(), company: `co-a-${randomBytes(3).toString("hex")}` };
const loc = { a1: crypto.randomUUID(), a2: crypto.randomUUID() };

type Json = Record<string, unknown>;
const agencyCtx = (over: Json = {}) => ({ userId: "hl-agency-1", companyId: A.company, role: "admin", type: "agency", userName: "Ada Admin", email: "ada@agency-a.example", ...over });
const locationCtx = (over: Json = {}) => ({ userId: "hl-loc-1", companyId: A.company, type: "location", userName: "Lou", email: "lou@a1.example", activeLocation: "hl-loc-a1", ...over });
const cryptoJs = (ctx: Json, secret = SHARED) => CryptoJS.AES.encrypt(JSON.stringify(ctx), secret).toString();

async function exchange(encryptedData: string, opts: { on?: Hono; contentType?: string } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await (opts.on ?? app).request("/v1/auth/highlevel/actor", {
    method: "POST",
    headers: { "content-type": opts.contentType ?? "text/plain;charset=UTF-8", origin: "https://app.gohighlevel.com" },
    body: JSON.stringify({ encryptedData }),
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}
const userByExternal = async (externalId: string) => (await maria.db.select().from(users).where(and(eq(users.tenantId, A.id), eq(users.externalId, externalId))))[0]!;
const auditCount = async (userId: string) => (await maria.db.select().from(auditLog).where(eq(auditLog.targetId, userId))).length;

beforeAll(async () => {
  maria = await testMariadb("actor");
  mongo = await testMongo("actor");
  await maria.db.insert(tenants).values({ id: A.id, name: "Agency A", externalId: A.company });
  await maria.db.insert(locations).values([
    { id: loc.a1, tenantId: A.id, name: "A1", externalId: "hl-loc-a1", timezone: "Europe/London" },
    { id: loc.a2, tenantId: A.id, name: "A2", externalId: "hl-loc-a2", timezone: "America/New_York" },
  ]);
  // the tenant's longest site retention (200) is its activity's; a site without the setting counts as 90
  await maria.db.insert(sites).values([
    { id: crypto.randomUUID(), tenantId: A.id, locationId: loc.a1, name: "s1", domain: "s1.example", siteKey: `sk_${randomBytes(6).toString("hex")}`, settings: { retentionDays: 30 } },
    { id: crypto.randomUUID(), tenantId: A.id, locationId: loc.a2, name: "s2", domain: "s2.example", siteKey: `sk_${randomBytes(6).toString("hex")}`, settings: { retentionDays: 200 } },
    { id: crypto.randomUUID(), tenantId: A.id, locationId: loc.a2, name: "s3", domain: "s3.example", siteKey: `sk_${randomBytes(6).toString("hex")}` },
  ]);
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  keys = await actorKeys(pem);
  const base = { db: mongo.db, configDb: maria.db, log: () => {}, metrics: createMetrics(mongo.db), auth: { hs256Secret: JWT, session: await sessionKeys() } };
  app = createApi({ ...base, sso: { sharedSecret: SHARED, autoCreateTenants: false }, activity: { keys } });
  unconfigured = createApi({ ...base, sso: { sharedSecret: SHARED, autoCreateTenants: false } });
});
afterAll(async () => {
  await maria.drop();
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("POST /v1/auth/highlevel/actor", () => {
  it("trades a crypto-js payload posted as text/plain for an actor token naming the user, tenant, location, zone and retention", async () => {
    const { status, body, headers } = await exchange(cryptoJs(agencyCtx({ activeLocation: "hl-loc-a1" })));
    expect(status).toBe(200);
    expect(headers.get("access-control-allow-origin")).toBe("*");
    expect(headers.get("access-control-allow-credentials")).toBeNull();
    const user = await userByExternal("hl-agency-1");
    const actor = await verifyActorToken(keys.publicKey, body.token as string);
    expect(actor).toEqual({ userId: user.id, tenantId: A.id, locationId: loc.a1, role: "agency", timezone: "Europe/London", retentionDays: 200 });
    expect(decodeProtectedHeader(body.token as string)).toMatchObject({ alg: "EdDSA", kid: ACTOR_TOKEN_KID });
    const ttl = Date.parse(body.expiresAt as string) - Date.now();
    expect(ttl).toBeGreaterThan((ACTOR_TOKEN_TTL_S - 60) * 1000);
    expect(ttl).toBeLessThanOrEqual(ACTOR_TOKEN_TTL_S * 1000);
  });

  it("accepts our own encryptor's payload as JSON too; agency-level pages have no location and count days in UTC", async () => {
    const { status, body } = await exchange(encryptPassphrasePayload(JSON.stringify(agencyCtx()), SHARED), { contentType: "application/json" });
    expect(status).toBe(200);
    const actor = await verifyActorToken(keys.publicKey, body.token as string);
    expect(actor).toMatchObject({ locationId: null, role: "agency", timezone: "UTC", retentionDays: 200 });
  });

  it("provisions a location user in its location, with that location's zone", async () => {
    const { status, body } = await exchange(cryptoJs(locationCtx({ activeLocation: "hl-loc-a2" })));
    expect(status).toBe(200);
    const user = await userByExternal("hl-loc-1");
    expect(await verifyActorToken(keys.publicKey, body.token as string)).toEqual({ userId: user.id, tenantId: A.id, locationId: loc.a2, role: "location", timezone: "America/New_York", retentionDays: 200 });
  });

  it("writes an audit entry when the user is created or changed, not on every renewal", async () => {
    await exchange(cryptoJs(agencyCtx({ userId: "hl-agency-2", email: "bo@agency-a.example", userName: "Bo" })));
    const user = await userByExternal("hl-agency-2");
    expect(await auditCount(user.id)).toBe(1);
    await exchange(cryptoJs(agencyCtx({ userId: "hl-agency-2", email: "bo@agency-a.example", userName: "Bo" })));
    await exchange(cryptoJs(agencyCtx({ userId: "hl-agency-2", email: "bo@agency-a.example", userName: "Bo" })));
    expect(await auditCount(user.id)).toBe(1);
    await exchange(cryptoJs(agencyCtx({ userId: "hl-agency-2", email: "bo@agency-a.example", userName: "Bo B." })));
    expect(await auditCount(user.id)).toBe(2);
  });

  it("refuses a payload encrypted with another secret, and contexts the sign-in refuses, with named 401s that keep CORS", async () => {
    const wrong = await exchange(cryptoJs(agencyCtx(), "another-apps-secret"));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: "invalid_payload" });
    expect(wrong.headers.get("access-control-allow-origin")).toBe("*");
    expect((await exchange(cryptoJs(agencyCtx({ companyId: "unknown-co" })))).body).toMatchObject({ error: "unknown_company" });
    expect((await exchange(cryptoJs(locationCtx({ activeLocation: undefined })))).body).toMatchObject({ error: "location_required" });
    expect((await exchange(cryptoJs({ userId: "x" })))).toMatchObject({ status: 401, body: { error: "invalid_user_context" } });
  });

  it("answers bad bodies with 400s, never 5xx", async () => {
    const res = await app.request("/v1/auth/highlevel/actor", { method: "POST", headers: { "content-type": "text/plain" }, body: "not json" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_json" });
    const extra = await app.request("/v1/auth/highlevel/actor", { method: "POST", body: JSON.stringify({ encryptedData: "x", more: 1 }) });
    expect(extra.status).toBe(400);
    expect(await extra.json()).toMatchObject({ error: "validation_failed" });
  });

  it("answers the CORS preflight for any origin", async () => {
    const res = await app.request("/v1/auth/highlevel/actor", { method: "OPTIONS", headers: { origin: "https://crm.agency.example", "access-control-request-method": "POST" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("is 404 activity_not_configured without ACTIVITY_SIGNING_KEY", async () => {
    const { status, body } = await exchange(cryptoJs(agencyCtx()), { on: unconfigured });
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: "activity_not_configured" });
  });

  it("gives a token that opens nothing else: the API refuses it as a bearer", async () => {
    const { body } = await exchange(cryptoJs(agencyCtx()));
    const res = await app.request("/v1/me", { headers: { authorization: `Bearer ${body.token as string}` } });
    expect(res.status).toBe(401);
  });
});
