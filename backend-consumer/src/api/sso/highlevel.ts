/**
 * Single sign-on from the CRM's Custom Page. The page asks its parent (the CRM) for the signed-in user; the CRM
 * answers with the user context encrypted with the app's Shared Secret (crypto-js-passphrase.ts); the page posts it
 * here and gets a short-lived session token. The context names the CRM's company (our tenant's `external_id`), the
 * user, its kind (agency or location user) and, when the page is opened inside a location, that location (our
 * location's `external_id` within the tenant).
 *
 * The user is provisioned on first sight and its role and email are kept in step with the CRM on every sign-in.
 * An agency user opened inside a location gets a session scoped to that location; a location user is made a member
 * of the location it opens and scoped to it.
 */
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { locations, tenants, userLocations, users } from "../../config/schema.ts";
import { isDuplicateKey } from "../admin/errors.ts";
import { decryptPassphrasePayload, UndecryptablePayload } from "./crypto-js-passphrase.ts";

/** The decrypted user context, as the CRM documents it (unknown extra fields are ignored). */
export const userContextSchema = z.object({
  userId: z.string().min(1).max(64),
  companyId: z.string().min(1).max(64),
  role: z.string().max(64).optional(),
  type: z.enum(["agency", "location"]),
  userName: z.string().max(255).optional(),
  email: z.email().max(320),
  activeLocation: z.string().min(1).max(64).optional(),
});
export type UserContext = z.infer<typeof userContextSchema>;

/**
 * The pool, or the transaction the sign-in runs in with its audit entry (route.ts; read committed, so that a
 * retry after a concurrent sign-in's duplicate key sees that sign-in's row).
 */
export type SsoDb = Pick<ConfigDb, "select" | "insert" | "update">;

/** A refusal: 401 with a named error. */
export class SsoRefused extends Error {
  override readonly name = "SsoRefused";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface SsoOptions {
  sharedSecret: string;
  /** Create the tenant (and locations) of a company seen for the first time, instead of refusing it. */
  autoCreateTenants: boolean;
}

export interface SsoIdentity {
  userId: string;
  tenantId: string;
  /** Our location the session is scoped to, when the page was opened inside one. */
  locationId: string | null;
  role: "agency" | "location";
  email: string;
  name: string | null;
  /** What this sign-in did to our user row: created it, brought it in step with the CRM (role before), or nothing. */
  provisioned: { action: "created" } | { action: "updated"; roleBefore: string } | { action: "none" };
}

/** Decrypts and validates the payload; every failure is the same kind of refusal, named. */
export function readUserContext(encryptedData: string, sharedSecret: string): UserContext {
  let plain: string;
  try {
    plain = decryptPassphrasePayload(encryptedData, sharedSecret);
  } catch (err) {
    if (err instanceof UndecryptablePayload) throw new SsoRefused("invalid_payload", err.message);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(plain);
  } catch {
    throw new SsoRefused("invalid_payload", "The payload does not hold JSON.");
  }
  const parsed = userContextSchema.safeParse(json);
  if (!parsed.success) throw new SsoRefused("invalid_user_context", `The user context is invalid: ${parsed.error.issues[0]?.path.join(".") || "body"}.`);
  return parsed.data;
}

async function tenantOf(db: SsoDb, ctx: UserContext, opts: SsoOptions): Promise<string> {
  const [tenant] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.externalId, ctx.companyId)).limit(1);
  if (tenant) return tenant.id;
  if (!opts.autoCreateTenants) throw new SsoRefused("unknown_company", "This company has not been set up in the tracker.");
  const id = crypto.randomUUID();
  try {
    await db.insert(tenants).values({ id, name: `Company ${ctx.companyId}`, externalId: ctx.companyId });
    return id;
  } catch (err) {
    // another sign-in created it at the same moment
    if (!isDuplicateKey(err)) throw err;
    return tenantOf(db, ctx, { ...opts, autoCreateTenants: false });
  }
}

async function locationOf(db: SsoDb, tenantId: string, ctx: UserContext, opts: SsoOptions): Promise<string | null> {
  if (!ctx.activeLocation) {
    if (ctx.type === "location") throw new SsoRefused("location_required", "A location user's context must name its location.");
    return null;
  }
  const [location] = await db
    .select({ id: locations.id })
    .from(locations)
    .where(and(eq(locations.tenantId, tenantId), eq(locations.externalId, ctx.activeLocation)))
    .limit(1);
  if (location) return location.id;
  if (!opts.autoCreateTenants) throw new SsoRefused("location_not_in_company", "This location does not belong to the company.");
  const id = crypto.randomUUID();
  try {
    await db.insert(locations).values({ id, tenantId, name: `Location ${ctx.activeLocation}`, externalId: ctx.activeLocation });
    return id;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return locationOf(db, tenantId, ctx, { ...opts, autoCreateTenants: false });
  }
}

/**
 * The user of this context in our tables: found by its CRM id within the tenant, else by email (a user created
 * through the admin API before its first sign-in), else created. Role and email follow the CRM each time.
 */
async function provisionUser(db: SsoDb, tenantId: string, ctx: UserContext): Promise<{ userId: string; provisioned: SsoIdentity["provisioned"] }> {
  const email = ctx.email.toLowerCase();
  const [byExternal] = await db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.externalId, ctx.userId))).limit(1);
  const [byEmail] = byExternal ? [] : await db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.email, email), isNull(users.externalId))).limit(1);
  const existing = byExternal ?? byEmail;
  const name = ctx.userName ?? null;
  if (existing) {
    if (existing.role !== ctx.type || existing.email !== email || existing.externalId !== ctx.userId || existing.name !== name) {
      await db.update(users).set({ role: ctx.type, email, externalId: ctx.userId, name }).where(eq(users.id, existing.id));
      return { userId: existing.id, provisioned: { action: "updated", roleBefore: existing.role } };
    }
    return { userId: existing.id, provisioned: { action: "none" } };
  }
  const id = crypto.randomUUID();
  try {
    await db.insert(users).values({ id, tenantId, email, name, role: ctx.type, externalId: ctx.userId, allowedSites: [] });
    return { userId: id, provisioned: { action: "created" } };
  } catch (err) {
    // the same user signing in twice at once, or an email another CRM user of this tenant already has
    if (isDuplicateKey(err, "external")) return provisionUser(db, tenantId, ctx);
    if (isDuplicateKey(err, "email")) throw new SsoRefused("email_in_use", "Another user of this company has this email.");
    throw err;
  }
}

/** Signs in the user of an encrypted context: who it is, and the location its session is scoped to. */
export async function signInWithHighLevel(db: SsoDb, encryptedData: string, opts: SsoOptions): Promise<SsoIdentity> {
  const ctx = readUserContext(encryptedData, opts.sharedSecret);
  const tenantId = await tenantOf(db, ctx, opts);
  const locationId = await locationOf(db, tenantId, ctx, opts);
  const { userId, provisioned } = await provisionUser(db, tenantId, ctx);
  if (ctx.type === "location" && locationId) {
    await db.insert(userLocations).ignore().values({ userId, locationId });
  }
  return { userId, tenantId, locationId, role: ctx.type, email: ctx.email.toLowerCase(), name: ctx.userName ?? null, provisioned };
}
