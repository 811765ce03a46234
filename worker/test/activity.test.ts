import { env } from "cloudflare:workers";
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ACTOR_TOKEN_AUDIENCE, ACTOR_TOKEN_ISSUER, ACTOR_TOKEN_KID, type ActivityQueueMessage } from "#contracts";
import worker from "../src/index.ts";
import { ORIGIN, spyOnQueue } from "./helpers.ts";

let privateKey: CryptoKey;
let publicPem: string;
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair("EdDSA", { extractable: true });
  privateKey = pair.privateKey;
  publicPem = await exportSPKI(pair.publicKey);
  otherKey = (await generateKeyPair("EdDSA")).privateKey;
});

afterEach(() => {
  vi.restoreAllMocks();
});

const claims = { ten: "tenant-a", loc: "loc-a1", role: "location", tz: "Europe/Berlin", ret: 90 };

async function token(opts: { key?: CryptoKey; sub?: string; aud?: string; iat?: number; exp?: number; extra?: Record<string, unknown> } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, ...opts.extra })
    .setProtectedHeader({ alg: "EdDSA", kid: ACTOR_TOKEN_KID })
    .setSubject(opts.sub ?? "user-1")
    .setIssuer(ACTOR_TOKEN_ISSUER)
    .setAudience(opts.aud ?? ACTOR_TOKEN_AUDIENCE)
    .setIssuedAt(opts.iat ?? now)
    .setExpirationTime(opts.exp ?? now + 3600)
    .sign(opts.key ?? privateKey);
}

function activityEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "view", id: crypto.randomUUID(), ts: Date.now(), session: "s-1", view: "v-1", path: "/v2/location/:locationId/contacts", page: "Contacts", ...over };
}

async function post(body: unknown, opts: { configured?: boolean; headers?: Record<string, string> } = {}): Promise<Response> {
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const vars = { ...env, ACTIVITY_TOKEN_PUBLIC_KEY: opts.configured === false ? "" : publicPem } as unknown as Env;
  const init = { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: opts.headers ?? { "content-type": "text/plain", origin: "https://app.gohighlevel.com" } };
  return worker.fetch(new Request(`${ORIGIN}/v1/activity`, init) as Request<unknown, IncomingRequestCfProperties>, vars, ctx);
}

