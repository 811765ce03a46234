import { describe, expect, it } from "vitest";
import { eventTime, findUnstorable, MAX_CLOCK_AHEAD_MS, MAX_EVENT_AGE_MS, MAX_NESTING_DEPTH } from "./storable.ts";

/** `levels` objects nested inside each other, the innermost holding `leaf`. */
function nested(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

describe("findUnstorable", () => {
  it.each([
    ["an empty key", { props: { "": 1 } }, "empty_key", "props."],
    ["a NUL in a key", { props: { x: { "a\u0000b": 1 } } }, "nul_in_key", "props.x.a\\u0000b"],
    ["a $ key inside a value", { traits: { list: [{ $set: 1 }] } }, "dollar_key", "traits.list[0].$set"],
    ["a key over 256 characters", { props: { ["k".repeat(257)]: 1 } }, "key_too_long", undefined],
  ])("names %s, with where it is", (_name, value, reason, path) => {
    const found = findUnstorable(value);
    expect(found?.reason).toBe(reason);
    if (path) expect(found?.path).toBe(path);
  });

  it("allows exactly MAX_NESTING_DEPTH levels of objects and arrays, counting the value itself", () => {
    expect(findUnstorable(nested(MAX_NESTING_DEPTH))).toBeUndefined();
    expect(findUnstorable(nested(MAX_NESTING_DEPTH + 1))).toMatchObject({ reason: "too_deep" });
    expect(findUnstorable(nested(MAX_NESTING_DEPTH, "a string leaf does not count"))).toBeUndefined();
  });

  it("stops at the depth limit, so a value 100,000 levels deep is refused without overflowing the stack", () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorable({ props: { deep } })).toMatchObject({ reason: "too_deep" });
  });

  it("with deep: ignore, skips what lies below the limit (it is dropped later) but still checks the keys above it", () => {
    expect(findUnstorable(nested(40, { "a\u0000b": 1 }), { deep: "ignore" })).toBeUndefined();
    expect(findUnstorable({ "": nested(40) }, { deep: "ignore" })).toMatchObject({ reason: "empty_key" });
  });

  it("accepts dots, unicode and ordinary keys", () => {
    expect(findUnstorable({ props: { "user.email": "a@b.c", "名前": "x", a$b: 1, list: [1, "two", null] } })).toBeUndefined();
  });
});

describe("eventTime", () => {
  const received = Date.UTC(2026, 10, 29, 12);

  it("keeps a time inside the window as it is", () => {
    expect(eventTime(received - 60_000, received)).toEqual({ ts: received - 60_000 });
    expect(eventTime(received - MAX_EVENT_AGE_MS, received)).toEqual({ ts: received - MAX_EVENT_AGE_MS });
  });

  it("shifts the times of a device whose clock is off, by how far its sentAt is from the receipt", () => {
    const skew = 3 * 3_600_000; // the device is three hours ahead
    expect(eventTime(received - 2_000 + skew, received, received + skew)).toEqual({ ts: received - 2_000, clientTs: received - 2_000 + skew });
  });

  it("puts an absurd time at the receipt time and keeps the original", () => {
    expect(eventTime(1, received)).toEqual({ ts: received, clientTs: 1 });
    expect(eventTime(8.7e15, received)).toEqual({ ts: received, clientTs: 8.7e15 });
    expect(eventTime(received + MAX_CLOCK_AHEAD_MS + 1, received)).toEqual({ ts: received, clientTs: received + MAX_CLOCK_AHEAD_MS + 1 });
  });

  it("a reset device clock (1970) with its sentAt still yields the real time of each event", () => {
    const bootedAt = 5_000_000; // the device thinks it is 1970
    expect(eventTime(bootedAt - 1_500, received, bootedAt)).toEqual({ ts: received - 1_500, clientTs: bootedAt - 1_500 });
  });
});
