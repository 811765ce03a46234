/**
 * Fuzzing the ingest route with 10,000+ generated requests (seeded, so a failure reproduces): malformed bodies,
 * random JSON, oversized payloads, odd methods, paths and headers, and valid batches salted with invalid events.
 * Every answer must be a JSON 4xx or a 202 — never a 5xx — every valid event beside invalid ones must be enqueued,
 * and every event storage could not hold (NUL, empty and $ keys, nesting past the limit) refused with its reason.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { QueueMessage } from "#contracts";
import { call, makeEvent, putSites, siteConfig, spyOnQueue } from "./helpers.ts";
import { prng } from "../../scripts/testing/prng.ts";

const REQUESTS = 10_500;
const SITES = Array.from({ length: 12 }, (_, i) => `fuzz-${i}`);


const rand = prng(0xc0ffee);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const STRINGS = ["", " ", "null", "💥", "\u0000", "\u2028", "</script>", "a".repeat(5000), "__proto__", "constructor", "-1", "1e309", "x".repeat(70_000)];

/** Random JSON; `deepToo` adds values nested 50 to 3,000 levels deep. */
function junk(depth = 0, deepToo = true): unknown {
  switch (int(depth > 4 ? 6 : deepToo ? 9 : 8)) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick([0, -1, 1.5, Number.MAX_SAFE_INTEGER, 1e21, -0]);
    case 3: return pick(STRINGS.slice(0, 11));
    case 4: return int(1e9);
    case 5: return "s" + int(1e6);
    case 6: return Array.from({ length: int(4) }, () => junk(depth + 1, deepToo));
    case 7: return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(["id", "type", "ts", "__proto__", "constructor", "k" + int(9)]), junk(depth + 1, deepToo)]));
    default: return deep(50 + int(3000));
  }
}

function deep(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = rand() < 0.5 ? [v] : { a: v };
  return v;
}

/** What storage cannot hold, by the reason the edge must give. */
const POISON: [string, () => Record<string, unknown>][] = [
  ["nul_in_key", () => ({ props: { ["a\u0000" + int(9)]: 1 } })],
  ["empty_key", () => ({ traits: { nested: { "": "x" } } })],
  ["dollar_key", () => ({ props: { list: [{ ["$" + pick(["set", "where", "gt"])]: 1 }] } })],
  ["too_deep", () => ({ props: { d: deep(20 + int(3000)) } })],
];

/** An event that is invalid in one random way; `reason` when the edge must name it. */
function badEvent(): { event: unknown; reason?: string } {
  const e = makeEvent() as Record<string, unknown>;
  if (rand() < 0.3) {
    const [reason, make] = pick(POISON);
    return { event: { ...e, ...make() }, reason };
  }
  switch (int(9)) {
    case 0: delete e[pick(["id", "type", "ts", "sessionId", "visitorId"])]; break;
    case 1: e.id = pick(["", "not-a-uuid", 42, null]); break;
    case 2: e.type = pick(["pageview", "", 7, "PAGE_VIEW"]); break;
    case 3: e.ts = pick([-5, "now", 1.5, null, 0]); break;
    case 4: e.sessionId = "s".repeat(500); break;
    case 5: e.props = { blob: "x".repeat(40_000) }; break;
    case 6: e.page = { url: 5 }; break;
    case 7: e.form = { formId: "", fields: { a: 1 } }; break;
    default: return { event: junk() };
  }
  return { event: e };
}

type Case = {
  init: RequestInit & { headers: Record<string, string> };
  path: string;
  valid: string[];
  salted: boolean;
  /** Index in the batch → the reason the edge must refuse that event with. */
  poison: Map<number, string>;
};

