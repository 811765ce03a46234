/**
 * Who may touch what. Every lookup joins up to `sites.tenant_id` (mapping → field → form → site) and filters by
 * the principal's tenant and, for location users, the site ids its locations give it (read from the database at
 * request time, scope.ts), in the same query: an object outside that scope is indistinguishable from one that does
 * not exist (404), so existence never leaks across tenants or locations.
 */
import { and, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import type { ConfigDb } from "../../config/db.ts";
import { fieldMappings, fields, forms, locations, sites, users } from "../../config/schema.ts";
import type { Principal } from "../auth.ts";
import { Forbidden, NotFound } from "./errors.ts";
import type { FieldRow, FormRow, LocationRow, MappingRow, SiteRow, UserRow } from "./rows.ts";

/**
 * The sites a principal may see: its tenant's, narrowed to those of its locations for location users and for
 * sessions scoped to one location.
 */
export function siteScope(p: Principal): SQL {
  const tenant = eq(sites.tenantId, p.tenantId);
  if (p.role === "agency" && !p.sessionLocationId) return tenant;
  return and(tenant, p.siteIds.length > 0 ? inArray(sites.id, p.siteIds) : sql`false`)!;
}

/**
 * Agency-only operations answer 403 to location users before anything is looked up. Tenant-wide ones (users,
 * creating or deleting locations) also answer 403 in a session scoped to one location.
 */
export function requireAgency(p: Principal, what: string, opts: { tenantWide?: boolean } = {}): void {
  if (p.role !== "agency") throw Forbidden(`Only agency users may ${what}.`);
  if (opts.tenantWide && p.sessionLocationId) throw Forbidden(`Open the app at the agency level to ${what}.`);
}

export async function findSite(db: ConfigDb, p: Principal, siteId: string): Promise<SiteRow> {
  const [row] = await db.select().from(sites).where(and(eq(sites.id, siteId), siteScope(p))).limit(1);
  if (!row) throw NotFound("site");
  return row;
}

export async function findForm(db: ConfigDb, p: Principal, formId: string): Promise<FormRow> {
  const [row] = await db
    .select(getTableColumns(forms))
    .from(forms)
    .innerJoin(sites, eq(sites.id, forms.siteId))
    .where(and(eq(forms.id, formId), siteScope(p)))
    .limit(1);
  if (!row) throw NotFound("form");
  return row;
}

export async function findField(db: ConfigDb, p: Principal, fieldId: string): Promise<FieldRow> {
  const [row] = await db
    .select(getTableColumns(fields))
    .from(fields)
    .innerJoin(forms, eq(forms.id, fields.formId))
    .innerJoin(sites, eq(sites.id, forms.siteId))
    .where(and(eq(fields.id, fieldId), siteScope(p)))
    .limit(1);
  if (!row) throw NotFound("field");
  return row;
}

export async function findMapping(db: ConfigDb, p: Principal, mappingId: string): Promise<MappingRow> {
  const [row] = await db
    .select(getTableColumns(fieldMappings))
    .from(fieldMappings)
    .innerJoin(fields, eq(fields.id, fieldMappings.fieldId))
    .innerJoin(forms, eq(forms.id, fields.formId))
    .innerJoin(sites, eq(sites.id, forms.siteId))
    .where(and(eq(fieldMappings.id, mappingId), siteScope(p)))
    .limit(1);
  if (!row) throw NotFound("mapping");
  return row;
}

export async function findUser(db: ConfigDb, p: Principal, userId: string): Promise<UserRow> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, userId), eq(users.tenantId, p.tenantId)))
    .limit(1);
  if (!row) throw NotFound("user");
  return row;
}

/** The ids among `siteIds` that are not sites of `tenantId`. */
export async function foreignSiteIds(db: ConfigDb, tenantId: string, siteIds: string[]): Promise<string[]> {
  if (siteIds.length === 0) return [];
  const owned = await db
    .select({ id: sites.id })
    .from(sites)
    .where(and(eq(sites.tenantId, tenantId), inArray(sites.id, siteIds)));
  const ownedIds = new Set(owned.map((r) => r.id));
  return siteIds.filter((id) => !ownedIds.has(id));
}

/** The locations a principal may see: its tenant's, narrowed to its own for location users. */
export function locationScope(p: Principal): SQL {
  const tenant = eq(locations.tenantId, p.tenantId);
  if (p.role === "agency" && !p.sessionLocationId) return tenant;
  return and(tenant, p.locationIds.length > 0 ? inArray(locations.id, p.locationIds) : sql`false`)!;
}

export async function findLocation(db: ConfigDb, p: Principal, locationId: string): Promise<LocationRow> {
  const [row] = await db.select().from(locations).where(and(eq(locations.id, locationId), locationScope(p))).limit(1);
  if (!row) throw NotFound("location");
  return row;
}

/** The ids among `locationIds` that are not locations of `tenantId`. */
export async function foreignLocationIds(db: ConfigDb, tenantId: string, locationIds: string[]): Promise<string[]> {
  if (locationIds.length === 0) return [];
  const owned = await db
    .select({ id: locations.id })
    .from(locations)
    .where(and(eq(locations.tenantId, tenantId), inArray(locations.id, locationIds)));
  const ownedIds = new Set(owned.map((r) => r.id));
  return locationIds.filter((id) => !ownedIds.has(id));
}
