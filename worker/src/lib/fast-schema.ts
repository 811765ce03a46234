/**
 * A fast acceptor for a zod schema, built from the schema's own definition (so it follows the contract as it
 * changes) out of plain closures. Zod compiles object parsers with `new Function` where it may; the Workers runtime
 * forbids that, so there zod interprets every event, and the per-event parse was the largest CPU cost of an ingest
 * request.
 *
 * The acceptor only ever says "valid, and this is exactly what zod returns" or "ask zod" (`ASK_ZOD`): anything it
 * is not sure of (an invalid value, an unusual object, a key named `__proto__`) goes to zod, which then decides
 * and words the errors. So a verdict and its error messages are always zod's. Schemas using anything beyond the
 * few kinds below (objects that strip unknown keys, optional, strings with length checks or the uuid format,
 * numbers with safe-integer and bound checks, enums, records, arrays, unknown) are refused when the acceptor is
 * built (`compileAcceptor` returns undefined), and the caller uses zod alone. worker/src/lib/fast-schema.test.ts
 * holds the acceptor equal to zod on generated and mutated events.
 */
import type { z } from "zod";

/** "Not sure: let zod decide." */
export const ASK_ZOD: unique symbol = Symbol("ask zod");
export type Acceptor<T> = (value: unknown) => T | typeof ASK_ZOD;
type Accept = (value: unknown) => unknown;

class Unsupported extends Error {}

/** Zod's internals as far as the acceptor reads them. */
interface Def {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  coerce?: boolean;
  format?: string;
  pattern?: RegExp;
  shape?: Record<string, Schema>;
  catchall?: unknown;
  innerType?: Schema;
  entries?: Record<string, string | number>;
  keyType?: Schema;
  valueType?: Schema;
  element?: Schema;
  mode?: string;
}
interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
}
interface Schema {
  _zod: { def: Def; optin?: string; optout?: string };
}

type Test = (value: never) => boolean;

function lengthChecks(def: Def): Test[] {
  return (def.checks ?? []).map(({ _zod: { def: c } }): Test => {
    if (c.check === "min_length" && typeof c.minimum === "number") { const min = c.minimum; return (v: { length: number }) => v.length >= min; }
    if (c.check === "max_length" && typeof c.maximum === "number") { const max = c.maximum; return (v: { length: number }) => v.length <= max; }
    throw new Unsupported(`check ${c.check} on ${def.type}`);
  });
}

function numberChecks(def: Def): Test[] {
  return (def.checks ?? []).map(({ _zod: { def: c } }): Test => {
    if (c.check === "number_format" && c.format === "safeint") return (v: number) => Number.isSafeInteger(v);
    if (c.check === "greater_than" && typeof c.value === "number") { const x = c.value; return c.inclusive ? (v: number) => v >= x : (v: number) => v > x; }
    if (c.check === "less_than" && typeof c.value === "number") { const x = c.value; return c.inclusive ? (v: number) => v <= x : (v: number) => v < x; }
    throw new Unsupported(`check ${c.check} on number`);
  });
}

const passes = (tests: Test[], value: unknown): boolean => {
  for (let i = 0; i < tests.length; i++) if (!tests[i]!(value as never)) return false;
  return true;
};

/** A plain object as JSON.parse makes them: Object.prototype, no own `constructor` or `__proto__` (those go to zod). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype &&
    !Object.hasOwn(value, "__proto__") && !Object.hasOwn(value, "constructor")
  );
}

function build(schema: Schema): Accept {
  const def = schema._zod.def;
  if (def.coerce) throw new Unsupported("coercion");
  switch (def.type) {
    case "string": {
      const tests = lengthChecks(def);
      let pattern: RegExp | undefined;
      if (def.format !== undefined) {
        if (def.format !== "uuid" || !(def.pattern instanceof RegExp)) throw new Unsupported(`string format ${def.format}`);
        pattern = def.pattern;
      }
      return (v) => {
        if (typeof v !== "string" || !passes(tests, v)) return ASK_ZOD;
        if (pattern) {
          pattern.lastIndex = 0;
          if (!pattern.test(v)) return ASK_ZOD;
        }
        return v;
      };
    }
    case "number": {
      const tests = numberChecks(def);
      return (v) => (typeof v === "number" && Number.isFinite(v) && passes(tests, v) ? v : ASK_ZOD);
    }
    case "enum": {
      if (def.checks?.length || !def.entries) throw new Unsupported("enum with checks");
      const values = new Set<unknown>(Object.values(def.entries));
      return (v) => (values.has(v) ? v : ASK_ZOD);
    }
    case "unknown":
      if (def.checks?.length) throw new Unsupported("unknown with checks");
      return (v) => v;
    case "optional": {
      if (def.checks?.length || !def.innerType || def.innerType._zod.optin === "defaulted") throw new Unsupported("optional");
      const inner = build(def.innerType);
      return (v) => (v === undefined ? undefined : inner(v));
    }
    case "array": {
      if (!def.element) throw new Unsupported("array");
      const tests = lengthChecks(def);
      const element = build(def.element);
      return (v) => {
        if (!Array.isArray(v) || !passes(tests, v)) return ASK_ZOD;
        const out: unknown[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const r = element(v[i]);
          if (r === ASK_ZOD) return ASK_ZOD;
          out[i] = r;
        }
        return out;
      };
    }
    case "object": {
      if (def.checks?.length || def.catchall !== undefined || !def.shape) throw new Unsupported("object with checks or catchall");
      const keys = Object.keys(def.shape).filter((k) => k !== "__proto__");
      const fields = keys.map((key) => {
        const s = def.shape![key]!;
        const optional = s._zod.optin === "optional" && s._zod.optout === "optional";
        if (!optional && (s._zod.optin !== undefined || s._zod.optout !== undefined)) throw new Unsupported(`key ${key}: defaults`);
        return { key, optional, accept: build(s) };
      });
      return (v) => {
        if (!isJsonObject(v)) return ASK_ZOD;
        const out: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) {
          const { key, optional, accept } = fields[i]!;
          if (!(key in v)) {
            if (optional) continue;
            return ASK_ZOD;
          }
          const r = accept(v[key]);
          if (r === ASK_ZOD) return ASK_ZOD;
          out[key] = r;
        }
        return out;
      };
    }
    case "record": {
      if (def.checks?.length || !def.keyType || !def.valueType || (def.mode !== undefined && def.mode !== "strict")) throw new Unsupported("record");
      const keyDef = def.keyType._zod.def;
      // an enum key: only a partial record (an exhaustive one requires every key, and is left to zod)
      if (keyDef.type === "enum" && !(def as { partial?: boolean }).partial) throw new Unsupported("exhaustive record");
      if (keyDef.type !== "enum" && keyDef.type !== "string") throw new Unsupported(`record key ${keyDef.type}`);
      const key = build(def.keyType);
      const value = build(def.valueType);
      return (v) => {
        if (!isJsonObject(v)) return ASK_ZOD;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) {
          if (key(k) === ASK_ZOD) return ASK_ZOD;
          const r = value(v[k]);
          if (r === ASK_ZOD) return ASK_ZOD;
          out[k] = r;
        }
        return out;
      };
    }
    default:
      throw new Unsupported(def.type);
  }
}

/** The acceptor of `schema`, or undefined when the schema uses something it does not handle (then use zod alone). */
export function compileAcceptor<S extends z.ZodType>(schema: S): Acceptor<z.infer<S>> | undefined {
  try {
    return build(schema as unknown as Schema) as Acceptor<z.infer<S>>;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