function makeCase(): Case {
  const headers: Record<string, string> = {
    "content-type": pick(["text/plain", "application/json", "text/plain;charset=UTF-8", "application/json; charset=utf-8", "", "application/xml", "multipart/form-data", "TEXT/PLAIN"]),
    "cf-connecting-ip": `203.0.${int(256)}.${int(256)}`,
  };
  // browsers always send Origin: most requests do; some carry odd ones, and a few none (refused: not a browser)
  headers.origin = rand() < 0.7 ? "https://shop.example" : pick(["https://shop.example", "null", "https://evil.example", "", "https://x.example"]);
  if (rand() < 0.05) delete headers.origin;
  const siteKey = rand() < 0.95 ? pick(SITES) : pick(["", "nope", 42, null, "x".repeat(100)] as unknown[]);
  const kind = int(10);
  const path = kind === 9 ? pick(["/v1/events/", "/v1/events?x=1", "/v1/Events", "/v1/events/../events", "/v1/eventsx"]) : "/v1/events";
  const method = kind === 8 ? pick(["GET", "PUT", "DELETE", "PATCH", "HEAD"]) : "POST";
  let body: string | Uint8Array | undefined;
  const valid: string[] = [];
  const poison = new Map<number, string>();
  let salted = false;
  if (kind <= 2) {
    // A real batch with invalid events mixed in.
    const events = Array.from({ length: 1 + int(50) }, (_, index) => {
      if (rand() < 0.6) {
        const e = makeEvent(rand() < 0.3 ? { type: "track", name: "n" + int(9), props: { v: junk(2, false) } } : {});
        valid.push(e.id as string);
        return e;
      }
      salted = true;
      const bad = badEvent();
      if (bad.reason) poison.set(index, bad.reason);
      return bad.event;
    });
    body = JSON.stringify({ siteKey, events });
  } else if (kind === 3) {
    body = new Uint8Array(Array.from({ length: int(2000) }, () => int(256)));
  } else if (kind === 4) {
    body = JSON.stringify(junk());
  } else if (kind === 5) {
    body = JSON.stringify({ siteKey, events: Array.from({ length: pick([0, 51, 200]) }, () => makeEvent()) });
  } else if (kind === 6) {
    body = JSON.stringify({ siteKey, events: [makeEvent({ props: { pad: "p".repeat(70_000) } })] });
  } else if (kind === 7) {
    const text = JSON.stringify({ siteKey, events: [makeEvent()] });
    body = text.slice(0, int(text.length));
  }
  if (method === "GET" || method === "HEAD") body = undefined;
  return { init: { method, headers, body }, path, valid, salted, poison };
}

let send: ReturnType<typeof spyOnQueue>;

beforeAll(async () => {
  await putSites(...SITES.map((k) => siteConfig(k, { allowedOrigins: k.endsWith("1") ? ["https://shop.example"] : [] })));
  // Recorded, not delivered: 10,000 messages need not pile up in the local queue.
  send = spyOnQueue().mockResolvedValue(undefined as never);
});

afterAll(() => {
  vi.restoreAllMocks();
});

describe("ingest fuzzing", () => {
  it(`answers ${REQUESTS} generated requests with a JSON 4xx or a 202, and keeps every valid event`, async () => {
    const statuses = new Map<number, number>();
    let saltedAccepted = 0;
    let poisonRefused = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const c = makeCase();
      const before = send.mock.calls.length;
      const res = await call(c.path, c.init);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = await res.text();
      if (res.status >= 500 || (res.status !== 202 && (res.status < 400 || res.status >= 500))) {
        throw new Error(`request ${i} got ${res.status}: ${text.slice(0, 300)}\n${JSON.stringify(c.init.headers)} ${String(c.init.body).slice(0, 300)}`);
      }
      if (c.init.method !== "HEAD") expect(() => JSON.parse(text), `request ${i} body: ${text.slice(0, 100)}`).not.toThrow();
      if (res.status === 202) {
        const answer = JSON.parse(text) as { accepted: number; rejected: { index: number; reason: string }[] };
        const enqueued = (send.mock.calls.slice(before).flatMap((call) => (call[0] as QueueMessage).events.map((e) => e.id)));
        expect(enqueued.length).toBe(answer.accepted);
        for (const id of c.valid) expect(enqueued).toContain(id);
        const reasons = new Map(answer.rejected.map((r) => [r.index, r.reason]));
        for (const [index, reason] of c.poison) expect(reasons.get(index), `request ${i} event ${index}`).toBe(reason);
        poisonRefused += c.poison.size;
        if (c.salted) saltedAccepted++;
      } else {
        expect(send.mock.calls.length).toBe(before);
      }
    }
    // The generator must actually have exercised both outcomes, and batches with invalid events that still landed.
    expect(statuses.get(202)).toBeGreaterThan(1000);
    expect(saltedAccepted).toBeGreaterThan(500);
    expect(poisonRefused).toBeGreaterThan(1000);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    console.log("fuzz status histogram", Object.fromEntries(statuses), "poison events refused by name", poisonRefused);
  }, 300_000);
});
