/**
 * Reads a JSON request body and validates it: 400 `invalid_json`, or 400 `validation_failed` with every issue.
 * Before the schema runs, the whole document is checked for what JavaScript accepts but MariaDB refuses (JSON
 * nested deeper than its limit, unpaired UTF-16 surrogates), so such input is a 400 and never a database error.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { InvalidJson, toValidationIssues, ValidationFailed, type ValidationIssue } from "./errors.ts";

/** MariaDB's JSON functions (and the json_valid CHECK on JSON columns) stop at 32 levels; stay well inside. */
export const MAX_JSON_DEPTH = 16;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  // Read as text, outside the try: the body-limit error must pass through; the content type does not matter.
  const raw = await c.req.text();
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw InvalidJson();
  }
  const unsafe = storableIssues(data);
  if (unsafe.length > 0) throw ValidationFailed(unsafe);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw ValidationFailed(toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** Problems that would make a parsed JSON value unstorable, with their paths. */
export function storableIssues(value: unknown, path: string[] = [], issues: ValidationIssue[] = []): ValidationIssue[] {
  const at = path.join(".");
  if (typeof value === "string") {
    if (!wellFormed(value)) issues.push({ path: at, message: "Text contains an unpaired UTF-16 surrogate." });
  } else if (value !== null && typeof value === "object") {
    if (path.length >= MAX_JSON_DEPTH) {
      issues.push({ path: at, message: `Nested too deeply (at most ${MAX_JSON_DEPTH} levels).` });
      return issues;
    }
    for (const [key, child] of Object.entries(value)) {
      if (!wellFormed(key)) issues.push({ path: [...path, key].join("."), message: "Key contains an unpaired UTF-16 surrogate." });
      storableIssues(child, [...path, key], issues);
    }
  }
  return issues;
}
