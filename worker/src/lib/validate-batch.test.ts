import { describe, expect, it } from "vitest";
import { validateBatch } from "./validate-batch.ts";

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
