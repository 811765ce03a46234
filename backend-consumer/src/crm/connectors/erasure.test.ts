/** The connectors' erasure, against a stub fetch: the requests they make and how they read the answers. */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { connector as highlevel } from "./highlevel.ts";
import { connector as hubspot } from "./hubspot.ts";
import { erasureFailureOf, erasureNetworkFailure, type ConnectionProvider, type DestinationContext, type ErasureItem } from "./types.ts";
import { connector as webhook, erasureBody } from "./webhook.ts";

const EMAIL = "ada.lovelace@example.com";
const item: ErasureItem = { deliveryId: "lead-1.erased", leadId: "lead-1", externalId: "1001", at: new Date("2026-11-29T12:00:00Z") };

interface Seen {
  url: string;
  init: RequestInit;
}

/** A fetch answering from a list, recording what was asked. */
function stub(...answers: (Response | Error)[]): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      const next = answers.shift();
      if (!next) throw new Error("no more answers");
      if (next instanceof Error) throw next;
      return next;
    }) as unknown as typeof fetch,
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function context(f: typeof fetch, extra: Partial<DestinationContext> = {}): DestinationContext {
  return { id: "dest-1", tenantId: "t", locationId: "loc-1", config: { baseUrl: "https://crm.example/", url: "https://hooks.example/in" }, secret: "pat-na1-abc", fetch: f, timeoutMs: 1000, ...extra };
}

