/** Users of the tenant: agency only. A location user's allowed sites must all be sites of the same tenant. */
import { asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { users } from "../../config/schema.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findUser, foreignSiteIds, requireAgency } from "./access.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, ValidationFailed } from "./errors.ts";
import { userOut } from "./rows.ts";
import { userCreateSchema, userPatchSchema } from "./schemas.ts";

const agencyOnly = (p: Principal): Principal => {
  requireAgency(p, "manage users");
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

export function registerUserRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  // Each handler checks the role first, so a location user gets 403 before any lookup or body check.
  app.get("/users", async (c) => {
    agencyOnly(c.get("principal"));
    const rows = await db
      .select()
      .from(users)
      .where(eq(users.tenantId, c.get("principal").tenantId))
      .orderBy(asc(users.createdAt), asc(users.id));
    return c.json({ items: rows.map(userOut) });
  });

  app.post("/users", async (c) => {
    const p = agencyOnly(c.get("principal"));
    const body = await readBody(c, userCreateSchema);
    await checkAllowedSites(db, p, body.allowedSites);
    const id = crypto.randomUUID();
    try {
      await db.insert(users).values({ ...body, id, tenantId: p.tenantId });
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    return c.json(userOut(await findUser(db, p, id)), 201);
  });

  app.get("/users/:userId", async (c) => c.json(userOut(await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId")))));

  app.patch("/users/:userId", async (c) => {
    const p = agencyOnly(c.get("principal"));
    const user = await findUser(db, p, c.req.param("userId"));
    const body = await readBody(c, userPatchSchema);
    await checkAllowedSites(db, p, body.allowedSites);
    try {
      await db.update(users).set(body).where(eq(users.id, user.id));
    } catch (err) {
      if (isDuplicateKey(err, "email")) throw EMAIL_TAKEN();
      throw err;
    }
    return c.json(userOut(await findUser(db, p, user.id)));
  });

  app.delete("/users/:userId", async (c) => {
    const user = await findUser(db, agencyOnly(c.get("principal")), c.req.param("userId"));
    await db.delete(users).where(eq(users.id, user.id));
    return c.json({ id: user.id, deleted: true });
  });
}
