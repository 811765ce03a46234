/**
 * Request bodies of the admin API: strict zod objects (unknown keys are refused). Create schemas carry the
 * defaults; patch schemas take any non-empty subset and never fill defaults in. The OpenAPI document is derived
 * from these same schemas.
 */
import { z } from "zod";
import { siteSettingsSchema } from "#contracts";
import { ROLES } from "../auth.ts";
import { isTimeZone } from "./rows.ts";

/** Stars a page pattern may hold: enough for any real URL, and the browser's matcher stays linear anyway. */
export const MAX_PATTERN_STARS = 10;

export const SITE_KEY_PATTERN = /^[A-Za-z0-9_-]{3,64}$/;
const HOSTNAME_PATTERN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** `https://shop.example` or `http://localhost:8080`: scheme, host and optional port, nothing else. */
export function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

const unique = <T>(items: T[]): boolean => new Set(items).size === items.length;
const text = (max: number) => z.string().trim().min(1).max(max);
const jsonObject = z.record(z.string(), z.unknown());
const nonEmpty = (body: object): boolean => Object.keys(body).length > 0;
const NON_EMPTY = { message: "Send at least one field to change." };

// ---- locations
const timezone = z.string().max(64).refine(isTimeZone, "Expected an IANA time zone such as Europe/Berlin or UTC.");
const locationFields = {
  name: text(255),
  externalId: z.string().trim().min(1).max(64).nullable().describe("The CRM's location (sub-account) id; unique per tenant."),
  timezone: timezone.describe("IANA time zone; the day boundaries of the location's statistics. Default UTC."),
  suppressErased: z.boolean().describe("After an erase, keep a keyed hash of the person so their later events make no lead. Default true."),
};
export const locationCreateSchema = z.strictObject({
  ...locationFields,
  externalId: locationFields.externalId.default(null),
  timezone: locationFields.timezone.default("UTC"),
  suppressErased: locationFields.suppressErased.default(true),
});
export const locationPatchSchema = z.strictObject(locationFields).partial().refine(nonEmpty, NON_EMPTY);

// ---- sites
const origin = z
  .string()
  .max(255)
  .refine(isOrigin, "Expected an origin like https://shop.example (no path, no trailing slash).")
  .describe("An origin: scheme, host and optional port, e.g. https://shop.example.");
const siteFields = {
  locationId: z.string().min(1).max(36).describe("The location the site belongs to; on create, the tenant's first location when omitted."),
  timezone: timezone.nullable().describe("Overrides the location's time zone; null follows the location."),
  name: text(255),
  domain: z.string().trim().toLowerCase().regex(HOSTNAME_PATTERN, "Expected a host name like shop.example."),
  siteKey: z
    .string()
    .regex(SITE_KEY_PATTERN, "Expected 3–64 characters of A–Z, a–z, 0–9, _ or -.")
    .toLowerCase()
    .describe("Public key embedded in the snippet, lower-case; generated (sk_ + 24 characters) when omitted on create. Agency users only; a key ever issued is never issued again."),
  active: z.boolean(),
  allowedOrigins: z.array(origin).max(100).refine(unique, "Origins must be unique."),
  settings: siteSettingsSchema,
};
export const siteCreateSchema = z.strictObject({
  ...siteFields,
  locationId: siteFields.locationId.optional(),
  timezone: siteFields.timezone.default(null),
  siteKey: siteFields.siteKey.optional(),
  active: siteFields.active.default(true),
  allowedOrigins: siteFields.allowedOrigins.optional().describe("Default: the site's domain over https, with and without www. An empty list allows every browser origin."),
  settings: siteFields.settings.default({}),
});
export const sitePatchSchema = z.strictObject(siteFields).partial().refine(nonEmpty, NON_EMPTY);

// ---- forms
const formFields = {
  name: text(255),
  pageUrlPattern: z
    .string()
    .trim()
    .max(1024)
    .transform((p) => p.replace(/\*{2,}/g, "*"))
    .refine((p) => (p.match(/\*/g) ?? []).length <= MAX_PATTERN_STARS, `At most ${MAX_PATTERN_STARS} * in a pattern.`)
    .describe(`Page URLs or paths the form appears on; * matches any run of characters (at most ${MAX_PATTERN_STARS}); empty = every page.`),
  selector: text(500),
  alternativeSelectors: z.array(text(500)).max(20),
  active: z.boolean(),
  metadata: jsonObject,
};
export const formCreateSchema = z.strictObject({
  ...formFields,
  pageUrlPattern: formFields.pageUrlPattern.default(""),
  alternativeSelectors: formFields.alternativeSelectors.default([]),
  active: formFields.active.default(true),
  metadata: formFields.metadata.default({}),
});
export const formPatchSchema = z.strictObject(formFields).partial().refine(nonEmpty, NON_EMPTY);

// ---- fields
const fieldFields = {
  selector: text(500),
  name: text(255),
  type: text(50).describe("Input type as the SDK sees it: email, tel, text, select, checkbox, ..."),
  label: z.string().trim().max(255).nullable(),
  required: z.boolean(),
  validationRules: jsonObject,
  displayOrder: z.number().int().min(0).max(1_000_000),
  sensitive: z.boolean().describe("Sensitive values are never captured by the SDK."),
};
export const fieldCreateSchema = z.strictObject({
  ...fieldFields,
  label: fieldFields.label.default(null),
  required: fieldFields.required.default(false),
  validationRules: fieldFields.validationRules.default({}),
  displayOrder: fieldFields.displayOrder.default(0),
  sensitive: fieldFields.sensitive.default(false),
});
export const fieldPatchSchema = z.strictObject(fieldFields).partial().refine(nonEmpty, NON_EMPTY);

// ---- mappings
const mappingFields = {
  targetEntity: text(100).describe('CRM object the value goes to, e.g. "contact".'),
  targetField: text(100).describe('Property of that object, e.g. "email".'),
  transform: text(100).nullable().describe('Named transform applied before the write, e.g. "lowercase"; null for none.'),
  required: z.boolean(),
};
export const mappingCreateSchema = z.strictObject({
  ...mappingFields,
  transform: mappingFields.transform.default(null),
  required: mappingFields.required.default(false),
});
export const mappingPatchSchema = z.strictObject(mappingFields).partial().refine(nonEmpty, NON_EMPTY);

// ---- users
const userFields = {
  email: z.email().max(320).toLowerCase(),
  role: z.enum(ROLES),
  locationIds: z
    .array(z.string().min(1).max(36))
    .max(1000)
    .refine(unique, "Location ids must be unique.")
    .describe("Locations a location user belongs to: it sees every site in them. Ignored for agency users."),
  allowedSites: z
    .array(z.string().min(1).max(36))
    .max(1000)
    .refine(unique, "Site ids must be unique.")
    .describe("When not empty, narrows a location user to these sites of its locations; ignored for agency users."),
};
export const userCreateSchema = z.strictObject({
  ...userFields,
  locationIds: userFields.locationIds.default([]),
  allowedSites: userFields.allowedSites.default([]),
});
export const userPatchSchema = z.strictObject(userFields).partial().refine(nonEmpty, NON_EMPTY);

export type SiteCreate = z.output<typeof siteCreateSchema>;
export type SitePatch = z.output<typeof sitePatchSchema>;