describe("POST /v1/activity", () => {
  it("stamps the actor from the verified token, and ignores who the body claims to be", async () => {
    const send = spyOnQueue();
    const events = [activityEvent(), activityEvent({ type: "time", ms: 1500 })];
    const forged = { userId: "someone-else", tenantId: "tenant-b", locationId: "loc-b1", role: "agency", actor: { userId: "someone-else" } };
    const res = await post({ token: await token(), sentAt: Date.now(), events, ...forged });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, rejected: [] });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const message = send.mock.calls[0]![0] as ActivityQueueMessage;
    expect(message).toMatchObject({ v: 1, kind: "activity" });
    expect(message.actor).toEqual({ userId: "user-1", tenantId: "tenant-a", locationId: "loc-a1", role: "location", timezone: "Europe/Berlin", retentionDays: 90 });
    expect(message.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(JSON.stringify(message)).not.toContain("someone-else");
  });

  it("normalises paths again and names pages itself: a client that is not the script cannot store an id, an email or a query", async () => {
    const send = spyOnQueue();
    const raw = activityEvent({ path: "/v2/location/ve9EPM428h8vShlRW1KT/contacts/detail/jane.doe@example.com?phone=5551234567#x", page: "Jane Doe" });
    const res = await post({ token: await token(), events: [raw, activityEvent({ path: "/v2/location/:locationId/conversations", page: "whatever I say" })] });
    expect(res.status).toBe(202);
    const [first, second] = (send.mock.calls[0]![0] as ActivityQueueMessage).events;
    expect(first).toMatchObject({ path: "/v2/location/:locationId/contacts/detail/:id", page: "Contacts" });
    expect(second).toMatchObject({ path: "/v2/location/:locationId/conversations", page: "Conversations" });
    expect(JSON.stringify(send.mock.calls[0]![0])).not.toMatch(/jane|5551234567|ve9EPM|Jane Doe/);
  });

  it("refuses an event that carries actor fields of its own, and keeps the others", async () => {
    const send = spyOnQueue();
    const good = activityEvent();
    const res = await post({ token: await token(), events: [activityEvent({ userId: "someone-else" }), good, activityEvent({ type: "time", ms: 0 }), { ...good }] });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; reason: string; error: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => [r.index, r.reason])).toEqual([[0, "invalid"], [2, "invalid"], [3, "duplicate_id"]]);
    expect((send.mock.calls[0]![0] as ActivityQueueMessage).events.map((e) => e.id)).toEqual([good.id]);
  });

  it("answers 401 with a named error for a missing, expired, tampered or foreign token, and queues nothing", async () => {
    const send = spyOnQueue();
    const now = Math.floor(Date.now() / 1000);
    const valid = await token();
    const [h, p, s] = valid.split(".");
    const payload = JSON.parse(atob(p!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    const tamperedPayload = btoa(JSON.stringify({ ...payload, sub: "user-2", role: "agency" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const cases: [string, unknown, string][] = [
      ["no token", { events: [activityEvent()] }, "actor_token_missing"],
      ["empty token", { token: "", events: [activityEvent()] }, "actor_token_missing"],
      ["expired", { token: await token({ iat: now - 4000, exp: now - 400 }), events: [activityEvent()] }, "actor_token_expired"],
      ["tampered claims", { token: `${h}.${tamperedPayload}.${s}`, events: [activityEvent()] }, "actor_token_invalid"],
      ["another key", { token: await token({ key: otherKey }), events: [activityEvent()] }, "actor_token_invalid"],
      ["a dashboard session's audience", { token: await token({ aud: "lead-tracker:dashboard" }), events: [activityEvent()] }, "actor_token_invalid"],
      ["a lifetime we never issue", { token: await token({ exp: now + 86_400 }), events: [activityEvent()] }, "actor_token_invalid"],
      ["claims missing", { token: await token({ extra: { ten: undefined } }), events: [activityEvent()] }, "actor_token_invalid"],
      ["alg none", { token: `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${p}.`, events: [activityEvent()] }, "actor_token_invalid"],
      ["not a JWT", { token: "garbage", events: [activityEvent()] }, "actor_token_invalid"],
    ];
    for (const [name, body, error] of cases) {
      const res = await post(body);
      expect(res.status, name).toBe(401);
      expect(await res.json(), name).toMatchObject({ error });
    }
    expect(send).not.toHaveBeenCalled();
    // and a refused batch cost the next one nothing
    expect((await post({ token: valid, events: [activityEvent()] })).status).toBe(202);
  });

  it("answers 400 for bad batches and 404 when the edge has no verification key", async () => {
    expect(await (await post("{nope")).json()).toMatchObject({ error: "invalid_json" });
    const tooMany = await post({ token: await token(), events: Array.from({ length: 51 }, () => activityEvent()) });
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ error: "too_many_events", max: 50 });
    const none = await post({ token: await token(), events: [{ type: "view" }] });
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ error: "no_valid_events" });
    const unconfigured = await post({ token: await token(), events: [activityEvent()] }, { configured: false });
    expect(unconfigured.status).toBe(404);
    expect(await unconfigured.json()).toMatchObject({ error: "activity_not_configured" });
    const form = await post("token=x", { headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.status).toBe(415);
  });

  it("lets any origin send (the token is the credential)", async () => {
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const req = new Request(`${ORIGIN}/v1/activity`, { method: "OPTIONS", headers: { origin: "https://crm.white-label.example", "access-control-request-method": "POST" } });
    const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, env, ctx);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
