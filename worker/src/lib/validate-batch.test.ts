import { describe, expect, it } from "vitest";
import { eventSchema, MAX_EVENT_BYTES } from "#contracts";
import { validateBatch, withTrustedTimes } from "./validate-batch.ts";

const event = (o: Record<string, unknown> = {}) => ({
  id: crypto.randomUUID(),
  type: "page_view",
  ts: 1_700_000_000_000,
  sessionId: "s",
  visitorId: "v",
  ...o,
});

describe("validateBatch", () => {
  it("accepts every event type of the contract", () => {
    const types = ["page_view", "form_interaction", "form_submission", "identify", "track", "session_start", "engagement"];
    const verdict = validateBatch(types.map((type) => event({ type })));
    expect(verdict.rejected).toEqual([]);
    expect(verdict.accepted.map((e) => e.type)).toEqual(types);
  });

  it("rejects by index with the failing path, keeping order of the accepted", () => {
    const a = event();
    const b = event();
    const verdict = validateBatch([a, event({ type: "unknown" }), "text", b, event({ ts: -1 })]);
    expect(verdict.accepted.map((e) => e.id)).toEqual([a.id, b.id]);
    expect(verdict.rejected.map((r) => r.index)).toEqual([1, 2, 4]);
    expect(verdict.rejected[0]!.error).toMatch(/^type:/);
    expect(verdict.rejected[2]!.error).toMatch(/^ts:/);
  });

  it("strips unknown top-level keys instead of passing them downstream", () => {
    const verdict = validateBatch([event({ injected: { $where: "1" } })]);
    expect(verdict.accepted[0]).not.toHaveProperty("injected");
  });
});

describe("validateBatch: the per-event size limit is exact (MAX_EVENT_BYTES of UTF-8 of the stored JSON)", () => {
  const encoder = new TextEncoder();
  const exactBytes = (e: unknown) => encoder.encode(JSON.stringify(e)).byteLength;
  // multi-byte characters, escapes (control characters, quotes, lone surrogates), and numbers whose JSON is longer
  // than the text they were sent as: each is judged by the bytes of what would be stored
  const fillers: [string, (n: number) => Record<string, unknown>][] = [
    ["ascii", (n) => ({ props: { s: "a".repeat(n) } })],
    ["two-byte", (n) => ({ props: { s: "é".repeat(n) } })],
    ["emoji", (n) => ({ props: { s: "😀".repeat(n) } })],
    ["escaped", (n) => ({ props: { s: "\u0001\"".repeat(n) } })],
    ["lone surrogates", (n) => ({ props: { s: "\ud800".repeat(n) } })],
    ["numbers", (n) => ({ props: { xs: Array.from({ length: n }, () => 1e20) } })],
    ["form fields", (n) => ({ type: "form_submission", form: { formId: "f", fields: Object.fromEntries(Array.from({ length: n }, (_, i) => [`field_${i}`, "v"])) } })],
  ];
  it.each(fillers)("%s, just under and just over the limit", (_name, fill) => {
    let judged = { over: 0, under: 0 };
    for (let n = 1; n < 40_000; n = Math.ceil(n * 1.01) + 1) {
      const e = JSON.parse(JSON.stringify(event(fill(n)))) as Record<string, unknown>;
      const over = exactBytes(eventSchema.parse(e)) > MAX_EVENT_BYTES;
      expect(validateBatch([e]).rejected.map((r) => r.reason)).toEqual(over ? ["too_large"] : []);
      judged = { over: judged.over + (over ? 1 : 0), under: judged.under + (over ? 0 : 1) };
      if (exactBytes(e) > 2 * MAX_EVENT_BYTES) break;
    }
    expect(judged.over).toBeGreaterThan(0);
    expect(judged.under).toBeGreaterThan(0);
  });
});

describe("validateBatch: what storage cannot hold is refused per event, with a named reason", () => {
  it.each([
    ["nul_in_key", { props: { "a\u0000b": 1 } }],
    ["empty_key", { form: { formId: "f", fields: { "": "x" } } }],
    ["dollar_key", { traits: { profile: { $where: "1" } } }],
    ["too_deep", { props: { a: [[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]] } }],
  ])("%s", (reason, extra) => {
    const good = event();
    const verdict = validateBatch([good, event(extra)]);
    expect(verdict.accepted.map((e) => e.id)).toEqual([good.id]);
    expect(verdict.rejected).toEqual([{ index: 1, reason, error: expect.any(String) }]);
  });

  it("refuses an event nested 100,000 levels deep without throwing", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const verdict = validateBatch([event({ props: { deep } }), event()]);
    expect(verdict.rejected).toEqual([{ index: 0, reason: "too_deep", error: expect.any(String) }]);
    expect(verdict.accepted).toHaveLength(1);
  });
});

describe("withTrustedTimes", () => {
  it("corrects absurd times, keeps the client's, and never keeps a clientTs the client sent", () => {
    const received = 1_800_000_000_000;
    const [absurd, fine, forged] = withTrustedTimes(
      [event({ ts: 1 }), event({ ts: received - 1000 }), event({ ts: received - 5, clientTs: 42 })] as never,
      received,
    );
    expect(absurd).toMatchObject({ ts: received, clientTs: 1 });
    expect(fine!.ts).toBe(received - 1000);
    expect(fine).not.toHaveProperty("clientTs");
    expect(forged).not.toHaveProperty("clientTs");
  });
});
