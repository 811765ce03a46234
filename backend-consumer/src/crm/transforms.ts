/**
 * Field mapping transforms: what a mapping's `transform` may say, as a `|`-separated chain applied left to right:
 *   trim · lower (lowercase) · upper (uppercase) · e164 or e164:<REGION> (a phone number in E.164, libphonenumber-js;
 *   region for numbers without a country code, default US) · first_name · last_name (of a full name: the first word,
 *   and the rest) · date:iso | date:us | date:eu | date:epoch_ms (a date the browser sent, to YYYY-MM-DD,
 *   MM/DD/YYYY, DD/MM/YYYY or epoch milliseconds) · const:<value> (always this value, whatever was captured).
 * A value a transform cannot read (not a phone number, not a date) is an error naming the transform: the delivery
 * fails with that reason, the rest of the batch goes on.
 */
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";

export class TransformError extends Error {
  override readonly name = "TransformError";
}

type Step = (value: string) => string;

const pad = (n: number) => String(n).padStart(2, "0");

function parseDate(value: string): Date {
  const v = value.trim();
  // a bare day stays that day, whatever the server's zone
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const d = day ? new Date(Date.UTC(+day[1]!, +day[2]! - 1, +day[3]!)) : /^\d{10,13}$/.test(v) ? new Date(v.length === 10 ? +v * 1000 : +v) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new TransformError(`"${value.slice(0, 40)}" is not a date`);
  return d;
}

const DATE_FORMATS: Record<string, (d: Date) => string> = {
  iso: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
  us: (d) => `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()}`,
  eu: (d) => `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`,
  epoch_ms: (d) => String(d.getTime()),
};

function step(spec: string): Step {
  const [name, arg] = spec.includes(":") ? [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)] : [spec, undefined];
  switch (name) {
    case "trim":
      return (v) => v.trim();
    case "lower":
    case "lowercase":
      return (v) => v.toLowerCase();
    case "upper":
    case "uppercase":
      return (v) => v.toUpperCase();
    case "e164": {
      const region = (arg ?? "US").toUpperCase();
      if (!/^[A-Z]{2}$/.test(region)) throw new TransformError(`e164:${arg} needs a two-letter region`);
      return (v) => {
        const phone = parsePhoneNumberFromString(v, region as CountryCode);
        if (!phone?.isValid()) throw new TransformError(`"${v.slice(0, 40)}" is not a valid phone number (e164:${region})`);
        return phone.number;
      };
    }
    case "first_name":
      return (v) => v.trim().split(/\s+/)[0] ?? "";
    case "last_name":
      return (v) => v.trim().split(/\s+/).slice(1).join(" ");
    case "date": {
      const format = DATE_FORMATS[arg ?? ""];
      if (!format) throw new TransformError(`date:${arg} is not one of ${Object.keys(DATE_FORMATS).join(", ")}`);
      return (v) => format(parseDate(v));
    }
    case "const":
      if (arg === undefined) throw new TransformError("const needs a value (const:<value>)");
      return () => arg;
    default:
      throw new TransformError(`unknown transform "${name}"`);
  }
}

/** Compiles a transform chain (throws TransformError naming what is wrong); null or "" is no transform. */
export function compileTransform(spec: string | null | undefined): (value: string | undefined) => string | undefined {
  if (!spec) return (v) => v;
  const steps = spec.split("|").map((s) => step(s.trim()));
  const constant = spec.split("|").some((s) => s.trim().startsWith("const:"));
  return (value) => {
    if (value === undefined && !constant) return undefined;
    return steps.reduce((v, f) => f(v), value ?? "");
  };
}

/** The error of a transform spec, or null when it compiles (for the admin API's validation). */
export function transformError(spec: string | null | undefined): string | null {
  try {
    compileTransform(spec);
    return null;
  } catch (err) {
    return err instanceof TransformError ? err.message : String(err);
  }
}
