/**
 * The audit trail's one writer. Admin changes call `writeAudit` with the transaction that makes the change, so the
 * entry and the change commit together or not at all; actions on MongoDB data (erase, export, replay) write their
 * entry before they start (MariaDB is then the record that they were asked for) and their outcome after.
 * The table refuses UPDATE and DELETE (drizzle/0013), so the trail is append-only whoever holds the connection.
 */
import { and, desc, eq, gte, inArray, like, lt, sql, type SQL } from "drizzle-orm";
import type { ConfigDb } from "../config/db.ts";
import { auditLog } from "../config/schema.ts";

/** A transaction or the pool: anything drizzle can insert with. */
export type AuditWriter = Pick<ConfigDb, "insert">;

export interface AuditActor {
  userId: string;
  role: string;
}

export interface AuditEntry {
  tenantId: string;
  /** The location the entry concerns; location users see only their locations' entries. */
  locationId?: string | null;
  actor: AuditActor | null;
  /** `<object>.<verb>`: site.update, privacy.erase, auth.sso, leads.read ... */
  action: string;
  targetType: string;
  targetId?: string | null;
  changes?: FieldChanges | null;
  meta?: Record<string, unknown> | null;
  requestId?: string | null;
}

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

/** Fields whose values never go into the trail (a change to them is recorded as "changed", without values). */
const MASKED = /secret|token|password|apikey|api_key|key_enc|_enc$|Enc$/i;
export const MASK = "[changed]";

/**
 * The fields that differ between `before` and `after` (only those named in `after`, as a PATCH names them), with
 * both values; secrets masked. Dates compare by time, objects by JSON.
 */
export function diffFields(before: Record<string, unknown> | null, after: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const [field, next] of Object.entries(after)) {
    if (next === undefined) continue;
    const prev = before?.[field];
    if (same(prev, next)) continue;
    changes[field] = MASKED.test(field) ? { before: MASK, after: MASK } : { before: plain(prev), after: plain(next) };
  }
  return changes;
}

function plain(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : v === undefined ? null : v;
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return plain(a) === plain(b);
  return stable(a ?? null) === stable(b ?? null);
}

/** JSON with object keys sorted: the same object read back from the database in another key order is the same. */
function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** Appends one entry; throws if it cannot (and so fails the transaction it is part of). */
export async function writeAudit(db: AuditWriter, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values(row(entry));
}

function row(entry: AuditEntry): typeof auditLog.$inferInsert {
  return {
    tenantId: entry.tenantId,
    locationId: entry.locationId ?? null,
    actorId: entry.actor?.userId ?? null,
    actorRole: entry.actor?.role ?? null,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    changes: entry.changes && Object.keys(entry.changes).length ? entry.changes : null,
    meta: entry.meta ?? null,
    requestId: entry.requestId?.slice(0, 64) ?? null,
  };
}

/** `changes` with the values of `fields` replaced by the mask: for personal data (an email, free text) that must not be kept. */
export function maskFields(changes: FieldChanges, fields: readonly string[]): FieldChanges {
  const out: FieldChanges = { ...changes };
  for (const f of fields) if (out[f]) out[f] = { before: MASK, after: MASK };
  return out;
}

/** A JSON value with every key that looks like a secret masked, at any depth (a destination's config). */
export function maskDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskDeep);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, MASKED.test(k) ? MASK : maskDeep(v)]));
  }
  if (typeof value === "string" && /^https?:\/\/[^/]*@/i.test(value)) {
    // credentials in a URL's userinfo
    try {
      const url = new URL(value);
      url.username = "";
      url.password = "";
      return url.toString();
    } catch {
      return MASK;
    }
  }
  return value;
}

/** A created object's fields as `changes` (before null), secrets masked. */
export const createdFields = (after: Record<string, unknown>): FieldChanges => diffFields(null, after);

/** A deleted object's identifying fields as `changes` (after null). */
export function deletedFields(before: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const [field, prev] of Object.entries(before)) {
    if (prev === undefined) continue;
    changes[field] = MASKED.test(field) ? { before: MASK, after: MASK } : { before: plain(prev), after: null };
  }
  return changes;
}

/** Appends several entries in one statement: all of them or none. */
export async function writeAuditMany(db: AuditWriter, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.insert(auditLog).values(entries.map(row));
}

// ---- reading the trail

export interface AuditFilters {
  /** Exact action (`site.update`), or a prefix ending in a dot (`site.`). */
  action?: string;
  actorId?: string;
  targetType?: string;
  targetId?: string;
  locationId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

export interface AuditQuery extends AuditFilters {
  tenantId: string;
  /** Only entries of these locations (location users); null: the whole tenant, entries without a location included. */
  locationIds: string[] | null;
  /** Entries older than this id (the cursor). */
  beforeId?: number;
  limit: number;
}

export interface AuditRecord {
  id: string;
  at: string;
  tenantId: string;
  locationId: string | null;
  actor: AuditActor | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: FieldChanges | null;
  meta: Record<string, unknown> | null;
  requestId: string | null;
}

const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
/** MariaDB hands JSON columns back as text. */
const parsed = <T>(v: T | string | null): T | null => (typeof v === "string" ? (JSON.parse(v) as T) : v);

/** Newest first, `limit` entries and whether there are more (the id to pass back as `beforeId`). */
export async function queryAudit(db: Pick<ConfigDb, "select">, q: AuditQuery): Promise<{ items: AuditRecord[]; nextBeforeId: number | null }> {
  const where: SQL[] = [eq(auditLog.tenantId, q.tenantId)];
  if (q.locationIds) where.push(q.locationIds.length ? inArray(auditLog.locationId, q.locationIds) : sql`false`);
  if (q.action) where.push(q.action.endsWith(".") ? like(auditLog.action, `${likeEscape(q.action)}%`) : eq(auditLog.action, q.action));
  if (q.actorId) where.push(eq(auditLog.actorId, q.actorId));
  if (q.targetType) where.push(eq(auditLog.targetType, q.targetType));
  if (q.targetId) where.push(eq(auditLog.targetId, q.targetId));
  if (q.locationId) where.push(eq(auditLog.locationId, q.locationId));
  if (q.from) where.push(gte(auditLog.at, q.from));
  if (q.to) where.push(lt(auditLog.at, q.to));
  if (q.beforeId !== undefined) where.push(lt(auditLog.id, q.beforeId));
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const items = page.map(
    (r): AuditRecord => ({
      id: String(r.id),
      at: r.at.toISOString(),
      tenantId: r.tenantId,
      locationId: r.locationId,
      actor: r.actorId ? { userId: r.actorId, role: r.actorRole ?? "" } : null,
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      changes: parsed(r.changes),
      meta: parsed(r.meta),
      requestId: r.requestId,
    }),
  );
  return { items, nextBeforeId: rows.length > q.limit ? page.at(-1)!.id : null };
}
