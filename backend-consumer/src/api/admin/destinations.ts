/**
 * Destinations: where a location's (or one site's) leads are delivered (see crm/). Everyone in scope may list and
 * read them; agency users create, change, delete and replay them. Secrets (a token, a signing secret) go in and
 * never come out: they are encrypted at rest and the API only says whether one is set. A webhook's signing secret
 * may be left out, and is then generated and shown once, in the creation's answer.
 */
import { and, asc, eq, inArray, isNull, or } from "drizzle-orm";
import type { Hono } from "hono";
import type { Db } from "mongodb";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { destinations } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, MASK, maskDeep, writeAudit } from "../../audit/audit.ts";
import type { Connector } from "../../crm/connectors/types.ts";
import type { DestinationDirectory } from "../../crm/directory.ts";
import { enqueueLeads } from "../../crm/outbox.ts";
import { DELIVERY_POLICIES, QUALITIES, requestedPolicy } from "../../crm/policy.ts";
import type { SecretBox } from "../../crm/secret-box.ts";
import { DELIVERY_STATUS, type DeliveryStatusDocument } from "../../crm/worker.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findLocation, findSite, requireAgency } from "./access.ts";
import { auditBase, siteLocation, type Reader } from "./audited.ts";
import { readBody } from "./body.ts";
import { NotFound, ValidationFailed } from "./errors.ts";
import { jsonValue } from "./rows.ts";

export interface CrmAdminDeps {
  box: SecretBox;
  connectors: Map<string, Connector>;
  directory: DestinationDirectory;
  mongo?: Db;
}

const text = (max: number) => z.string().trim().min(1).max(max);

const POLICY_TEXT =
  "Which lead changes are sent. submitted: submitted leads only (the default); qualified: submitted leads, and leads not yet submitted whose quality is at least minQuality (low: identified by an email, medium: partial, an email typed in a form); all: every change of every lead (partial leads only with sendPartial). A lead that qualifies later is delivered then, with everything gathered so far. A change applies from each pending delivery's next attempt: pending ones are decided again then; leads held earlier go with their next change or POST /v1/leads/{leadId}/sync. Destinations made before policies existed are `all`, with sendPartial as it was.";
const policySchema = z.enum(DELIVERY_POLICIES).describe(POLICY_TEXT);
const minQualitySchema = z.enum(QUALITIES).describe("Under the qualified policy: the lowest quality of a lead not yet submitted that is sent (default medium).");
const sendPartialSchema = z.boolean().describe("Under the all policy: also deliver partial leads (an email typed, no submission yet). On creation without deliveryPolicy, giving it asks for the all policy (how destinations worked before policies).");

