/**
 * Users of the tenant: agency only. A location user belongs to locations of the same tenant (and, optionally, is
 * narrowed to some of their sites).
 */
import { asc, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { userLocations, users } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, maskFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findUser, foreignLocationIds, foreignSiteIds, requireAgency } from "./access.ts";
import { auditBase, type Tx } from "./audited.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, NotFound, ValidationFailed } from "./errors.ts";
import { jsonValue, userOut, type UserRow } from "./rows.ts";
import { userCreateSchema, userPatchSchema } from "./schemas.ts";

const agencyOnly = (p: Principal): Principal => {
  requireAgency(p, "manage users", { tenantWide: true });
  return p;
};
const EMAIL_TAKEN = () => Conflict("A user with that email already exists.", "email");

async function checkAllowedSites(db: ConfigDb, p: Principal, siteIds: string[] | undefined): Promise<void> {
  if (!siteIds) return;
  const foreign = await foreignSiteIds(db, p.tenantId, siteIds);
  if (foreign.length > 0) {
    throw ValidationFailed(
      siteIds.flatMap((id, i) => (foreign.includes(id) ? [{ path: `allowedSites.${i}`, message: "No such site in this tenant." }] : [])),
    );
  }
}

async function checkLocations(db: ConfigDb, p: Principal, locationIds: string[] | undefined): Promise<void> {
  if (!locationIds) return;
  const foreign = await foreignLocationIds(db, p.tenantId, locationIds);
  if (foreign.length > 0) {
    throw ValidationFailed(
      locationIds.flatMap((id, i) => (foreign.includes(id) ? [{ path: `locationIds.${i}`, message: "No such location in this tenant." }] : [])),
    );
  }
}

/** The users as the API shows them, each with its locations. */
async function withLocations(db: ConfigDb, rows: UserRow[]) {
  const ids = rows.map((r) => r.id);
  const links = ids.length ? await db.select().from(userLocations).where(inArray(userLocations.userId, ids)) : [];
  return rows.map((r) => userOut(r, links.filter((l) => l.userId === r.id).map((l) => l.locationId).sort()));
}

/** Replaces a user's locations with `locationIds` (inside the caller's transaction). */
async function setLocations(tx: Tx, userId: string, locationIds: string[]): Promise<void> {
  await tx.delete(userLocations).where(eq(userLocations.userId, userId));
  if (locationIds.length) await tx.insert(userLocations).values(locationIds.map((locationId) => ({ userId, locationId })));
}

/**
 * Users are tenant-wide (only agency users at the agency level manage them, and one may belong to several
 * locations), so their entries have no location: location users do not see them. Email addresses are personal
 * data an append-only trail could never erase: an email change is recorded as changed, without the addresses
 * (the user's id names it).
 */
const PERSONAL = ["email"] as const;

export function registerUserRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  const one = async (row: UserRow) => (await withLocations(db, [row]))[0]!;
  // Each handler checks the role first, so a location user gets 403 before any lookup or body check.
  app.get("/users", async (c) => {
    agencyOnly(c.get("principal"));
    const rows = await db
      .select()
      .from(users)
      .where(eq(users.tenantId, c.get("principal").tenantId))
      .orderBy(asc(users.createdAt), asc(users.id));
    return c.json({ items: await withLocations(db, rows) });
  });

  app.post("/users", async (c) => {
    const p = agencyOnly(c.get("principal"));
    const { locationIds, ...body } = await readBody(c, userCreateSchema);
    await checkAllowedSites(db, p, body.allowedSites);
    await checkLocations(db, p, locationIds);
    const id = crypto.randomUUID();
    const base = auditBase(c);
    try {
      await db.transaction(async (tx) => {
        const changes = maskFields(createdFields({ ...body, locationIds: [...locationIds].sort() }), PERSONAL);
        await writeAudit(tx, { ...base, locationId: null, action: "user.create", targetType: "user", targetId: id, changes });
        await tx.insert(users).values({ ...body, id, tenantId: p.tenantId });
        await setLocations(tx, id, locationIds);
      });
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    return c.json(await one(await findUser(db, p, id)), 201);
  });

  app.get("/users/:userId", async (c) => c.json(await one(await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId")))));

  app.patch("/users/:userId", async (c) => {
    const p = agencyOnly(c.get("principal"));
    const user = await findUser(db, p, c.req.param("userId"));
    const { locationIds, ...body } = await readBody(c, userPatchSchema);
    await checkAllowedSites(db, p, body.allowedSites);
    await checkLocations(db, p, locationIds);
    const base = auditBase(c);
    try {
      await db.transaction(async (tx) => {
        const [before] = await tx.select().from(users).where(eq(users.id, user.id)).for("update");
        if (!before) throw NotFound("user");
        const linked = locationIds ? (await tx.select().from(userLocations).where(eq(userLocations.userId, user.id))).map((l) => l.locationId).sort() : [];
        const changes = diffFields(
          { ...before, allowedSites: jsonValue(before.allowedSites), locationIds: linked },
          { ...body, ...(locationIds ? { locationIds: [...locationIds].sort() } : {}) },
        );
        await writeAudit(tx, { ...base, locationId: null, action: "user.update", targetType: "user", targetId: user.id, changes: maskFields(changes, PERSONAL) });
        if (Object.keys(body).length) await tx.update(users).set(body).where(eq(users.id, user.id));
        if (locationIds) await setLocations(tx, user.id, locationIds);
      });
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    return c.json(await one(await findUser(db, p, user.id)));
  });

  app.delete("/users/:userId", async (c) => {
    const user = await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId"));
    await db.transaction(async (tx) => {
      await writeAudit(tx, { ...auditBase(c), locationId: null, action: "user.delete", targetType: "user", targetId: user.id, changes: deletedFields({ role: user.role }) });
      await tx.delete(users).where(eq(users.id, user.id));
    });
    return c.json({ id: user.id, deleted: true });
  });
}
