/**
 * `GET /v1/audit`: the audit trail (audit/audit.ts), newest first, with filters and an opaque cursor. Agency users
 * see their tenant's entries; location users (and sessions scoped to one location) only the entries of their
 * locations, never those without a location (tenant-wide ones: users, tenant-wide exports, agency sign-ins).
 * Another tenant's entries are never seen.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { queryAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { NotFound, toValidationIssues, ValidationFailed } from "./errors.ts";

export const AUDIT_MAX_LIMIT = 200;

const id = (max: number) => z.string().trim().min(1).max(max);
const when = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const auditQuerySchema = z
  .strictObject({
    action: z
      .string()
      .trim()
      .regex(/^[a-z_]+(\.[a-z_]*)?$/, "Expected an action such as site.update, or a prefix ending in a dot such as site.")
      .max(64)
      .optional()
      .describe("An action (site.update), or a prefix ending in a dot (site.) for every action on one kind of object."),
    actorId: id(64).optional().describe("The user who acted."),
    targetType: id(32).optional().describe("site, location, form, field, mapping, user, secret_key, destination, lead."),
    targetId: id(128).optional(),
    locationId: id(36).optional().describe("Entries of one location (a location user: one of its own, else 404)."),
    from: when.optional().describe("Entries at or after this time (ISO 8601)."),
    to: when.optional().describe("Entries before this time (ISO 8601)."),
    limit: z.coerce.number().int().min(1).max(AUDIT_MAX_LIMIT).default(50),
    cursor: z.string().max(128).optional().describe("nextCursor of the previous page."),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ["to"], message: "to must not be before from." });

export const auditEntryOutSchema = z.object({
  id: z.string(),
  at: z.iso.datetime(),
  tenantId: z.string(),
  locationId: z.string().nullable().describe("The location the entry concerns; null for tenant-wide entries (shown to agency users only)."),
  actor: z.object({ userId: z.string(), role: z.string() }).nullable(),
  action: z.string().describe("<object>.<verb>: site.update, secret.create, lead.delete, leads.export, leads.read, auth.sso, ..."),
  targetType: z.string(),
  targetId: z.string().nullable(),
  changes: z
    .record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }))
    .nullable()
    .describe('Changed fields with before and after; secrets, emails and free text as "[changed]"; creates have before null, deletes after null.'),
  meta: z.record(z.string(), z.unknown()).nullable(),
  requestId: z.string().nullable(),
});

const CURSOR_PREFIX = "a1.";
export const encodeAuditCursor = (id: number): string => Buffer.from(`${CURSOR_PREFIX}${id}`).toString("base64url");
export function decodeAuditCursor(cursor: string): number | null {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text.startsWith(CURSOR_PREFIX)) return null;
  const n = Number(text.slice(CURSOR_PREFIX.length));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw ValidationFailed(toValidationIssues(parsed.error.issues));
  return parsed.data;
}

export function registerAuditRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.get("/audit", async (c) => {
    const p = c.get("principal");
    const { cursor, limit, ...filters } = readQuery(c, auditQuerySchema);
    const wholeTenant = p.role === "agency" && !p.sessionLocationId;
    // a location outside the caller's scope is a 404, as on every other filter
    if (filters.locationId && !wholeTenant && !p.locationIds.includes(filters.locationId)) throw NotFound("location");
    let beforeId: number | undefined;
    if (cursor) {
      const decoded = decodeAuditCursor(cursor);
      if (decoded === null) throw ValidationFailed([{ path: "cursor", message: "Not a cursor of this list." }]);
      beforeId = decoded;
    }
    const { items, nextBeforeId } = await queryAudit(db, {
      ...filters,
      tenantId: p.tenantId,
      locationIds: wholeTenant ? null : p.locationIds,
      ...(beforeId !== undefined ? { beforeId } : {}),
      limit,
    });
    return c.json({ items, nextCursor: nextBeforeId === null ? null : encodeAuditCursor(nextBeforeId) });
  });
}
