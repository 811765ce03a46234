/**
 * Locations: the agency's client businesses (the CRM's sub-accounts). Agency users manage them; a location user
 * reads the locations it belongs to. A location with sites cannot be deleted (move or delete its sites first).
 */
import { and, asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { locations, sites } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { findLocation, locationScope, requireAgency } from "./access.ts";
import { auditBase } from "./audited.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, NotFound } from "./errors.ts";
import { locationOut } from "./rows.ts";
import { locationCreateSchema, locationPatchSchema } from "./schemas.ts";

const EXTERNAL_ID_TAKEN = () => Conflict("Another location of this tenant has that external id.", "externalId");

export function registerLocationRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.get("/locations", async (c) => {
    const rows = await db.select().from(locations).where(locationScope(c.get("principal"))).orderBy(asc(locations.createdAt), asc(locations.id));
    return c.json({ items: rows.map(locationOut) });
  });

  app.post("/locations", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "create locations", { tenantWide: true });
    const body = await readBody(c, locationCreateSchema);
    const id = crypto.randomUUID();
    try {
      await db.transaction(async (tx) => {
        await writeAudit(tx, { ...auditBase(c), locationId: id, action: "location.create", targetType: "location", targetId: id, changes: createdFields(body) });
        await tx.insert(locations).values({ ...body, id, tenantId: p.tenantId });
      });
    } catch (err) {
      if (isDuplicateKey(err, "external")) throw EXTERNAL_ID_TAKEN();
      throw err;
    }
    return c.json(locationOut(await findLocation(db, p, id)), 201);
  });

  app.get("/locations/:locationId", async (c) => c.json(locationOut(await findLocation(db, c.get("principal"), c.req.param("locationId")))));

  app.patch("/locations/:locationId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "change locations");
    const location = await findLocation(db, p, c.req.param("locationId"));
    const body = await readBody(c, locationPatchSchema);
    try {
      await db.transaction(async (tx) => {
        const [before] = await tx.select().from(locations).where(eq(locations.id, location.id)).for("update");
        if (!before) throw NotFound("location");
        await writeAudit(tx, { ...auditBase(c), locationId: location.id, action: "location.update", targetType: "location", targetId: location.id, changes: diffFields(before, body) });
        await tx.update(locations).set(body).where(eq(locations.id, location.id));
      });
    } catch (err) {
      if (isDuplicateKey(err, "external")) throw EXTERNAL_ID_TAKEN();
      throw err;
    }
    return c.json(locationOut(await findLocation(db, p, location.id)));
  });

  app.delete("/locations/:locationId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "delete locations", { tenantWide: true });
    const location = await findLocation(db, p, c.req.param("locationId"));
    await db.transaction(async (tx) => {
      const [site] = await tx.select({ id: sites.id }).from(sites).where(and(eq(sites.locationId, location.id))).limit(1);
      if (site) throw Conflict("The location still has sites: move or delete them first.", "sites");
      const identity = { name: location.name, externalId: location.externalId };
      await writeAudit(tx, { ...auditBase(c), locationId: location.id, action: "location.delete", targetType: "location", targetId: location.id, changes: deletedFields(identity) });
      await tx.delete(locations).where(eq(locations.id, location.id));
    });
    return c.json({ id: location.id, deleted: true });
  });
}
