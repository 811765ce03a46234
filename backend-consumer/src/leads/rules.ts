/**
 * Lead rules, pure: which events make or touch a lead, its status and quality, the dedupe window, and how the
 * fields of an event become the lead's fields. Storage lives in store/leads.ts.
 */
import type { TrackerEvent } from "#contracts";

export type LeadStatus = "identified" | "partial" | "submitted";
export type LeadQuality = "low" | "medium" | "high";

/** Status only moves up this ladder, never down; quality follows status. */
export const STATUS_RANK: Record<LeadStatus, number> = { identified: 0, partial: 1, submitted: 2 };
export const QUALITY_OF: Record<LeadStatus, LeadQuality> = { identified: "low", partial: "medium", submitted: "high" };

const HOUR = 3_600_000;
/** A new event merges into an existing lead of the same site and email seen within this window. */
export const DEDUPE_WINDOW_MS: Record<LeadStatus, number> = { submitted: 24 * HOUR, partial: 7 * 24 * HOUR, identified: 7 * 24 * HOUR };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_FIELD = /^e-?mail(_?address)?$|email/i;

export function normaliseEmail(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const email = value.trim().toLowerCase();
  return email.length <= 320 && EMAIL.test(email) ? email : null;
}

/** "Ada King Lovelace" → { firstName: "Ada", lastName: "King Lovelace" }. */
export function splitName(full: string): { firstName?: string; lastName?: string } {
  const parts = full.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return {};
  if (parts.length === 1) return { firstName: parts[0] };
  return { firstName: parts[0], lastName: parts.slice(1).join(" ") };
}

export interface LeadTouch {
  email: string;
  status: LeadStatus;
  /** Field values to merge into the lead (already redacted). */
  fields: Record<string, string>;
  traits?: Record<string, unknown>;
  firstName?: string;
  lastName?: string;
  phone?: string;
  company?: string;
  formId?: string;
}

const pickField = (fields: Record<string, string>, pattern: RegExp): string | undefined => {
  for (const [name, value] of Object.entries(fields)) if (pattern.test(name) && value.trim()) return value.trim();
  return undefined;
};

function emailFrom(fields: Record<string, string>): string | null {
  for (const [name, value] of Object.entries(fields)) if (EMAIL_FIELD.test(name) && normaliseEmail(value)) return normaliseEmail(value);
  for (const value of Object.values(fields)) if (normaliseEmail(value)) return normaliseEmail(value);
  return null;
}

/** The lead this event makes or touches, or null: submissions, email interactions, and identify with an email. */
export function leadTouchOf(event: Pick<TrackerEvent, "type" | "form" | "traits" | "userId">): LeadTouch | null {
  if (event.type === "form_submission" || event.type === "form_interaction") {
    const fields = event.form?.fields ?? {};
    const email = emailFrom(fields);
    if (!email) return null;
    const touch: LeadTouch = {
      email,
      status: event.type === "form_submission" ? "submitted" : "partial",
      fields,
      formId: event.form?.formId,
    };
    const first = pickField(fields, /^(first.?name|given.?name|fname)$/i);
    const last = pickField(fields, /^(last.?name|surname|family.?name|lname)$/i);
    const full = pickField(fields, /^(full.?name|name|your.?name|contact.?name)$/i);
    Object.assign(touch, full ? splitName(full) : {}, first ? { firstName: first } : {}, last ? { lastName: last } : {});
    const phone = pickField(fields, /phone|tel|mobile/i);
    const company = pickField(fields, /company|organi[sz]ation|business/i);
    if (phone) touch.phone = phone;
    if (company) touch.company = company;
    return touch;
  }
  if (event.type === "identify") {
    const email = normaliseEmail(event.userId) ?? normaliseEmail(event.traits?.email);
    if (!email) return null;
    return { email, status: "identified", fields: {}, traits: event.traits ?? {} };
  }
  return null;
}
