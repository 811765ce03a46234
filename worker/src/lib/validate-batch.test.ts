import { describe, expect, it } from "vitest";
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
