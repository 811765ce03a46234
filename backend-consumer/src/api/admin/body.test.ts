import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, storableIssues } from "./body.ts";

const nested = (levels: number): unknown => (levels === 0 ? "leaf" : { a: nested(levels - 1) });

describe("storableIssues", () => {
  it.each([
    ["plain values", { name: "x", list: [1, "two", null, { ok: true }], emoji: "😀" }, []],
    ["an unpaired high surrogate", { name: "a\uD800" }, ["name"]],
    ["an unpaired low surrogate in a list", { list: ["ok", "\uDC00b"] }, ["list.1"]],
    ["an unpaired surrogate in a key", { m: { "k\uD800": 1 } }, ["m.k\uD800"]],
  ])("%s", (_name, value, paths) => {
    expect(storableIssues(value).map((i) => i.path)).toEqual(paths);
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
    expect(storableIssues(nested(MAX_JSON_DEPTH))).toEqual([]);
    const issues = storableIssues(nested(MAX_JSON_DEPTH + 1));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/Nested too deeply/);
  });
});
