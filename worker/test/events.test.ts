import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_REQUEST_BYTES, type QueueMessage } from "#contracts";
import { makeEvent, PAGE_ORIGIN, postEvents, putSites, siteConfig, spyOnQueue, call } from "./helpers.ts";

beforeEach(async () => {
  await putSites(siteConfig("site-a"), siteConfig("a"), siteConfig("shop", { allowedOrigins: ["https://shop.example"] }));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("POST /v1/events", () => {
  it("accepts a text/plain batch (sendBeacon, preflight-free fetch) and enqueues one message for the request", async () => {
    const send = spyOnQueue();
    const events = [makeEvent(), makeEvent({ type: "track", name: "signup" })];
    const res = await postEvents({ siteKey: "site-a", events });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, rejected: [] });
    expect(send).toHaveBeenCalledTimes(1);
    const [message, options] = send.mock.calls[0]!;
    expect(options).toEqual({ contentType: "json" });
    const msg = message as QueueMessage;
    expect(msg.v).toBe(1);
    expect(msg.siteId).toBe("site-a-id");
    expect(msg.retentionDays).toBe(30);
    expect(msg.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(msg.receivedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it("accepts application/json", async () => {
    const send = spyOnQueue();
    const res = await postEvents({ siteKey: "site-a", events: [makeEvent()] }, { "content-type": "application/json; charset=utf-8", origin: PAGE_ORIGIN });
    expect(res.status).toBe(202);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("keeps the valid events beside invalid ones and names each rejected index", async () => {
    const send = spyOnQueue();
    const good = makeEvent();
    const res = await postEvents({ siteKey: "site-a", events: [{ type: "page_view" }, good, makeEvent({ id: "not-a-uuid" })] });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; error: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => r.index)).toEqual([0, 2]);
    expect(body.rejected[1]!.error).toMatch(/^id:/);
    expect((send.mock.calls[0]![0] as QueueMessage).events.map((e) => e.id)).toEqual([good.id]);
  });

  it("rejects a single event over 32 KB without losing the rest", async () => {
    const send = spyOnQueue();
    const big = makeEvent({ props: { blob: "x".repeat(33 * 1024) } });
    const res = await postEvents({ siteKey: "site-a", events: [big, makeEvent()] });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; error: string }[] };
    expect(body).toMatchObject({ accepted: 1, rejected: [{ index: 0 }] });
    expect(body.rejected[0]!.error).toMatch(/32768 bytes/);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("drops a repeated event id inside one batch", async () => {
    const e = makeEvent();
    const res = await postEvents({ siteKey: "site-a", events: [e, e] });
    expect(await res.json()).toEqual({ accepted: 1, rejected: [{ index: 1, reason: "duplicate_id", error: "duplicate event id in batch" }] });
  });

  it("anonymises the client address and forwards the user agent", async () => {
    const send = spyOnQueue();
    await postEvents(
      { siteKey: "site-a", events: [makeEvent()] },
      { "content-type": "text/plain", "cf-connecting-ip": "203.0.113.77", "user-agent": "TestAgent/1.0", origin: PAGE_ORIGIN },
    );
    const msg = send.mock.calls[0]![0] as QueueMessage;
    expect(msg.ip).toBe("203.0.113.0");
    expect(msg.ua).toBe("TestAgent/1.0");
    expect(JSON.stringify(msg)).not.toContain("203.0.113.77");
  });

  describe("bad input gets a JSON 4xx and enqueues nothing", () => {
    const cases: [string, () => Promise<Response>, number, string][] = [
      ["malformed JSON", () => postEvents('{"siteKey":"a","events":[', { "content-type": "text/plain" }), 400, "invalid_json"],
      ["a body that is not an envelope", () => postEvents([makeEvent()]), 400, "invalid_batch"],
      ["a missing site key", () => postEvents({ events: [makeEvent()] }), 400, "invalid_batch"],
      ["an empty batch", () => postEvents({ siteKey: "a", events: [] }), 400, "empty_batch"],
      ["more than 50 events", () => postEvents({ siteKey: "a", events: Array.from({ length: 51 }, () => makeEvent()) }), 400, "too_many_events"],
      ["a batch where every event is invalid", () => postEvents({ siteKey: "a", events: [{}, { id: 1 }] }), 400, "no_valid_events"],
      ["an unsupported content type", () => postEvents({ siteKey: "a", events: [makeEvent()] }, { "content-type": "application/xml" }), 415, "unsupported_media_type"],
      [
        "a body over 64 KB",
        () => postEvents({ siteKey: "a", events: [makeEvent({ props: { pad: "y".repeat(MAX_REQUEST_BYTES) } })] }),
        413,
        "payload_too_large",
      ],
      [
        "a body over 64 KB sent without Content-Length (streamed)",
        () => {
          const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
          let sent = 0;
          const body = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent++ < 6) controller.enqueue(chunk);
              else controller.close();
            },
          });
          return call("/v1/events", { method: "POST", body, headers: { "content-type": "text/plain" } });
        },
        413,
        "payload_too_large",
      ],
    ];

    it.each(cases)("%s", async (_name, request, status, code) => {
      const send = spyOnQueue();
      const res = await request();
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(((await res.json()) as { error: string }).error).toBe(code);
      expect(send).not.toHaveBeenCalled();
    });
  });

  it("refuses an unknown or inactive site key with 401", async () => {
    const send = spyOnQueue();
    const res = await postEvents({ siteKey: "no-such-site", events: [makeEvent()] });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "unknown_site" });
    expect(send).not.toHaveBeenCalled();
  });

  it("refuses an origin outside the site's allowlist with 403, and accepts an allowed one", async () => {
    const send = spyOnQueue();
    const body = { siteKey: "shop", events: [makeEvent()] };
    const denied = await postEvents(body, { "content-type": "text/plain", origin: "https://evil.example" });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: "origin_not_allowed" });
    expect(denied.headers.get("access-control-allow-origin")).toBe("https://evil.example");
    expect(send).not.toHaveBeenCalled();
    const allowed = await postEvents(body, { "content-type": "text/plain", origin: "https://shop.example" });
    expect(allowed.status).toBe(202);
  });

  it("refuses a request without Origin (not a browser) unless it carries one of the site's secret keys", async () => {
    const secret = "sks_test-secret-of-the-server";
    const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    await putSites(siteConfig("server-site", { allowedOrigins: ["https://shop.example"], serverKeyHashes: [hash] }));
    const send = spyOnQueue();
    const body = { siteKey: "server-site", events: [makeEvent()] };
    const bare = await postEvents(body, { "content-type": "text/plain" });
    expect(bare.status).toBe(403);
    expect(await bare.json()).toMatchObject({ error: "origin_required" });
    const wrongKey = await postEvents(body, { "content-type": "text/plain", authorization: "Bearer sks_guess" });
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.json()).toMatchObject({ error: "invalid_server_key" });
    // the public site key is no secret: naming it as one changes nothing
    expect((await postEvents(body, { "content-type": "text/plain", authorization: "Bearer server-site" })).status).toBe(401);
    expect(send).not.toHaveBeenCalled();
    const server = await postEvents(body, { "content-type": "text/plain", authorization: `Bearer ${secret}` });
    expect(server.status).toBe(202);
    // and the hashes never reach a browser
    expect(await (await call("/s/server-site.js")).text()).not.toContain(hash);
    expect(await (await call("/v1/config/server-site")).json()).not.toHaveProperty("serverKeyHashes");
  });

  it("rate-limits one client of a site with 429 and a Retry-After the page can read", async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    // The limiter counts in fixed 10 s windows of 120 requests; 250 requests overflow a window even across a boundary.
    for (let i = 0; i < 250 && !limited; i++) {
      const res = await postEvents(
        { siteKey: "site-a", events: [makeEvent()] },
        { "content-type": "text/plain", "cf-connecting-ip": "198.51.100.9", origin: "https://x.example" },
      );
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(limited).toBeDefined();
    expect(statuses.filter((s) => s !== 202 && s !== 429)).toEqual([]);
    expect(limited!.headers.get("retry-after")).toBe("10");
    expect(limited!.headers.get("access-control-expose-headers")).toContain("Retry-After");
    expect(await limited!.json()).toMatchObject({ error: "rate_limited", retryAfter: 10 });
    // Another client of the same site is not affected.
    const other = await postEvents({ siteKey: "site-a", events: [makeEvent()] }, { "content-type": "text/plain", "cf-connecting-ip": "198.51.100.10", origin: PAGE_ORIGIN });
    expect(other.status).toBe(202);
  });

  describe("limits that one client cannot turn against a site", () => {
    const from = (ip: string, origin = PAGE_ORIGIN) => ({ "content-type": "text/plain", "cf-connecting-ip": ip, origin });
    /** Posts until the first 429 (at most `max` times); fixed windows mean `max` must exceed two windows' limit. */
    async function untilLimited(max: number, next: (i: number) => Promise<Response>): Promise<{ passed: number; limited?: Response }> {
      let passed = 0;
      for (let i = 0; i < max; i++) {
        const res = await next(i);
        if (res.status === 429) return { passed, limited: res };
        passed++;
      }
      return { passed };
    }

    it("keys an IPv6 client by its /64, so rotating addresses inside it buys nothing", async () => {
      const { limited } = await untilLimited(250, (i) =>
        postEvents({ siteKey: "site-a", events: [makeEvent()] }, from(`2001:db8:77:1:${(i + 1).toString(16)}::${i.toString(16)}`)),
      );
      expect(limited?.status).toBe(429);
      expect(limited!.headers.get("retry-after")).toBe("10");
      // the next /64 is someone else
      expect((await postEvents({ siteKey: "site-a", events: [makeEvent()] }, from("2001:db8:77:2::1"))).status).toBe(202);
    });

    it("limits a client flooding unknown site keys before any of them costs a KV read", async () => {
      const get = vi.spyOn(env.CONFIG, "get");
      const { passed, limited } = await untilLimited(700, (i) =>
        postEvents({ siteKey: `nope-${i}`, events: [makeEvent()] }, from("203.0.113.50")),
      );
      expect(limited?.status).toBe(429);
      expect(await limited!.json()).toMatchObject({ error: "rate_limited", retryAfter: 10 });
      expect(limited!.headers.get("retry-after")).toBe("10");
      // every request that got through cost one read; the refused one cost none
      expect(passed).toBeGreaterThanOrEqual(300);
      expect(get).toHaveBeenCalledTimes(passed);
    });

    it("spends a site's budget only on requests with accepted events, and one client spends at most its own share", async () => {
      const site = vi.spyOn(env.SITE_RATE_LIMITER, "limit");
      // empty, fully rejected and wrongly-originated batches are refused without touching the site's budget
      expect((await postEvents({ siteKey: "shop", events: [] }, from("192.0.2.7", "https://shop.example"))).status).toBe(400);
      expect((await postEvents({ siteKey: "shop", events: [{ type: "nope" }] }, from("192.0.2.7", "https://shop.example"))).status).toBe(400);
      expect((await postEvents({ siteKey: "shop", events: [makeEvent()] }, from("192.0.2.7", "https://elsewhere.example"))).status).toBe(403);
      expect(site).not.toHaveBeenCalled();
      // one client hammering the site is stopped by its own per-site limit (120 a window, 2.4% of the site's 5,000)
      const { passed, limited } = await untilLimited(400, () => postEvents({ siteKey: "shop", events: [makeEvent()] }, from("192.0.2.7", "https://shop.example")));
      expect(limited?.status).toBe(429);
      expect(passed).toBeLessThanOrEqual(240);
      expect(site).toHaveBeenCalledTimes(passed);
      // so the site's real visitors are still served
      expect((await postEvents({ siteKey: "shop", events: [makeEvent()] }, from("192.0.2.8", "https://shop.example"))).status).toBe(202);
    });

    it("caps the leads one client can create on a site at 60 a minute, with a Retry-After of a minute", async () => {
      const submission = () => makeEvent({ type: "form_submission", form: { formId: "f", fields: { email: `p${crypto.randomUUID()}@x.example` } } });
      const { passed, limited } = await untilLimited(4, () =>
        postEvents({ siteKey: "site-a", events: Array.from({ length: 50 }, submission) }, from("198.51.100.77")),
      );
      expect(limited?.status).toBe(429);
      expect(passed).toBeLessThanOrEqual(2);
      expect(limited!.headers.get("retry-after")).toBe("60");
      expect(await limited!.json()).toMatchObject({ error: "rate_limited", retryAfter: 60 });
      // page views from the same client are not leads: they still go through
      expect((await postEvents({ siteKey: "site-a", events: [makeEvent()] }, from("198.51.100.77"))).status).toBe(202);
    });
  });

  it("answers 503 with Retry-After when the queue refuses the message", async () => {
    spyOnQueue().mockRejectedValueOnce(new Error("queue down"));
    const res = await postEvents({ siteKey: "a", events: [makeEvent()] });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ error: "queue_unavailable" });
  });

  it("answers a CORS preflight for JSON posts from any page", async () => {
    const res = await call("/v1/events", {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });
});
