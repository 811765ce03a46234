/**
 * What the admin API's writes need to write their audit entries (audit/audit.ts): who is asking, the request id, a
 * transaction to make the change and its entry in, and the location an object belongs to (location users see only
 * their locations' entries).
 *
 * Every change through the admin API runs as `db.transaction(tx => { read the row as it is (locked); write the
 * entry; make the change })`: the entry and the change commit together or not at all. The entry is written before
 * the change inside the transaction, so a change the database refuses after the entry (a taken key: 409) rolls the
 * entry back as well; an entry that cannot be written (the table gone, a trigger refusing) fails the change.
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { fieldMappings, fields, forms, sites } from "../../config/schema.ts";
import type { AuditActor } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";

/** The transaction handle `db.transaction` gives its callback. */
export type Tx = Parameters<Parameters<ConfigDb["transaction"]>[0]>[0];
/** The pool or a transaction: what the lookups below read with. */
export type Reader = Pick<ConfigDb, "select">;

/**
 * The request's id, as the request log writes it (app.ts: cf-ray, else the caller's x-request-id, else generated
 * and echoed in the response's x-request-id).
 */
export function requestIdOf(c: Context): string | null {
  const id = c.req.header("cf-ray") ?? c.req.header("x-request-id") ?? c.res.headers.get("x-request-id");
  return id ? id.slice(0, 64) : null;
}

/** The tenant, actor and request id of an authenticated request, for `writeAudit`. */
export function auditBase(c: Context<AuthEnv>): { tenantId: string; actor: AuditActor; requestId: string | null } {
  const p = c.get("principal");
  return { tenantId: p.tenantId, actor: { userId: p.userId, role: p.role }, requestId: requestIdOf(c) };
}

/** The location of a site (null if it is gone). */
export async function siteLocation(db: Reader, siteId: string): Promise<string | null> {
  const [row] = await db.select({ locationId: sites.locationId }).from(sites).where(eq(sites.id, siteId)).limit(1);
  return row?.locationId ?? null;
}

/** The location of a form's site. */
export async function formLocation(db: Reader, formId: string): Promise<string | null> {
  const [row] = await db.select({ locationId: sites.locationId }).from(forms).innerJoin(sites, eq(sites.id, forms.siteId)).where(eq(forms.id, formId)).limit(1);
  return row?.locationId ?? null;
}

/** The location of a field's form's site. */
export async function fieldLocation(db: Reader, fieldId: string): Promise<string | null> {
  const [row] = await db
    .select({ locationId: sites.locationId })
    .from(fields)
    .innerJoin(forms, eq(forms.id, fields.formId))
    .innerJoin(sites, eq(sites.id, forms.siteId))
    .where(eq(fields.id, fieldId))
    .limit(1);
  return row?.locationId ?? null;
}

/** The location of a mapping's field's form's site. */
export async function mappingLocation(db: Reader, mappingId: string): Promise<string | null> {
  const [row] = await db
    .select({ locationId: sites.locationId })
    .from(fieldMappings)
    .innerJoin(fields, eq(fields.id, fieldMappings.fieldId))
    .innerJoin(forms, eq(forms.id, fields.formId))
    .innerJoin(sites, eq(sites.id, forms.siteId))
    .where(eq(fieldMappings.id, mappingId))
    .limit(1);
  return row?.locationId ?? null;
}
