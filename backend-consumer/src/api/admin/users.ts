/**
 * Users of the tenant: agency only. A location user belongs to locations of the same tenant (and, optionally, is
 * narrowed to some of their sites).
 */
import { asc, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { userLocations, users } from "../../config/schema.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findUser, foreignLocationIds, foreignSiteIds, requireAgency } from "./access.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, ValidationFailed } from "./errors.ts";
import { userOut, type UserRow } from "./rows.ts";
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

/** Replaces a user's locations with `locationIds` (in one transaction). */
async function setLocations(db: ConfigDb, userId: string, locationIds: string[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(userLocations).where(eq(userLocations.userId, userId));
    if (locationIds.length) await tx.insert(userLocations).values(locationIds.map((locationId) => ({ userId, locationId })));
  });
}

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
    try {
      await db.insert(users).values({ ...body, id, tenantId: p.tenantId });
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    await setLocations(db, id, locationIds);
    return c.json(await one(await findUser(db, p, id)), 201);
  });

  app.get("/users/:userId", async (c) => c.json(await one(await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId")))));

  app.patch("/users/:userId", async (c) => {
    const p = agencyOnly(c.get("principal"));
    const user = await findUser(db, p, c.req.param("userId"));
    const { locationIds, ...body } = await readBody(c, userPatchSchema);
    await checkAllowedSites(db, p, body.allowedSites);
    await checkLocations(db, p, locationIds);
    try {
      if (Object.keys(body).length) await db.update(users).set(body).where(eq(users.id, user.id));
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    if (locationIds) await setLocations(db, user.id, locationIds);
    return c.json(await one(await findUser(db, p, user.id)));
  });

  app.delete("/users/:userId", async (c) => {
    const user = await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId"));
    await db.delete(users).where(eq(users.id, user.id));
    return c.json({ id: user.id, deleted: true });
  });
}
