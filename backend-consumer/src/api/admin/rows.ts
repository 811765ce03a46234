/**
 * Database rows → response bodies. The output schemas document the responses (OpenAPI) and type the serializers.
 * MariaDB stores JSON columns as LONGTEXT, so mysql2 hands them back as strings: they are parsed here.
 */
import { z } from "zod";
import { siteSettingsSchema } from "#contracts";
import type { fieldMappings, fields, forms, locations, sites, users } from "../../config/schema.ts";
import { ROLES } from "../auth.ts";

const timestamps = { createdAt: z.iso.datetime(), updatedAt: z.iso.datetime() };
const jsonObject = z.record(z.string(), z.unknown());

/** IANA time zone names as Intl knows them ("UTC", "Europe/Berlin", "America/New_York"). */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export const locationOutSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  externalId: z.string().nullable().describe("The CRM's location (sub-account) id, unique per tenant."),
  timezone: z.string().describe("IANA time zone; the day boundaries of its sites' statistics."),
  suppressErased: z.boolean().describe("Whether erased people are suppressed (their later events make no lead)."),
  ...timestamps,
});
export const siteOutSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  locationId: z.string(),
  timezone: z.string().nullable().describe("Overrides the location's time zone when set."),
  name: z.string(),
  domain: z.string(),
  siteKey: z.string(),
  active: z.boolean(),
  allowedOrigins: z.array(z.string()),
  settings: siteSettingsSchema,
  /** Whether the edge serves this site's current config: `quarantined` when its rows do not compile (with why). */
  sync: z.object({ state: z.enum(["ok", "quarantined"]), reason: z.string().optional(), since: z.iso.datetime().optional() }),
  ...timestamps,
});
export const formOutSchema = z.object({
  id: z.string(),
  siteId: z.string(),
  name: z.string(),
  pageUrlPattern: z.string(),
  selector: z.string(),
  alternativeSelectors: z.array(z.string()),
  active: z.boolean(),
  metadata: jsonObject,
  ...timestamps,
});
export const fieldOutSchema = z.object({
  id: z.string(),
  formId: z.string(),
  selector: z.string(),
  name: z.string(),
  type: z.string(),
  label: z.string().nullable(),
  required: z.boolean(),
  validationRules: jsonObject,
  displayOrder: z.number().int(),
  sensitive: z.boolean(),
  ...timestamps,
});
export const mappingOutSchema = z.object({
  id: z.string(),
  fieldId: z.string(),
  targetEntity: z.string(),
  targetField: z.string(),
  transform: z.string().nullable(),
  required: z.boolean(),
  ...timestamps,
});
export const userOutSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  email: z.string(),
  locationIds: z.array(z.string()).describe("Locations a location user belongs to (empty for agency users, who see all)."),
  role: z.enum(ROLES),
  allowedSites: z.array(z.string()),
  ...timestamps,
});

export type LocationRow = typeof locations.$inferSelect;
export type SiteRow = typeof sites.$inferSelect;
export type FormRow = typeof forms.$inferSelect;
export type FieldRow = typeof fields.$inferSelect;
export type MappingRow = typeof fieldMappings.$inferSelect;
export type UserRow = typeof users.$inferSelect;

/** A JSON column's value, whether the driver parsed it (MySQL) or not (MariaDB). */
export function jsonValue<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

const iso = (row: { createdAt: Date; updatedAt: Date }) => ({
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

export type SiteSync = z.infer<typeof siteOutSchema>["sync"];

export const locationOut = (r: LocationRow): z.infer<typeof locationOutSchema> => ({
  id: r.id,
  tenantId: r.tenantId,
  name: r.name,
  externalId: r.externalId,
  timezone: r.timezone,
  suppressErased: r.suppressErased,
  ...iso(r),
});

export const siteOut = (r: SiteRow, sync: SiteSync = { state: "ok" }): z.infer<typeof siteOutSchema> => ({
  id: r.id,
  tenantId: r.tenantId,
  locationId: r.locationId,
  timezone: r.timezone,
  name: r.name,
  domain: r.domain,
  siteKey: r.siteKey,
  active: r.active,
  allowedOrigins: jsonValue(r.allowedOrigins),
  settings: jsonValue(r.settings),
  sync,
  ...iso(r),
});

export const formOut = (r: FormRow): z.infer<typeof formOutSchema> => ({
  id: r.id,
  siteId: r.siteId,
  name: r.name,
  pageUrlPattern: r.pageUrlPattern,
  selector: r.selector,
  alternativeSelectors: jsonValue(r.alternativeSelectors),
  active: r.active,
  metadata: jsonValue(r.metadata),
  ...iso(r),
});

export const fieldOut = (r: FieldRow): z.infer<typeof fieldOutSchema> => ({
  id: r.id,
  formId: r.formId,
  selector: r.selector,
  name: r.name,
  type: r.type,
  label: r.label,
  required: r.required,
  validationRules: jsonValue(r.validationRules),
  displayOrder: r.displayOrder,
  sensitive: r.sensitive,
  ...iso(r),
});

export const mappingOut = (r: MappingRow): z.infer<typeof mappingOutSchema> => ({
  id: r.id,
  fieldId: r.fieldId,
  targetEntity: r.targetEntity,
  targetField: r.targetField,
  transform: r.transform,
  required: r.required,
  ...iso(r),
});

export const userOut = (r: UserRow, locationIds: string[] = []): z.infer<typeof userOutSchema> => ({
  id: r.id,
  tenantId: r.tenantId,
  email: r.email,
  locationIds,
  role: r.role,
  allowedSites: jsonValue(r.allowedSites),
  ...iso(r),
});
