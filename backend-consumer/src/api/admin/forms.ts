/** Forms of a site: anyone who may see the site manages its forms. */
import { asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { forms } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { findForm, findSite } from "./access.ts";
import { auditBase, formLocation } from "./audited.ts";
import { readBody } from "./body.ts";
import { NotFound } from "./errors.ts";
import { formOut, jsonValue } from "./rows.ts";
import { formCreateSchema, formPatchSchema } from "./schemas.ts";

export function registerFormRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.get("/sites/:siteId/forms", async (c) => {
    const site = await findSite(db, c.get("principal"), c.req.param("siteId"));
    const rows = await db.select().from(forms).where(eq(forms.siteId, site.id)).orderBy(asc(forms.createdAt), asc(forms.id));
    return c.json({ items: rows.map(formOut) });
  });

  app.post("/sites/:siteId/forms", async (c) => {
    const p = c.get("principal");
    const site = await findSite(db, p, c.req.param("siteId"));
    const body = await readBody(c, formCreateSchema);
    const id = crypto.randomUUID();
    await db.transaction(async (tx) => {
      await writeAudit(tx, { ...auditBase(c), locationId: site.locationId, action: "form.create", targetType: "form", targetId: id, changes: createdFields({ siteId: site.id, ...body }) });
      await tx.insert(forms).values({ ...body, id, siteId: site.id });
    });
    return c.json(formOut(await findForm(db, p, id)), 201);
  });

  app.get("/forms/:formId", async (c) => c.json(formOut(await findForm(db, c.get("principal"), c.req.param("formId")))));

  app.patch("/forms/:formId", async (c) => {
    const p = c.get("principal");
    const form = await findForm(db, p, c.req.param("formId"));
    const body = await readBody(c, formPatchSchema);
    await db.transaction(async (tx) => {
      const [before] = await tx.select().from(forms).where(eq(forms.id, form.id)).for("update");
      if (!before) throw NotFound("form");
      const shown = { ...before, alternativeSelectors: jsonValue(before.alternativeSelectors), metadata: jsonValue(before.metadata) };
      await writeAudit(tx, { ...auditBase(c), locationId: await formLocation(tx, form.id), action: "form.update", targetType: "form", targetId: form.id, changes: diffFields(shown, body) });
      await tx.update(forms).set(body).where(eq(forms.id, form.id));
    });
    return c.json(formOut(await findForm(db, p, form.id)));
  });

  app.delete("/forms/:formId", async (c) => {
    const form = await findForm(db, c.get("principal"), c.req.param("formId"));
    await db.transaction(async (tx) => {
      const changes = deletedFields({ siteId: form.siteId, name: form.name });
      await writeAudit(tx, { ...auditBase(c), locationId: await formLocation(tx, form.id), action: "form.delete", targetType: "form", targetId: form.id, changes });
      await tx.delete(forms).where(eq(forms.id, form.id));
    });
    return c.json({ id: form.id, deleted: true });
  });
}
