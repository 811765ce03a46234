/**
 * Server-side redaction, applied before anything is stored, whatever the browser already removed: US social
 * security numbers, payment card numbers (13–19 digits passing the Luhn check), and values of fields named like
 * passports, cards, CVVs, SSNs or passwords.
 */
import { MAX_NESTING_DEPTH } from "#contracts";

export const REDACTED = "[redacted]";

const SENSITIVE_NAME = /pass(word|wd|port)|card.?(number|no|num)|\bcc.?(num|number)?\b|cvv|cvc|\bssn\b|social.?security|security.?code|\bpin\b/i;
/** An SSN standing on its own, like a card number below (not inside an email, a URL or an id). */
const SSN = /(?<![\w@.:/+#-])(?!000|666|9\d\d)\d{3}[- ]?(?!00)\d{2}[- ]?(?!0000)\d{4}(?![\w@:/-]|\.\w)/g;
/**
 * A card-shaped value: 13–19 digits with optional single spaces or dashes between them, standing on its own. Not
 * part of a longer token: an email ("4111…@x.com"), a URL, an id with letters, or a longer run of digits (a phone
 * number with an extension) is no card, whatever its digits add up to.
 */
const CARD_CANDIDATE = /(?<![\w@.:/+#-])(?:\d[ -]?){12,18}\d(?![\w@:/-]|\.\w)/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Replaces SSNs and Luhn-valid card numbers inside a string. */
export function redactString(value: string): string {
  let out = value.replace(CARD_CANDIDATE, (m) => {
    const digits = m.replace(/[ -]/g, "");
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) ? REDACTED : m;
  });
  // Only dashed/spaced SSNs, or 9-digit runs in a field named like an SSN (handled by name): a bare 9-digit number
  // is too often something else (order ids, zip+4).
  out = out.replace(SSN, (m) => (/[- ]/.test(m) ? REDACTED : m));
  return out;
}

export function isSensitiveName(name: string): boolean {
  return SENSITIVE_NAME.test(name);
}

/**
 * Deep copy with sensitive values redacted: by key name anywhere in the tree, and by value pattern in strings.
 * Objects and arrays nested deeper than `maxDepth` (counting `value` as 1) are dropped, never passed through
 * unread: the edge refuses such events, and whatever reaches the drain anyway is stored without them.
 * The default fits a value one level inside an event (props, traits, form) under MAX_NESTING_DEPTH.
 */
export function redactValue(value: unknown, maxDepth = MAX_NESTING_DEPTH - 1, depth = 1): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > maxDepth) return undefined;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, maxDepth, depth + 1)).filter((v) => v !== undefined);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const kept = isSensitiveName(k) && v !== null && v !== "" ? REDACTED : redactValue(v, maxDepth, depth + 1);
    if (kept !== undefined) out[k] = kept;
  }
  return out;
}