describe("types: erasure failures", () => {
  it("reads the status and Retry-After, never the body", () => {
    const failure = erasureFailureOf(json(429, { message: `contact ${EMAIL} is busy` }, { "retry-after": "7" }));
    expect(failure).toEqual({ ok: false, reason: "http", status: 429, retryable: true, retryAfterMs: 7000 });
    expect(erasureFailureOf(json(400, {}))).toMatchObject({ status: 400, retryable: false });
    expect(erasureFailureOf(json(401, {}))).toMatchObject({ status: 401, retryable: true });
    expect(JSON.stringify(failure)).not.toContain(EMAIL);
  });

  it("tells a timeout from another network failure, without its text", () => {
    expect(erasureNetworkFailure(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toEqual({ ok: false, reason: "timeout", status: null, retryable: true });
    expect(erasureNetworkFailure(new TypeError(`fetch failed for ${EMAIL}`))).toEqual({ ok: false, reason: "network", status: null, retryable: true });
  });
});

describe("webhook erasure", () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;

  it("POSTs a signed lead.deleted with erased: true and no personal data, under <lead id>.erased", async () => {
    const { fetch: f, seen } = stub(new Response(null, { status: 204 }));
    expect(await webhook.erasure!.erase(item, context(f, { secret }))).toEqual({ ok: true });
    const [req] = seen;
    expect(req!.url).toBe("https://hooks.example/in");
    const headers = req!.init.headers as Record<string, string>;
    expect(headers["webhook-id"]).toBe("lead-1.erased");
    const body = new Webhook(secret).verify(req!.init.body as string, headers) as Record<string, unknown>;
    expect(body).toEqual({ type: "lead.deleted", timestamp: expect.any(String), data: { lead: { id: "lead-1", deleted: true, erased: true } } });
    expect(webhook.erasure).toMatchObject({ always: true, needsExternalId: false });
  });

  it("erasureBody carries the lead id only", () => {
    expect(JSON.parse(erasureBody({ ...item, externalId: EMAIL }, item.at))).toEqual({ type: "lead.deleted", timestamp: item.at.toISOString(), data: { lead: { id: "lead-1", deleted: true, erased: true } } });
  });

  it("a failing receiver is retried", async () => {
    const { fetch: f } = stub(json(503, { error: EMAIL }), new TypeError("fetch failed"));
    expect(await webhook.erasure!.erase(item, context(f, { secret }))).toEqual({ ok: false, reason: "http", status: 503, retryable: true });
    expect(await webhook.erasure!.erase(item, context(f, { secret }))).toEqual({ ok: false, reason: "network", status: null, retryable: true });
  });
});

describe("HubSpot erasure (GDPR delete)", () => {
  it("POSTs { objectId } to /crm/v3/objects/contacts/gdpr-delete with the private app's token", async () => {
    const { fetch: f, seen } = stub(new Response(null, { status: 204 }));
    expect(await hubspot.erasure!.erase(item, context(f))).toEqual({ ok: true });
    expect(seen[0]!.url).toBe("https://crm.example/crm/v3/objects/contacts/gdpr-delete");
    expect(seen[0]!.init.method).toBe("POST");
    expect(JSON.parse(seen[0]!.init.body as string)).toEqual({ objectId: "1001" });
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer pat-na1-abc");
  });

  it("counts 404 as already gone, and reads other failures by status only", async () => {
    const { fetch: f } = stub(
      json(404, { status: "error", category: "OBJECT_NOT_FOUND", message: "resource not found" }),
      json(500, { status: "error", message: `could not delete ${EMAIL}` }),
      json(400, { status: "error", message: `invalid ${EMAIL}` }),
    );
    expect(await hubspot.erasure!.erase(item, context(f))).toEqual({ ok: true, gone: true });
    const failures = [await hubspot.erasure!.erase(item, context(f)), await hubspot.erasure!.erase(item, context(f))];
    expect(failures).toEqual([
      { ok: false, reason: "http", status: 500, retryable: true },
      { ok: false, reason: "http", status: 400, retryable: false },
    ]);
    expect(JSON.stringify(failures)).not.toContain(EMAIL);
  });

  it("sends nothing without a contact id", async () => {
    const { fetch: f, seen } = stub();
    expect(await hubspot.erasure!.erase({ ...item, externalId: null }, context(f))).toMatchObject({ ok: false, retryable: false });
    expect(seen).toEqual([]);
  });
});

describe("HighLevel erasure (Delete Contact)", () => {
  /** Tokens that change on each forced refresh. */
  function tokens(): ConnectionProvider & { refreshes: number } {
    let n = 0;
    return {
      refreshes: 0,
      async accessToken(_provider, _location, opts) {
        if (opts?.forceRefresh) {
          n++;
          this.refreshes++;
        }
        return { token: `tok-${n}`, externalLocationId: "hl-loc" };
      },
    };
  }

  it("DELETEs /contacts/:id with the location's token and Version 2021-07-28", async () => {
    const { fetch: f, seen } = stub(json(200, { succeded: true }));
    expect(await highlevel.erasure!.erase({ ...item, externalId: "hl/contact 1" }, context(f, { connections: tokens() }))).toEqual({ ok: true });
    expect(seen[0]!.url).toBe("https://crm.example/contacts/hl%2Fcontact%201");
    expect(seen[0]!.init.method).toBe("DELETE");
    expect(seen[0]!.init.headers).toMatchObject({ authorization: "Bearer tok-0", version: "2021-07-28" });
  });

  it("refreshes the token once after a 401", async () => {
    const connections = tokens();
    const { fetch: f, seen } = stub(json(401, { statusCode: 401, message: "Invalid token", error: "Unauthorized" }), json(200, { succeded: true }));
    expect(await highlevel.erasure!.erase(item, context(f, { connections }))).toEqual({ ok: true });
    expect(connections.refreshes).toBe(1);
    expect((seen[1]!.init.headers as Record<string, string>).authorization).toBe("Bearer tok-1");
  });

  it("counts 404 and a 400 'contact not found' as already gone; other failures by status only", async () => {
    const { fetch: f } = stub(
      json(404, { statusCode: 404, message: "Contact not found" }),
      json(400, { statusCode: 400, message: "Contact not found" }),
      json(400, { statusCode: 400, message: `Bad request for ${EMAIL}` }),
      json(422, { statusCode: 422, message: [EMAIL], error: "Unprocessable Entity" }),
      json(200, { succeded: false }),
    );
    const ctx = context(f, { connections: tokens() });
    expect(await highlevel.erasure!.erase(item, ctx)).toEqual({ ok: true, gone: true });
    expect(await highlevel.erasure!.erase(item, ctx)).toEqual({ ok: true, gone: true });
    const failures = [await highlevel.erasure!.erase(item, ctx), await highlevel.erasure!.erase(item, ctx), await highlevel.erasure!.erase(item, ctx)];
    expect(failures).toEqual([
      { ok: false, reason: "http", status: 400, retryable: false },
      { ok: false, reason: "http", status: 422, retryable: false },
      { ok: false, reason: "http", status: 200, retryable: true },
    ]);
    expect(JSON.stringify(failures)).not.toContain(EMAIL);
  });

  it("a location without a connection waits (retried), and sends nothing", async () => {
    const { fetch: f, seen } = stub();
    const none: ConnectionProvider = { accessToken: async () => null };
    expect(await highlevel.erasure!.erase(item, context(f, { connections: none }))).toEqual({ ok: false, reason: "not_connected", status: null, retryable: true, retryAfterMs: 60_000 });
    expect(seen).toEqual([]);
  });
});
