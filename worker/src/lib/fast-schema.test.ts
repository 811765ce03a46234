import { describe, expect, it } from "vitest";
import { z } from "zod";
import { eventSchema } from "#contracts";
import { prng } from "../../../scripts/testing/prng.ts";
import { ASK_ZOD, compileAcceptor } from "./fast-schema.ts";

const rand = prng(0x5eed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const accept = compileAcceptor(eventSchema)!;

/** A valid event of any type, with every optional part present or not. */
function validEvent(): Record<string, unknown> {
  const maybe = <T>(v: T): T | undefined => (rand() < 0.5 ? v : undefined);
  const touch = () => ({
    utm: maybe({ source: "news", ...(rand() < 0.5 ? { campaign: "c".repeat(int(600)) } : {}) }),
    clickIds: maybe({ gclid: "g1", twclid: "t" }),
    referrer: maybe("https://r.example/"),
    landingPage: maybe("https://l.example/"),
    ts: maybe(1 + int(2e12)),
  });
  const e: Record<string, unknown> = {
    props: maybe({ engagedMs: 1200, nested: { list: [1, "two", null, { deep: true }] }, "名前": "x", "0": 1 }),
    id: crypto.randomUUID(),
    type: pick(["page_view", "form_interaction", "form_submission", "identify", "track", "session_start", "engagement"]),
    ts: 1 + int(2e12),
    clientTs: maybe(rand() < 0.5 ? 1.5 : -3),
    sessionId: "s".repeat(1 + int(130)),
    visitorId: "v".repeat(1 + int(128)),
    name: maybe("n".repeat(int(258))),
    page: maybe({ url: "https://shop.example/" + "p".repeat(int(4100)), path: maybe("/p"), title: maybe("t".repeat(int(1030))), referrer: maybe("r") }),
    form: maybe({
      formId: "f".repeat(int(258)),
      name: maybe("Contact"),
      fields: { email: "a@b.example", ["k".repeat(1 + int(258))]: "v".repeat(int(8200)) },
      trigger: maybe("submit"),
      progress: maybe({ completed: Array.from({ length: int(203) }, () => "x"), total: pick([0, 6, -1, 2.5]), percent: pick([0, 33.3, 100, 100.1, -0.1]) }),
    }),
    traits: maybe({ email: "a@b.example" }),
    userId: maybe("u"),
    consent: maybe(pick(["granted", "denied", "unknown", "maybe"])),
    attribution: maybe({ ...touch(), firstTouch: maybe(touch()) }),
    extra: maybe({ stripped: true }),
  };
  // a JSON round trip, as the edge parses bodies (it also drops the undefined keys)
  return JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
}

const ODD: unknown[] = [null, true, 0, -0, 1.5, -1, Number.MAX_SAFE_INTEGER + 2, Infinity, NaN, "", "x", [], {}, [1], { a: 1 }, "00000000-0000-0000-0000-000000000000"];

/** Breaks (or not) one random place of a valid event, as far down as it goes. */
function mutate(value: unknown): unknown {
  if (value === null || typeof value !== "object" || rand() < 0.2) return pick(ODD);
  if (Array.isArray(value)) {
    if (value.length === 0) return [pick(ODD)];
    const copy = [...value];
    copy[int(copy.length)] = mutate(copy[int(copy.length)]);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const r = rand();
  if (r < 0.15 && keys.length) delete copy[pick(keys)];
  else if (r < 0.25) copy[pick(["unknownKey", "__proto__", "constructor", "toString", "source", "gclid", "", "0"])] = pick(ODD);
  else if (keys.length) {
    const k = pick(keys);
    copy[k] = mutate(copy[k]);
  }
  return JSON.parse(JSON.stringify(copy)) as unknown;
}

describe("compileAcceptor", () => {
  it("accepts exactly what zod accepts, returning what zod returns, and leaves every doubt to zod", () => {
    let fast = 0;
    let valid = 0;
    for (let i = 0; i < 30_000; i++) {
      const input = i % 3 === 0 ? validEvent() : mutate(validEvent());
      const zod = eventSchema.safeParse(input);
      const ours = accept(input);
      if (zod.success) valid++;
      if (ours === ASK_ZOD) continue;
      fast++;
      expect(zod.success, JSON.stringify(input)).toBe(true);
      // the same value, keys in the same order (the queue message is serialised from it)
      expect(JSON.stringify(ours)).toBe(JSON.stringify(zod.data));
      expect(ours).toStrictEqual(zod.data);
    }
    // and it does take the fast way for (nearly) everything valid
    expect(fast).toBeGreaterThan(valid * 0.95);
  });

  it("never accepts what zod would handle differently: JSON keys named __proto__ or constructor, non-plain objects", () => {
    const base = JSON.parse(JSON.stringify({ id: crypto.randomUUID(), type: "track", ts: 1, sessionId: "s", visitorId: "v", props: { a: 1 } })) as Record<string, unknown>;
    expect(accept(base)).not.toBe(ASK_ZOD);
    expect(accept(JSON.parse(JSON.stringify(base).replace('"a":1', '"__proto__":{"x":1}')))).toBe(ASK_ZOD);
    expect(accept(JSON.parse(JSON.stringify(base).replace('"a":1', '"constructor":1')))).toBe(ASK_ZOD);
    expect(accept(Object.assign(Object.create(null) as object, base))).toBe(ASK_ZOD);
  });

  it("refuses to build for schema kinds it does not know (the caller then uses zod alone)", () => {
    expect(compileAcceptor(z.object({ a: z.string().email() }))).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.string().default("x") }))).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.string().refine((s) => s.length > 1) }))).toBeUndefined();
    expect(compileAcceptor(z.union([z.string(), z.number()]))).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.number().multipleOf(2) }))).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.string() }).passthrough())).toBeUndefined();
  });
});
