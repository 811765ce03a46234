/**
 * Single sign-on from the CRM's Custom Page, on real parts (MariaDB, the MongoDB-compatible server) through the
 * backend's HTTP app: payloads are made with crypto-js, as the CRM makes them; the session token then opens the
 * API exactly as far as the user's role, company and location allow.
 */
import { randomBytes } from "node:crypto";
import CryptoJS from "crypto-js";
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../src/api/app.ts";
import { mintToken } from "../src/api/auth.ts";
import { sessionKeys } from "../src/api/session.ts";
import { locations, sites, tenants, userLocations, users } from "../src/config/schema.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { ensureIndexes } from "../src/store/mongo.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeUser } from "../../scripts/testing/principals.ts";

const SHARED = "hl-shared-secret-" + randomBytes(8).toString("hex");
const JWT = randomBytes(32).toString("base64url");
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let app: Hono;
let autoApp: Hono;
const A = { id: crypto.randomUUID(), company: `co-a-${randomBytes(3).toString("hex")}` };
const B = { id: crypto.randomUUID(), company: `co-b-${randomBytes(3).toString("hex")}` };
const loc = { a1: crypto.randomUUID(), a2: crypto.randomUUID(), b1: crypto.randomUUID() };
const site = { a1: crypto.randomUUID(), a2: crypto.randomUUID(), b1: crypto.randomUUID() };

