/**
 * A person, as the privacy API names them: an email or a visitor id. What is kept about the request itself
 * (receipts, suppressions, the audit trail) is a keyed hash of the normalised value (HMAC-SHA256 under
 * PRIVACY_HASH_KEY), so the record that someone was erased does not say who.
 */
import { createHmac } from "node:crypto";
import { z } from "zod";
import { normaliseEmail } from "../leads/rules.ts";

export type SubjectKind = "email" | "visitor";

export interface Subject {
  kind: SubjectKind;
  /** The normalised value (lower-case email, or the visitor id as sent). Never stored. */
  value: string;
}

export const subjectQuerySchema = z
  .object({
    email: z.string().trim().max(320).optional(),
    visitorId: z.string().trim().min(1).max(128).optional(),
  })
  .refine((q) => Boolean(q.email) !== Boolean(q.visitorId), { message: "Name the person with exactly one of email or visitorId.", path: ["email"] })
  .refine((q) => !q.email || normaliseEmail(q.email) !== null, { message: "Not an email address.", path: ["email"] });

export function subjectOf(q: { email?: string | undefined; visitorId?: string | undefined }): Subject {
  return q.email ? { kind: "email", value: normaliseEmail(q.email)! } : { kind: "visitor", value: q.visitorId! };
}

/** The keyed hash of a subject: `email:<hex>` or `visitor:<hex>`. */
export function subjectHash(key: Buffer, s: Subject): string {
  return `${s.kind}:${createHmac("sha256", key).update(`${s.kind}\u0000${s.value}`).digest("hex")}`;
}

/** Reads PRIVACY_HASH_KEY (base64, at least 32 bytes). */
export function privacyKey(base64: string): Buffer {
  const key = Buffer.from(base64, "base64");
  if (key.length < 32) throw new Error("PRIVACY_HASH_KEY must be at least 32 bytes, base64");
  return key;
}
