/**
 * What a lead becomes in a CRM: the site's field mappings (form field → CRM field, with a transform) applied to the
 * lead's captured fields, over the contact basics every lead has.
 *
 * Target fields are the product's contact fields, which each connector names the way its CRM does: email,
 * firstName, lastName, name, phone, company, website, address, city, state, postalCode, country, notes, source,
 * and `custom.<key>` for a CRM custom field / property of that key. The basics (email, first and last name, phone,
 * company) are sent from the lead itself unless a mapping sets them. Form fields without a mapping are not sent to
 * CRMs (the signed webhook carries every captured field). Mappings to an entity other than "contact" are skipped.
 * A required mapping without a value, or a value its transform cannot read, fails that lead's delivery with the
 * reason; other leads are not affected.
 */
import type { LeadDocument } from "../store/leads.ts";
import { compileTransform, TransformError } from "./transforms.ts";

export const CONTACT_FIELDS = ["email", "firstName", "lastName", "name", "phone", "company", "website", "address", "city", "state", "postalCode", "country", "notes", "source"] as const;
export type ContactField = (typeof CONTACT_FIELDS)[number];

/** A mapping row, joined with its form field's name. */
export interface FieldMapping {
  fieldName: string;
  targetEntity: string;
  targetField: string;
  transform: string | null;
  required: boolean;
}

/** The contact to send: product field names (see above) to values. */
export type MappedContact = Record<string, string>;

export class MappingFailed extends Error {
  override readonly name = "MappingFailed";
}

export const isTargetField = (f: string): boolean => (CONTACT_FIELDS as readonly string[]).includes(f) || /^custom\.[A-Za-z0-9_.-]{1,100}$/.test(f);

/** Applies the mappings to one lead; throws MappingFailed with every reason when the lead cannot be sent. */
export function mapLead(lead: LeadDocument, mappings: FieldMapping[]): MappedContact {
  const out: MappedContact = { email: lead.email };
  const basics: [ContactField, string | undefined][] = [
    ["firstName", lead.firstName],
    ["lastName", lead.lastName],
    ["phone", lead.phone],
    ["company", lead.company],
  ];
  for (const [field, value] of basics) if (value) out[field] = value;
  const problems: string[] = [];
  for (const m of mappings) {
    if (m.targetEntity !== "contact") continue;
    let value: string | undefined;
    try {
      const raw = lead.fields?.[m.fieldName];
      value = compileTransform(m.transform)(typeof raw === "string" && raw !== "" ? raw : undefined);
    } catch (err) {
      if (!(err instanceof TransformError)) throw err;
      problems.push(`${m.fieldName} → ${m.targetField}: ${err.message}`);
      continue;
    }
    if (value === undefined || value === "") {
      if (m.required) problems.push(`${m.fieldName} → ${m.targetField} is required and the lead has no value for it`);
      continue;
    }
    out[m.targetField] = value;
  }
  if (problems.length) throw new MappingFailed(problems.join("; "));
  return out;
}

/**
 * A mapped contact in a CRM's own field names: `names` renames product fields, `custom.<key>` becomes `<key>`, and
 * a full name with no first or last part filled splits into the CRM's first and last name fields (a single word
 * goes to `name.single`).
 */
export function crmFields(contact: MappedContact, names: Partial<Record<string, string>>, name: { first: string; last: string; single: "first" | "last" }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(contact)) {
    if (field.startsWith("custom.")) out[field.slice("custom.".length)] = value;
    else if (names[field]) out[names[field]] = value;
  }
  if (contact.name && !out[name.first] && !out[name.last]) {
    const [first = "", ...rest] = contact.name.trim().split(/\s+/);
    if (rest.length) {
      out[name.first] = first;
      out[name.last] = rest.join(" ");
    } else out[name[name.single]] = first;
  }
  return out;
}