type Json = Record<string, unknown>;
const payload = (ctx: Json, secret = SHARED) => CryptoJS.AES.encrypt(JSON.stringify(ctx), secret).toString();
async function exchange(encryptedData: unknown, on = app): Promise<{ status: number; body: Json }> {
  const res = await on.request("/v1/auth/highlevel", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ encryptedData }) });
  return { status: res.status, body: (await res.json()) as Json };
}
async function get(token: string, path: string): Promise<{ status: number; body: Json }> {
  const res = await app.request(`/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Json };
}
const agencyCtx = (over: Json = {}) => ({ userId: "hl-agency-1", companyId: A.company, role: "admin", type: "agency", userName: "Ada Admin", email: "ada@agency-a.example", ...over });
const locationCtx = (over: Json = {}) => ({ userId: "hl-loc-1", companyId: A.company, role: "user", type: "location", userName: "Lou Location", email: "lou@client-a1.example", activeLocation: "hl-loc-a1", ...over });

beforeAll(async () => {
  maria = await testMariadb("sso");
  mongo = await testMongo("sso");
  await ensureIndexes(mongo.db);
  await maria.db.insert(tenants).values([
    { id: A.id, name: "Agency A", externalId: A.company },
    { id: B.id, name: "Agency B", externalId: B.company },
  ]);
  await maria.db.insert(locations).values([
    { id: loc.a1, tenantId: A.id, name: "A1 Plumbing", externalId: "hl-loc-a1", timezone: "Europe/London" },
    { id: loc.a2, tenantId: A.id, name: "A2 Dental", externalId: "hl-loc-a2" },
    { id: loc.b1, tenantId: B.id, name: "B1", externalId: "hl-loc-b1" },
  ]);
  await maria.db.insert(sites).values([
    { id: site.a1, tenantId: A.id, locationId: loc.a1, name: "a1", domain: "a1.example", siteKey: `sk_${randomBytes(6).toString("hex")}` },
    { id: site.a2, tenantId: A.id, locationId: loc.a2, name: "a2", domain: "a2.example", siteKey: `sk_${randomBytes(6).toString("hex")}` },
    { id: site.b1, tenantId: B.id, locationId: loc.b1, name: "b1", domain: "b1.example", siteKey: `sk_${randomBytes(6).toString("hex")}` },
  ]);
  const session = await sessionKeys();
  const base = { db: mongo.db, configDb: maria.db, internalToken: randomBytes(32).toString("hex"), log: () => {}, metrics: createMetrics(mongo.db), edgeUrl: "https://edge.test" };
  app = createApi({ ...base, auth: { hs256Secret: JWT, session }, sso: { sharedSecret: SHARED, autoCreateTenants: false } });
  autoApp = createApi({ ...base, auth: { hs256Secret: JWT, session }, sso: { sharedSecret: SHARED, autoCreateTenants: true } });
});
afterAll(async () => {
  await maria.drop();
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("POST /v1/auth/highlevel", () => {
  it("signs in an agency user of a known company, provisioning it, with a token of at most 15 minutes that sees every location", async () => {
    const { status, body } = await exchange(payload(agencyCtx()));
    expect(status).toBe(200);
    expect(Date.parse(body.expiresAt as string) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    expect(body.user).toMatchObject({ tenantId: A.id, role: "agency", email: "ada@agency-a.example", name: "Ada Admin", sessionLocationId: null });
    const [row] = await maria.db.select().from(users).where(eq(users.externalId, "hl-agency-1"));
    expect(row).toMatchObject({ tenantId: A.id, role: "agency", name: "Ada Admin" });
    const me = await get(body.token as string, "/me");
    expect(me.body).toMatchObject({ tenantName: "Agency A", role: "agency", sessionLocationId: null, edgeUrl: "https://edge.test" });
    expect((me.body.locations as { id: string }[]).map((l) => l.id).sort()).toEqual([loc.a1, loc.a2].sort());
    expect((me.body.sites as { id: string }[]).map((s) => s.id).sort()).toEqual([site.a1, site.a2].sort());
    // signing in again finds the same user
    const again = await exchange(payload(agencyCtx()));
    expect((again.body.user as Json).userId).toBe((body.user as Json).userId);
  });

  it("scopes an agency user opened inside a location to that location for the session", async () => {
    const { body } = await exchange(payload(agencyCtx({ activeLocation: "hl-loc-a2" })));
    const token = body.token as string;
    const me = await get(token, "/me");
    expect(me.body).toMatchObject({ role: "agency", sessionLocationId: loc.a2 });
    expect((me.body.locations as { id: string }[]).map((l) => l.id)).toEqual([loc.a2]);
    expect((me.body.sites as { id: string }[]).map((s) => s.id)).toEqual([site.a2]);
    expect((await get(token, `/sites/${site.a1}`)).status).toBe(404);
    expect((await get(token, `/locations/${loc.a1}`)).status).toBe(404);
    expect((await get(token, `/leads?locationId=${loc.a1}`)).status).toBe(404);
    // tenant-wide actions need the agency-level page
    expect((await get(token, "/users")).status).toBe(403);
  });

  it("signs in a location user into its own location only, as a member of it", async () => {
    const { status, body } = await exchange(payload(locationCtx()));
    expect(status).toBe(200);
    const token = body.token as string;
    const me = await get(token, "/me");
    expect(me.body).toMatchObject({ role: "location", sessionLocationId: loc.a1 });
    expect((me.body.locations as { id: string; timezone: string }[])).toEqual([{ id: loc.a1, name: "A1 Plumbing", timezone: "Europe/London" }]);
    expect((await get(token, `/sites/${site.a2}`)).status).toBe(404);
    expect((await get(token, `/sites/${site.b1}`)).status).toBe(404);
    expect((await get(token, `/sites/${site.a2}/install-status`)).status).toBe(404);
    expect((await get(token, `/sites/${site.a1}/install-status`)).body).toEqual({ siteId: site.a1, lastEventAt: null, eventsLast15m: 0, installed: false });
    const [user] = await maria.db.select().from(users).where(eq(users.externalId, "hl-loc-1"));
    expect(await maria.db.select().from(userLocations).where(eq(userLocations.userId, user!.id))).toMatchObject([{ locationId: loc.a1 }]);
  });

  it("keeps the role in step with the CRM on every sign-in", async () => {
    await exchange(payload(locationCtx({ userId: "hl-mover", email: "mover@a.example" })));
    const row = async () => (await maria.db.select().from(users).where(eq(users.externalId, "hl-mover")))[0]!;
    expect((await row()).role).toBe("location");
    const promoted = await exchange(payload(agencyCtx({ userId: "hl-mover", email: "mover@a.example" })));
    expect((await row()).role).toBe("agency");
    expect((await get(promoted.body.token as string, "/users")).status).toBe(200);
    const demoted = await exchange(payload(locationCtx({ userId: "hl-mover", email: "mover@a.example" })));
    expect((await row()).role).toBe("location");
    expect((await get(demoted.body.token as string, "/users")).status).toBe(403);
  });

  it("links a user created through the API before its first sign-in, by email within the tenant", async () => {
    const made = await makeUser(maria.db, JWT, { tenantId: A.id, role: "agency" });
    const email = `${made.userId}@users.test`;
    const { body } = await exchange(payload(agencyCtx({ userId: "hl-linked", email })));
    expect((body.user as Json).userId).toBe(made.userId);
  });

  it.each([
    ["a payload encrypted with another secret", () => payload(agencyCtx(), "not-the-apps-secret"), "invalid_payload"],
    ["a tampered payload", () => {
      const raw = Buffer.from(payload(agencyCtx()), "base64");
      raw[raw.length - 1]! ^= 0x55;
      return raw.toString("base64");
    }, "invalid_payload"],
    ["a payload that is not JSON", () => CryptoJS.AES.encrypt("hello", SHARED).toString(), "invalid_payload"],
    ["a context without an email", () => payload(agencyCtx({ email: undefined })), "invalid_user_context"],
    ["a context of an unknown kind of user", () => payload(agencyCtx({ type: "superuser" })), "invalid_user_context"],
    ["an unknown company", () => payload(agencyCtx({ companyId: "no-such-company" })), "unknown_company"],
    ["a location user whose location belongs to another company", () => payload(locationCtx({ activeLocation: "hl-loc-b1" })), "location_not_in_company"],
    ["a location user without a location", () => payload(locationCtx({ activeLocation: undefined })), "location_required"],
  ])("refuses %s with 401 and a named error", async (_name, make, error) => {
    const { status, body } = await exchange(make());
    expect(status).toBe(401);
    expect(body).toMatchObject({ error, message: expect.any(String) });
  });

  it("answers 400 to a body without encryptedData", async () => {
    const res = await app.request("/v1/auth/highlevel", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ payload: "x" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "validation_failed" });
  });

  it("creates the tenant and location of an unknown company when set to auto-create", async () => {
    const company = `co-new-${randomBytes(3).toString("hex")}`;
    const { status, body } = await exchange(payload(locationCtx({ companyId: company, activeLocation: "hl-new-loc", userId: "hl-new-user" })), autoApp);
    expect(status).toBe(200);
    const [tenant] = await maria.db.select().from(tenants).where(eq(tenants.externalId, company));
    expect(tenant).toBeDefined();
    expect((body.user as Json).tenantId).toBe(tenant!.id);
    expect(await maria.db.select().from(locations).where(eq(locations.tenantId, tenant!.id))).toMatchObject([{ externalId: "hl-new-loc" }]);
  });

  it("leaves the API clients' bearer tokens working beside sessions", async () => {
    const made = await makeUser(maria.db, JWT, { tenantId: B.id, role: "agency" });
    const me = await get(made.token, "/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ tenantId: B.id, sessionLocationId: null });
    expect((me.body.sites as { id: string }[]).map((s) => s.id)).toEqual([site.b1]);
    expect((await get(await mintToken(JWT, { sub: made.userId }, "1h"), "/leads")).status).toBe(200);
  });
});