export const destinationCreateSchema = z.strictObject({
  kind: text(32).describe("webhook, highlevel, hubspot, … (GET /v1/destination-kinds)"),
  name: text(255),
  locationId: z.string().max(36).optional().describe("The location whose leads go here (or siteId)."),
  siteId: z.string().max(36).optional().describe("One site; its destinations replace its location's."),
  config: z.record(z.string(), z.unknown()).default({}).describe("The kind's settings (not secret), e.g. { url } for a webhook."),
  secret: z.string().min(1).max(2000).optional().describe("Token or signing secret; never returned."),
  enabled: z.boolean().default(true),
  deliveryPolicy: policySchema.optional(),
  minQuality: minQualitySchema.optional(),
  sendPartial: sendPartialSchema.optional(),
});
export const destinationPatchSchema = z
  .strictObject({
    name: text(255),
    config: z.record(z.string(), z.unknown()),
    secret: z.string().min(1).max(2000),
    enabled: z.boolean(),
    deliveryPolicy: policySchema,
    minQuality: minQualitySchema,
    sendPartial: sendPartialSchema,
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, "Send at least one field.");

export const destinationOutSchema = z.object({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  locationId: z.string().nullable(),
  siteId: z.string().nullable(),
  enabled: z.boolean(),
  deliveryPolicy: policySchema,
  minQuality: minQualitySchema,
  sendPartial: z.boolean().describe("Under the all policy: whether partial leads go too."),
  config: z.record(z.string(), z.unknown()),
  hasSecret: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const destinationCreatedSchema = destinationOutSchema.extend({ secret: z.string().optional().describe("A generated signing secret, shown once.") });

type Row = typeof destinations.$inferSelect;
const out = (r: Row): z.infer<typeof destinationOutSchema> => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  locationId: r.locationId,
  siteId: r.siteId,
  enabled: r.enabled,
  deliveryPolicy: (DELIVERY_POLICIES as readonly string[]).includes(r.deliveryPolicy) ? (r.deliveryPolicy as (typeof DELIVERY_POLICIES)[number]) : "submitted",
  minQuality: (QUALITIES as readonly string[]).includes(r.minQuality) ? (r.minQuality as (typeof QUALITIES)[number]) : "medium",
  sendPartial: r.sendPartial,
  config: (r.config ?? {}) as Record<string, unknown>,
  hasSecret: Boolean(r.secretEnc),
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** Destinations the principal may see: of its locations, or of its sites. */
function scope(p: Principal) {
  const own = and(eq(destinations.tenantId, p.tenantId));
  if (p.role === "agency" && !p.sessionLocationId) return own;
  const parts = [p.locationIds.length ? inArray(destinations.locationId, p.locationIds) : undefined, p.siteIds.length ? inArray(destinations.siteId, p.siteIds) : undefined].filter(Boolean);
  return parts.length ? and(own, or(...parts)) : and(own, isNull(destinations.id));
}

/** The location a destination's entries belong to: its own, or its site's. */
async function destinationLocation(db: Reader, row: Pick<Row, "locationId" | "siteId">): Promise<string | null> {
  return row.locationId ?? (row.siteId ? await siteLocation(db, row.siteId) : null);
}

/**
 * A destination's fields as the trail records them: never the secret (only whether one is set) and its config with
 * any secret-looking key masked.
 */
const auditedFields = (r: { kind?: string; name?: string; locationId?: string | null; siteId?: string | null; enabled?: boolean; deliveryPolicy?: string; minQuality?: string; sendPartial?: boolean; config?: unknown }) => ({
  ...r,
  ...(r.config !== undefined ? { config: maskDeep(r.config) } : {}),
});

export function registerDestinationRoutes(app: Hono<AuthEnv>, db: ConfigDb, deps: CrmAdminDeps): void {
  async function findDestination(p: Principal, id: string): Promise<Row> {
    const [row] = await db.select().from(destinations).where(and(eq(destinations.id, id), scope(p))).limit(1);
    if (!row) throw NotFound("destination");
    return row;
  }

  function checked(kind: string, config: Record<string, unknown>, secret: string | undefined, creating: boolean): { connector: Connector; config: Record<string, unknown>; secret: string | undefined } {
    const connector = deps.connectors.get(kind);
    if (!connector) throw ValidationFailed([{ path: "kind", message: `Unknown kind; one of ${[...deps.connectors.keys()].join(", ")}.` }]);
    const parsed = connector.configSchema.safeParse(config);
    if (!parsed.success) throw ValidationFailed(parsed.error.issues.map((i) => ({ path: ["config", ...i.path].join("."), message: i.message })));
    let finalSecret = secret;
    if (finalSecret !== undefined && connector.secret.validate) {
      const problem = connector.secret.validate(finalSecret);
      if (problem) throw ValidationFailed([{ path: "secret", message: problem }]);
    }
    if (creating && finalSecret === undefined && connector.secret.required) {
      if (!connector.secret.generate) throw ValidationFailed([{ path: "secret", message: connector.secret.describe }]);
      finalSecret = connector.secret.generate();
    }
    return { connector, config: parsed.data, secret: finalSecret };
  }

  app.get("/destination-kinds", (c) =>
    c.json({
      items: [...deps.connectors.values()].map((k) => ({
        kind: k.kind,
        label: k.label,
        config: z.toJSONSchema(k.configSchema, { io: "input", unrepresentable: "any" }),
        secret: { required: k.secret.required, describe: k.secret.describe },
        sendsDeletes: k.sendsDeletes,
        rateLimit: k.rateLimit,
      })),
    }),
  );

  app.get("/destinations", async (c) => {
    const rows = await db.select().from(destinations).where(scope(c.get("principal"))).orderBy(asc(destinations.createdAt), asc(destinations.id));
    return c.json({ items: rows.map(out) });
  });

  app.post("/destinations", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage destinations");
    const body = await readBody(c, destinationCreateSchema);
    if (Boolean(body.locationId) === Boolean(body.siteId)) throw ValidationFailed([{ path: "locationId", message: "Give a locationId or a siteId (one of them)." }]);
    if (body.locationId) await findLocation(db, p, body.locationId);
    if (body.siteId) await findSite(db, p, body.siteId);
    const { config, secret } = checked(body.kind, body.config, body.secret, true);
    const id = crypto.randomUUID();
    const policy = requestedPolicy(body);
    const values = {
      id,
      tenantId: p.tenantId,
      locationId: body.locationId ?? null,
      siteId: body.siteId ?? null,
      kind: body.kind,
      name: body.name,
      enabled: body.enabled,
      deliveryPolicy: policy.policy,
      minQuality: policy.minQuality,
      sendPartial: policy.sendPartial,
      config,
      secretEnc: secret ? deps.box.seal(secret, id) : null,
    };
    await db.transaction(async (tx) => {
      const { id: _id, tenantId: _tenant, secretEnc, ...shown } = values;
      const changes = createdFields(auditedFields(shown));
      const meta = { hasSecret: Boolean(secretEnc) };
      await writeAudit(tx, { ...auditBase(c), locationId: await destinationLocation(tx, values), action: "destination.create", targetType: "destination", targetId: id, changes, meta });
      await tx.insert(destinations).values(values);
    });
    deps.directory.invalidate();
    const row = await findDestination(p, id);
    // a generated secret is the caller's to keep: shown this once
    return c.json({ ...out(row), ...(secret && !body.secret ? { secret } : {}) }, 201);
  });

  app.get("/destinations/:destinationId", async (c) => c.json(out(await findDestination(c.get("principal"), c.req.param("destinationId")))));

  app.patch("/destinations/:destinationId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage destinations");
    const row = await findDestination(p, c.req.param("destinationId"));
    const body = await readBody(c, destinationPatchSchema);
    const { config, secret } = checked(row.kind, body.config ?? (row.config as Record<string, unknown>), body.secret, false);
    const set = {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
      ...(body.deliveryPolicy !== undefined ? { deliveryPolicy: body.deliveryPolicy } : {}),
      ...(body.minQuality !== undefined ? { minQuality: body.minQuality } : {}),
      ...(body.sendPartial !== undefined ? { sendPartial: body.sendPartial } : {}),
      config,
      ...(secret !== undefined ? { secretEnc: deps.box.seal(secret, row.id) } : {}),
    };
    await db.transaction(async (tx) => {
      const [before] = await tx.select().from(destinations).where(eq(destinations.id, row.id)).for("update");
      if (!before) throw NotFound("destination");
      const { secretEnc, ...fields } = set;
      const changes = diffFields(auditedFields({ ...before, config: jsonValue(before.config) }), auditedFields(fields));
      // a new secret is recorded as changed, never with a value (not even the sealed one)
      if (secretEnc !== undefined) changes.secret = { before: MASK, after: MASK };
      await writeAudit(tx, { ...auditBase(c), locationId: await destinationLocation(tx, before), action: "destination.update", targetType: "destination", targetId: row.id, changes });
      await tx.update(destinations).set(set).where(eq(destinations.id, row.id));
    });
    deps.directory.invalidate();
    return c.json(out(await findDestination(p, row.id)));
  });

  app.delete("/destinations/:destinationId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage destinations");
    const row = await findDestination(p, c.req.param("destinationId"));
    await db.transaction(async (tx) => {
      const changes = deletedFields({ kind: row.kind, name: row.name, locationId: row.locationId, siteId: row.siteId });
      await writeAudit(tx, { ...auditBase(c), locationId: await destinationLocation(tx, row), action: "destination.delete", targetType: "destination", targetId: row.id, changes });
      await tx.delete(destinations).where(eq(destinations.id, row.id));
    });
    deps.directory.invalidate();
    return c.json({ id: row.id, deleted: true });
  });

  // dead-lettered (and failed) deliveries of this destination go again, from the first attempt
  app.post("/destinations/:destinationId/replay", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "replay deliveries");
    const row = await findDestination(p, c.req.param("destinationId"));
    if (!deps.mongo) throw NotFound("route");
    const statuses = deps.mongo.collection<DeliveryStatusDocument>(DELIVERY_STATUS);
    const stuck = await statuses.find({ destinationId: row.id, status: { $in: ["dead", "failed"] } }, { projection: { _id: 1, leadId: 1 } }).toArray();
    // MongoDB work: the entry records the request first; without it, nothing is replayed
    await writeAudit(db, { ...auditBase(c), locationId: await destinationLocation(db, row), action: "destination.replay", targetType: "destination", targetId: row.id, meta: { deliveries: stuck.length } });
    if (stuck.length) {
      await statuses.updateMany({ _id: { $in: stuck.map((s) => s._id) } }, { $set: { status: "pending", attempts: 0, nextAt: null, tried: 0, retryable: true } });
      await enqueueLeads(deps.mongo, stuck.map((s) => s.leadId));
    }
    return c.json({ id: row.id, replayed: stuck.length }, 202);
  });
}
