import { describe, expect, it } from "vitest";
import { addToSketch, estimate, HLL_REGISTERS, HLL_STANDARD_ERROR, hllPoint } from "./hll.ts";

const sketch = (values: string[]) => {
  const r = new Map<number, number>();
  for (const v of values) addToSketch(r, v);
  return r;
};

describe("HyperLogLog", () => {
  it("maps a value to the same register and rank every time", () => {
    expect(hllPoint("visitor-1")).toEqual(hllPoint("visitor-1"));
    const { index, rank } = hllPoint("visitor-2");
    expect(index).toBeGreaterThanOrEqual(0);
    expect(index).toBeLessThan(HLL_REGISTERS);
    expect(rank).toBeGreaterThanOrEqual(1);
  });

  it("counts small sets exactly, and repeated values once", () => {
    expect(estimate(sketch([]))).toBe(0);
    expect(estimate(sketch(["a", "a", "a"]))).toBe(1);
    expect(estimate(sketch(Array.from({ length: 50 }, (_, i) => `v${i % 25}`)))).toBe(25);
  });

  it.each([1_000, 10_000, 200_000])("stays within three standard errors at %i distinct values", (n) => {
    const est = estimate(sketch(Array.from({ length: n }, (_, i) => `visitor-${i}`)));
    expect(Math.abs(est - n) / n).toBeLessThan(3 * HLL_STANDARD_ERROR);
  });

  it("merges by register maximum: the union of two sketches estimates the union of their sets", () => {
    const a = sketch(Array.from({ length: 5_000 }, (_, i) => `v${i}`));
    const b = sketch(Array.from({ length: 5_000 }, (_, i) => `v${i + 2_500}`));
    const merged = new Map(a);
    for (const [i, r] of b) merged.set(i, Math.max(merged.get(i) ?? 0, r));
    expect(Math.abs(estimate(merged) - 7_500) / 7_500).toBeLessThan(3 * HLL_STANDARD_ERROR);
    // the estimate reads MongoDB's shape too: { "17": 3, ... }
    expect(estimate(Object.fromEntries([...merged].map(([k, v]) => [String(k), v])))).toBe(estimate(merged));
  });
});
