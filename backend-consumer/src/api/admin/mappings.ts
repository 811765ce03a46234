/** The CRM mapping of a field: at most one per field (a unique index backs the 409). */
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { fieldMappings } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { findField, findMapping } from "./access.ts";
import { auditBase, fieldLocation, mappingLocation } from "./audited.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, NotFound } from "./errors.ts";
import { mappingOut } from "./rows.ts";
import { mappingCreateSchema, mappingPatchSchema } from "./schemas.ts";

const MAPPING_EXISTS = () => Conflict("This field already has a mapping; update or delete it instead.", "fieldId");

export function registerMappingRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.post("/fields/:fieldId/mapping", async (c) => {
    const p = c.get("principal");
    const field = await findField(db, p, c.req.param("fieldId"));
    const body = await readBody(c, mappingCreateSchema);
    const id = crypto.randomUUID();
    try {
      await db.transaction(async (tx) => {
        await writeAudit(tx, { ...auditBase(c), locationId: await fieldLocation(tx, field.id), action: "mapping.create", targetType: "mapping", targetId: id, changes: createdFields({ fieldId: field.id, ...body }) });
        await tx.insert(fieldMappings).values({ ...body, id, fieldId: field.id });
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw MAPPING_EXISTS();
      throw err;
    }
    return c.json(mappingOut(await findMapping(db, p, id)), 201);
  });

  app.get("/fields/:fieldId/mapping", async (c) => {
    const field = await findField(db, c.get("principal"), c.req.param("fieldId"));
    const [row] = await db.select().from(fieldMappings).where(eq(fieldMappings.fieldId, field.id)).limit(1);
    if (!row) throw NotFound("mapping");
    return c.json(mappingOut(row));
  });

  app.patch("/mappings/:mappingId", async (c) => {
    const p = c.get("principal");
    const mapping = await findMapping(db, p, c.req.param("mappingId"));
    const body = await readBody(c, mappingPatchSchema);
    await db.transaction(async (tx) => {
      const [before] = await tx.select().from(fieldMappings).where(eq(fieldMappings.id, mapping.id)).for("update");
      if (!before) throw NotFound("mapping");
      await writeAudit(tx, { ...auditBase(c), locationId: await mappingLocation(tx, mapping.id), action: "mapping.update", targetType: "mapping", targetId: mapping.id, changes: diffFields(before, body) });
      await tx.update(fieldMappings).set(body).where(eq(fieldMappings.id, mapping.id));
    });
    return c.json(mappingOut(await findMapping(db, p, mapping.id)));
  });

  app.delete("/mappings/:mappingId", async (c) => {
    const mapping = await findMapping(db, c.get("principal"), c.req.param("mappingId"));
    await db.transaction(async (tx) => {
      const changes = deletedFields({ fieldId: mapping.fieldId, targetEntity: mapping.targetEntity, targetField: mapping.targetField });
      await writeAudit(tx, { ...auditBase(c), locationId: await mappingLocation(tx, mapping.id), action: "mapping.delete", targetType: "mapping", targetId: mapping.id, changes });
      await tx.delete(fieldMappings).where(eq(fieldMappings.id, mapping.id));
    });
    return c.json({ id: mapping.id, deleted: true });
  });
}
