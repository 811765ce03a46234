/** The delivery policy's decision: which leads a destination is sent, and how a request and a row read into it. */
import { describe, expect, it } from "vitest";
import { policyOf, requestedPolicy, takesLead, takesPartial, type PolicySettings } from "./policy.ts";

const identified = { status: "identified", quality: "low" } as const;
const partial = { status: "partial", quality: "medium" } as const;
const submitted = { status: "submitted", quality: "high" } as const;
const set = (policy: PolicySettings["policy"], minQuality: PolicySettings["minQuality"] = "medium", sendPartial = false): PolicySettings => ({ policy, minQuality, sendPartial });
const taken = (s: PolicySettings) => [identified, partial, submitted].map((l) => takesLead(l, s));

describe("delivery policy", () => {
  it("submitted takes submitted leads only", () => {
    expect(taken(set("submitted"))).toEqual([false, false, true]);
    expect(takesPartial(set("submitted"))).toBe(false);
  });
  it("qualified takes submitted leads and others at or above the chosen quality", () => {
    expect(taken(set("qualified", "medium"))).toEqual([false, true, true]);
    expect(taken(set("qualified", "low"))).toEqual([true, true, true]);
    expect(taken(set("qualified", "high"))).toEqual([false, false, true]);
    expect(takesLead({ status: "partial", quality: "unknown" }, set("qualified", "low"))).toBe(false);
  });
  it("all takes every change, partial leads only with sendPartial (how destinations worked before policies)", () => {
    expect(taken(set("all", "medium", true))).toEqual([true, true, true]);
    expect(taken(set("all", "medium", false))).toEqual([true, false, true]);
  });
  it("reads a row, unknown values falling back to the defaults", () => {
    expect(policyOf({ deliveryPolicy: "qualified", minQuality: "low", sendPartial: false })).toEqual(set("qualified", "low"));
    expect(policyOf({ deliveryPolicy: "bogus", minQuality: null })).toEqual(set("submitted"));
  });
  it("a create request: policy given wins; sendPartial alone asks for all (the old field); neither is submitted", () => {
    expect(requestedPolicy({})).toEqual(set("submitted"));
    expect(requestedPolicy({ sendPartial: true })).toEqual(set("all", "medium", true));
    expect(requestedPolicy({ sendPartial: false })).toEqual(set("all", "medium", false));
    expect(requestedPolicy({ deliveryPolicy: "all" })).toEqual(set("all", "medium", true));
    expect(requestedPolicy({ deliveryPolicy: "qualified", minQuality: "low" })).toEqual(set("qualified", "low"));
  });
});
