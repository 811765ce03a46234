import { describe, expect, it } from "vitest";
import { bucketOf } from "./run.ts";
import { planQuery, QueryError, resolveRange, statsQuerySchema } from "./schema.ts";

const NOW = new Date("2026-11-29T03:30:00Z");

describe("date ranges", () => {
  it.each([
    ["day", "UTC", "2026-11-29", "2026-11-29"],
    ["day", "America/New_York", "2026-11-28", "2026-11-28"],
    ["7d", "UTC", "2026-11-23", "2026-11-29"],
    ["30d", "UTC", "2026-10-31", "2026-11-29"],
    ["month", "UTC", "2026-11-01", "2026-11-29"],
    ["6mo", "UTC", "2026-06-01", "2026-11-29"],
    ["12mo", "UTC", "2025-12-01", "2026-11-29"],
  ] as const)("%s in %s is %s … %s", (range, tz, from, to) => {
    expect(resolveRange(range, tz, NOW)).toEqual({ from, to });
  });

  it("takes custom ranges as they are, and refuses reversed or overlong ones", () => {
    expect(resolveRange(["2026-01-01", "2026-01-31"], "UTC")).toEqual({ from: "2026-01-01", to: "2026-01-31" });
    expect(() => resolveRange(["2026-02-01", "2026-01-01"], "UTC")).toThrow(QueryError);
    expect(() => resolveRange(["2020-01-01", "2026-01-01"], "UTC")).toThrow(/800 days/);
  });
});

describe("buckets", () => {
  it.each([
    ["2026-11-29", "time:day", "2026-11-29"],
    ["2026-11-29", "time:week", "2026-11-23"], // a Sunday belongs to the week of the Monday before
    ["2026-11-23", "time:week", "2026-11-23"],
    ["2026-11-29", "time:month", "2026-11-01"],
  ] as const)("%s by %s → %s", (day, time, bucket) => {
    expect(bucketOf(day, time)).toBe(bucket);
  });
});

describe("planQuery", () => {
  const plan = (body: Record<string, unknown>) => planQuery(statsQuerySchema.parse({ date_range: "7d", ...body }), "UTC", NOW);

  it("separates the time dimension from the one other, and knows a filter-only dimension", () => {
    expect(plan({ metrics: ["visits"], dimensions: ["time:week", "visit:source"] })).toMatchObject({ time: "time:week", dimension: "visit:source", breakdown: true });
    expect(plan({ metrics: ["pageviews"], filters: [["contains", "event:page", ["/blog"]]] })).toMatchObject({ dimension: "event:page", breakdown: false });
  });

  it.each([
    [{ metrics: ["visits"], dimensions: ["time:day", "time:week"] }, "dimensions"],
    [{ metrics: ["visits"], dimensions: ["visit:source", "visit:country"] }, "dimensions"],
    [{ metrics: ["bounce_rate"], dimensions: ["event:page"] }, "metrics.0"],
    [{ metrics: ["leads"], dimensions: ["visit:country"] }, "metrics.0"],
    [{ metrics: ["visits"], order_by: [["visitors", "desc"]] }, "order_by.0"],
  ])("refuses %j at %s", (body, path) => {
    expect(() => plan(body)).toThrow(expect.objectContaining({ path }));
  });
});

describe("the README's definitions", () => {
  it("list every metric with the definition the API documents", async () => {
    const { readFileSync } = await import("node:fs");
    const { METRICS } = await import("./schema.ts");
    const whole = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");
    // the Statistics section only (other tables have rows named like collections, e.g. `leads`)
    const start = whole.indexOf("\n## Statistics");
    const readme = whole.slice(start, whole.indexOf("\n## ", start + 5));
    const rows = [...readme.matchAll(/^\| `(\w+)` \| (.+) \|$/gm)].filter(([, name]) => name! in METRICS);
    const table = Object.fromEntries(rows.map(([, name, doc]) => [name, doc]));
    expect(table).toEqual(Object.fromEntries(Object.entries(METRICS).map(([name, m]) => [name, m.doc])));
  });
});
