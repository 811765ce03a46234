/** Fields of a form, listed in display order. */
import { asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { fields } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { findField, findForm } from "./access.ts";
import { auditBase, fieldLocation, formLocation } from "./audited.ts";
import { readBody } from "./body.ts";
import { NotFound } from "./errors.ts";
import { fieldOut, jsonValue } from "./rows.ts";
import { fieldCreateSchema, fieldPatchSchema } from "./schemas.ts";

export function registerFieldRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.get("/forms/:formId/fields", async (c) => {
    const form = await findForm(db, c.get("principal"), c.req.param("formId"));
    const rows = await db
      .select()
      .from(fields)
      .where(eq(fields.formId, form.id))
      .orderBy(asc(fields.displayOrder), asc(fields.createdAt), asc(fields.id));
    return c.json({ items: rows.map(fieldOut) });
  });

  app.post("/forms/:formId/fields", async (c) => {
    const p = c.get("principal");
    const form = await findForm(db, p, c.req.param("formId"));
    const body = await readBody(c, fieldCreateSchema);
    const id = crypto.randomUUID();
    await db.transaction(async (tx) => {
      await writeAudit(tx, { ...auditBase(c), locationId: await formLocation(tx, form.id), action: "field.create", targetType: "field", targetId: id, changes: createdFields({ formId: form.id, ...body }) });
      await tx.insert(fields).values({ ...body, id, formId: form.id });
    });
    return c.json(fieldOut(await findField(db, p, id)), 201);
  });

  app.get("/fields/:fieldId", async (c) => c.json(fieldOut(await findField(db, c.get("principal"), c.req.param("fieldId")))));

  app.patch("/fields/:fieldId", async (c) => {
    const p = c.get("principal");
    const field = await findField(db, p, c.req.param("fieldId"));
    const body = await readBody(c, fieldPatchSchema);
    await db.transaction(async (tx) => {
      const [before] = await tx.select().from(fields).where(eq(fields.id, field.id)).for("update");
      if (!before) throw NotFound("field");
      const shown = { ...before, validationRules: jsonValue(before.validationRules) };
      await writeAudit(tx, { ...auditBase(c), locationId: await fieldLocation(tx, field.id), action: "field.update", targetType: "field", targetId: field.id, changes: diffFields(shown, body) });
      await tx.update(fields).set(body).where(eq(fields.id, field.id));
    });
    return c.json(fieldOut(await findField(db, p, field.id)));
  });

  app.delete("/fields/:fieldId", async (c) => {
    const field = await findField(db, c.get("principal"), c.req.param("fieldId"));
    await db.transaction(async (tx) => {
      const changes = deletedFields({ formId: field.formId, name: field.name, selector: field.selector });
      await writeAudit(tx, { ...auditBase(c), locationId: await fieldLocation(tx, field.id), action: "field.delete", targetType: "field", targetId: field.id, changes });
      await tx.delete(fields).where(eq(fields.id, field.id));
    });
    return c.json({ id: field.id, deleted: true });
  });
}
