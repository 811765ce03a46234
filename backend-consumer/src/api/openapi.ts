/**
 * The admin and read APIs described as OpenAPI 3.1, built from the same zod schemas the routes validate with, and a
 * self-contained HTML page listing its operations (no scripts, no CDN: the page is rendered on the server).
 * `mountOpenApi` serves both, unauthenticated, on the app it is given.
 */
import type { Env, Hono, Schema } from "hono";
import { z } from "zod";
import { fieldOutSchema, formOutSchema, locationOutSchema, mappingOutSchema, siteOutSchema, userOutSchema } from "./admin/rows.ts";
import { secretCreatedSchema, secretOutSchema } from "./admin/secrets.ts";
import { installStatusSchema } from "./admin/install.ts";
import { keyRotatedSchema, rotateKeySchema, siteKeysOutSchema } from "./admin/rotate-key.ts";
import { destinationCreatedSchema, destinationCreateSchema, destinationOutSchema, destinationPatchSchema } from "./admin/destinations.ts";
import { meOutSchema } from "./admin/me.ts";
import { auditEntryOutSchema, auditQuerySchema } from "./admin/audit-log.ts";
import { leadPatchSchema } from "./leads/index.ts";
import { statsQuerySchema } from "./stats/schema.ts";
import { leadOutSchema } from "./leads/out.ts";
import { leadExportSchema, leadListSchema, leadTimelineQuerySchema } from "./leads/query.ts";
import { timelineItemSchema } from "./leads/timeline.ts";
import {
  fieldCreateSchema,
  fieldPatchSchema,
  formCreateSchema,
  formPatchSchema,
  locationCreateSchema,
  locationPatchSchema,
  mappingCreateSchema,
  mappingPatchSchema,
  siteCreateSchema,
  sitePatchSchema,
  userCreateSchema,
  userPatchSchema,
} from "./admin/schemas.ts";

import { eraseReceiptSchema, privacyPersonSchema, privacyScopeSchema, suppressionOutSchema } from "./privacy.ts";
import { activityQuerySchema } from "../activity/query.ts";

type Method = "get" | "post" | "patch" | "delete";

export interface AdminOperation {
  method: Method;
  /** OpenAPI path template relative to the server URL, e.g. `/sites/{siteId}`. */
  path: string;
  tag: "Me" | "Locations" | "Sites" | "Forms" | "Fields" | "Mappings" | "Users" | "Leads" | "Stats" | "Destinations" | "Audit" | "Privacy" | "Activity";
  summary: string;
  description?: string;
  /** Query parameters, from the zod schema the route validates them with. */
  query?: z.ZodObject;
  /** Component name of the request body schema. */
  body?: string;
  /**
   * Component name of the response schema; `list` wraps it in `{ items }`, `page` in `{ items, nextCursor }`;
   * `media` lists non-JSON bodies (a streamed export).
   */
  response: string | { list: string } | { page: string } | { media: string[] };
  status: 200 | 201 | 202;
  agencyOnly?: boolean;
  conflict?: string;
}

/** Every operation of the admin API; a unit test holds this list and the app's routes equal. */
export const ADMIN_OPERATIONS: AdminOperation[] = [
  { method: "get", path: "/me", tag: "Me", summary: "Who the caller is, and the locations and sites it may see", response: "Me", status: 200 },
  { method: "get", path: "/locations", tag: "Locations", summary: "List the locations the caller may see", response: { list: "Location" }, status: 200 },
  { method: "post", path: "/locations", tag: "Locations", summary: "Create a location", body: "LocationCreate", response: "Location", status: 201, agencyOnly: true, conflict: "The external id is taken in this tenant." },
  { method: "get", path: "/locations/{locationId}", tag: "Locations", summary: "Read a location", response: "Location", status: 200 },
  { method: "patch", path: "/locations/{locationId}", tag: "Locations", summary: "Update a location", body: "LocationPatch", response: "Location", status: 200, agencyOnly: true, conflict: "The external id is taken in this tenant." },
  { method: "delete", path: "/locations/{locationId}", tag: "Locations", summary: "Delete a location without sites", response: "Deleted", status: 200, agencyOnly: true, conflict: "The location still has sites." },
  { method: "get", path: "/sites", tag: "Sites", summary: "List the sites the caller may see", response: { list: "Site" }, status: 200 },
  { method: "post", path: "/sites", tag: "Sites", summary: "Create a site", body: "SiteCreate", response: "Site", status: 201, agencyOnly: true, conflict: "The site key is taken." },
  { method: "get", path: "/sites/{siteId}", tag: "Sites", summary: "Read a site", response: "Site", status: 200 },
  { method: "patch", path: "/sites/{siteId}", tag: "Sites", summary: "Update a site", body: "SitePatch", response: "Site", status: 200, conflict: "The site key is taken." },
  { method: "delete", path: "/sites/{siteId}", tag: "Sites", summary: "Delete a site with its forms, fields and mappings", response: "Deleted", status: 200, agencyOnly: true },
  {
    method: "post",
    path: "/sites/{siteId}/rotate-key",
    tag: "Sites",
    summary: "Issue a new site key; the old one keeps working for a grace period",
    description:
      "The body is optional ({ graceSeconds }, default 7 days, at most 90). The old key keeps serving the loader, the config and ingest at the edge until oldKeyValidUntil, then is answered like an unknown key.",
    body: "RotateKey",
    response: "KeyRotated",
    status: 200,
    agencyOnly: true,
  },
  { method: "get", path: "/sites/{siteId}/site-keys", tag: "Sites", summary: "The site's current key and the rotated-out keys still in their grace period", response: "SiteKeys", status: 200 },
  { method: "get", path: "/sites/{siteId}/install-status", tag: "Sites", summary: "Whether the site's snippet is sending events (the last 15 minutes)", response: "InstallStatus", status: 200 },
  { method: "get", path: "/sites/{siteId}/forms", tag: "Forms", summary: "List a site's forms", response: { list: "Form" }, status: 200 },
  { method: "post", path: "/sites/{siteId}/forms", tag: "Forms", summary: "Create a form on a site", body: "FormCreate", response: "Form", status: 201 },
  { method: "get", path: "/forms/{formId}", tag: "Forms", summary: "Read a form", response: "Form", status: 200 },
  { method: "patch", path: "/forms/{formId}", tag: "Forms", summary: "Update a form", body: "FormPatch", response: "Form", status: 200 },
  { method: "delete", path: "/forms/{formId}", tag: "Forms", summary: "Delete a form with its fields", response: "Deleted", status: 200 },
  { method: "get", path: "/forms/{formId}/fields", tag: "Fields", summary: "List a form's fields in display order", response: { list: "Field" }, status: 200 },
  { method: "post", path: "/forms/{formId}/fields", tag: "Fields", summary: "Create a field on a form", body: "FieldCreate", response: "Field", status: 201 },
  { method: "get", path: "/fields/{fieldId}", tag: "Fields", summary: "Read a field", response: "Field", status: 200 },
  { method: "patch", path: "/fields/{fieldId}", tag: "Fields", summary: "Update a field", body: "FieldPatch", response: "Field", status: 200 },
  { method: "delete", path: "/fields/{fieldId}", tag: "Fields", summary: "Delete a field with its mapping", response: "Deleted", status: 200 },
  { method: "post", path: "/fields/{fieldId}/mapping", tag: "Mappings", summary: "Create the field's CRM mapping", body: "MappingCreate", response: "Mapping", status: 201, conflict: "The field already has a mapping." },
  { method: "get", path: "/fields/{fieldId}/mapping", tag: "Mappings", summary: "Read the field's CRM mapping", response: "Mapping", status: 200 },
  { method: "patch", path: "/mappings/{mappingId}", tag: "Mappings", summary: "Update a mapping", body: "MappingPatch", response: "Mapping", status: 200 },
  { method: "delete", path: "/mappings/{mappingId}", tag: "Mappings", summary: "Delete a mapping", response: "Deleted", status: 200 },
  { method: "get", path: "/users", tag: "Users", summary: "List the tenant's users", response: { list: "User" }, status: 200, agencyOnly: true },
  { method: "post", path: "/users", tag: "Users", summary: "Create a user", body: "UserCreate", response: "User", status: 201, agencyOnly: true, conflict: "The email is taken." },
  { method: "get", path: "/users/{userId}", tag: "Users", summary: "Read a user", response: "User", status: 200, agencyOnly: true },
  { method: "patch", path: "/users/{userId}", tag: "Users", summary: "Update a user", body: "UserPatch", response: "User", status: 200, agencyOnly: true, conflict: "The email is taken." },
  { method: "delete", path: "/users/{userId}", tag: "Users", summary: "Delete a user", response: "Deleted", status: 200, agencyOnly: true },
  { method: "get", path: "/sites/{siteId}/secret-keys", tag: "Sites", summary: "List a site's server secret keys (never the secrets)", response: { list: "SecretKey" }, status: 200, agencyOnly: true },
  {
    method: "post",
    path: "/sites/{siteId}/secret-keys",
    tag: "Sites",
    summary: "Create a server secret key",
    description: "For servers sending events (Authorization: Bearer <secret>) instead of a browser's Origin. The secret is in this answer only.",
    response: "SecretKeyCreated",
    status: 201,
    agencyOnly: true,
  },
  { method: "delete", path: "/secret-keys/{secretId}", tag: "Sites", summary: "Revoke a server secret key", response: "Revoked", status: 200, agencyOnly: true },
  {
    method: "get",
    path: "/leads",
    tag: "Leads",
    summary: "List the leads the caller may see",
    description: "Filters combine with AND; lists are comma-separated. Keyset pagination: pass nextCursor back as cursor, with the same filters (another query's cursor is a 400).",
    query: leadListSchema,
    response: { page: "Lead" },
    status: 200,
  },
  {
    method: "get",
    path: "/leads/export",
    tag: "Leads",
    summary: "Export the leads matching the filters, streamed",
    description: "The list's filters and sort; format=csv (default) or ndjson. Streamed from the database: memory stays flat whatever the size.",
    query: leadExportSchema,
    response: { media: ["text/csv", "application/x-ndjson"] },
    status: 200,
  },
  {
    method: "get",
    path: "/leads/{leadId}",
    tag: "Leads",
    summary: "Read a lead with its timeline",
    description: "The timeline holds the events of the lead's visitors and sessions, oldest first; page views carry the time spent on them. Page it with timeline.nextCursor.",
    query: leadTimelineQuerySchema,
    response: "LeadWithTimeline",
    status: 200,
  },
  { method: "patch", path: "/leads/{leadId}", tag: "Leads", summary: "Edit a lead: status override with a reason, notes, tags", description: "Each change is recorded in the lead's history with who and when.", body: "LeadPatch", response: "LeadDetail", status: 200 },
  {
    method: "delete",
    path: "/leads/{leadId}",
    tag: "Leads",
    summary: "Delete a lead and its dedupe keys",
    description: "Removes the lead record only: the events and sessions of the person stay. Erasing a person everywhere is the privacy API's job (issue I).",
    response: "Deleted",
    status: 200,
  },
  {
    method: "post",
    path: "/leads/{leadId}/sync",
    tag: "Leads",
    summary: "Deliver the lead to its CRM destinations again",
    description: "Re-queues the lead's current version for every destination of its site, failed and dead-lettered deliveries included; answers with its sync status.",
    response: "LeadSyncQueued",
    status: 202,
  },
  { method: "get", path: "/destination-kinds", tag: "Destinations", summary: "The kinds of destination (connectors) and their settings", response: { list: "DestinationKind" }, status: 200 },
  { method: "get", path: "/destinations", tag: "Destinations", summary: "List the destinations the caller may see", response: { list: "Destination" }, status: 200 },
  {
    method: "post",
    path: "/destinations",
    tag: "Destinations",
    summary: "Create a destination for a location or a site",
    description:
      "What is sent: the contact basics (email, first and last name, phone, company) and the form fields that have a field mapping, transformed; unmapped form fields are not sent to CRMs (a webhook receives every captured field). A required mapping without a value fails that lead's delivery with the reason. Which changes are sent is the destination's deliveryPolicy: submitted leads only unless said otherwise (qualified: also leads not yet submitted at or above minQuality; all: every change); a lead that qualifies later is delivered then, with everything gathered so far. Secrets are never returned; a webhook's generated signing secret is in this answer only. Kinds and their config and secret: GET /v1/destination-kinds (salesforce and zoho take a JSON secret with their OAuth credentials).",
    body: "DestinationCreate",
    response: "DestinationCreated",
    status: 201,
    agencyOnly: true,
  },
  { method: "get", path: "/destinations/{destinationId}", tag: "Destinations", summary: "Read a destination", response: "Destination", status: 200 },
  {
    method: "patch",
    path: "/destinations/{destinationId}",
    tag: "Destinations",
    summary: "Update a destination (a new secret replaces the old)",
    description:
      "A changed deliveryPolicy, minQuality or sendPartial applies from each pending delivery's next attempt (within seconds): deliveries still waiting for a retry are decided again under the new policy, a lead it no longer takes is held and one it now takes goes. Leads held earlier that are no longer pending are not swept: each goes with its next change, or at once with POST /v1/leads/{leadId}/sync. Deliveries already made stay made.",
    body: "DestinationPatch",
    response: "Destination",
    status: 200,
    agencyOnly: true,
  },
  { method: "delete", path: "/destinations/{destinationId}", tag: "Destinations", summary: "Delete a destination", response: "Deleted", status: 200, agencyOnly: true },
  { method: "post", path: "/destinations/{destinationId}/replay", tag: "Destinations", summary: "Replay the destination's dead-lettered and failed deliveries", response: "Replayed", status: 202, agencyOnly: true },
  {
    method: "get",
    path: "/audit",
    tag: "Audit",
    summary: "The audit trail: who changed, exported, deleted, replayed or read what, and when",
    description:
      "Newest first. Agency users see their tenant's entries; location users only the entries of their locations. Lead reads are aggregated (leads.read: counts per user, location and interval). Page with nextCursor.",
    query: auditQuerySchema,
    response: { page: "AuditEntry" },
    status: 200,
  },
  {
    method: "post",
    path: "/privacy/erase",
    tag: "Privacy",
    summary: "Erase a person everywhere: events, sessions, leads, dead letters, queued CRM deliveries; the CRMs are told",
    description:
      "Idempotent and resumable: the plan is recorded before anything is removed, and a backend that dies mid-way is replaced by another. 200 with the receipt when done; 202 when another backend is running it (poll the receipt). A keyed hash of the person stops later events from recreating the lead where the location keeps suppression on.",
    body: "PrivacyPerson",
    response: "EraseReceipt",
    status: 200,
  },
  { method: "get", path: "/privacy/erase/{receiptId}", tag: "Privacy", summary: "An erase's receipt: what was removed where", response: "EraseReceipt", status: 200 },
  {
    method: "get",
    path: "/privacy/export",
    tag: "Privacy",
    summary: "Everything held about a person, as one JSON document, streamed",
    description: "Leads, sessions, events and CRM delivery records of the person's visitors in the caller's sites. Streamed from the database: memory stays flat.",
    query: privacyPersonSchema,
    response: { media: ["application/json"] },
    status: 200,
  },
  { method: "get", path: "/privacy/suppressions", tag: "Privacy", summary: "Suppression entries (keyed hashes only) of the caller's sites", query: privacyScopeSchema, response: { list: "Suppression" }, status: 200 },
  { method: "delete", path: "/privacy/suppressions", tag: "Privacy", summary: "Lift a person's suppression: their events make leads again", body: "PrivacyPerson", response: "Unsuppressed", status: 200 },
  {
    method: "post",
    path: "/stats/query",
    tag: "Stats",
    summary: "Query statistics (modelled on Plausible's Stats API v2)",
    description:
      "Metrics, up to one time and one other dimension, filters on that dimension, a date range in the scope's time zone, order and pagination. " +
      "Answered from rollups kept by the drain, never from raw events. Definitions: see the README's Statistics section.",
    body: "StatsQuery",
    response: "StatsResult",
    status: 200,
  },
  {
    method: "post",
    path: "/activity/query",
    tag: "Activity",
    summary: "Query team activity: what the CRM's users do inside the CRM",
    description:
      "Metrics, up to two dimensions (at most one time:*), is / is_not filters, a date range in the caller's location's time zone (else UTC), order and pagination. " +
      "An agency user sees its whole tenant (a session narrowed to a location: that location's activity), a location user only its own. Definitions: README \"Team activity\".",
    body: "ActivityQuery",
    response: "ActivityResult",
    status: 200,
  },
  {
    method: "get",
    path: "/activity/users/{userId}",
    tag: "Activity",
    summary: "One user's activity: totals, top pages and the sessions timeline",
    description: "404 for a user the caller may not see (another tenant's; a colleague, for a location user).",
    query: z.object({
      date_range: z.string().optional().describe('A shortcut (day, 7d, 30d, month, 6mo, 12mo) or "YYYY-MM-DD,YYYY-MM-DD". Default 30d.'),
      timezone: z.string().optional().describe("Time zone of the shortcuts; default: the session's location's, else UTC."),
    }),
    response: "UserActivity",
    status: 200,
  },
];

const errorSchema = z.object({ error: z.string(), message: z.string() });
const BODY_SCHEMAS: Record<string, z.ZodType> = {
  DestinationCreate: destinationCreateSchema,
  DestinationPatch: destinationPatchSchema,
  StatsQuery: statsQuerySchema,
  ActivityQuery: activityQuerySchema,
  LeadPatch: leadPatchSchema,
  LocationCreate: locationCreateSchema,
  LocationPatch: locationPatchSchema,
  SiteCreate: siteCreateSchema,
  SitePatch: sitePatchSchema,
  FormCreate: formCreateSchema,
  FormPatch: formPatchSchema,
  FieldCreate: fieldCreateSchema,
  FieldPatch: fieldPatchSchema,
  MappingCreate: mappingCreateSchema,
  MappingPatch: mappingPatchSchema,
  UserCreate: userCreateSchema,
  UserPatch: userPatchSchema,
  RotateKey: rotateKeySchema,
  PrivacyPerson: privacyPersonSchema,
};
const leadSyncSchema = z.object({
  destinationId: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.enum(["pending", "delivered", "failed", "dead", "held"]).describe("held: a partial lead this destination does not take; pending: its current version is not delivered yet."),
  externalId: z.string().nullable().describe("The CRM's id of the contact."),
  error: z.string().nullable(),
  attempts: z.number(),
  nextAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  deliveredVersion: z.number(),
  version: z.number(),
});
const RESPONSE_SCHEMAS: Record<string, z.ZodType> = {
  Destination: destinationOutSchema,
  DestinationCreated: destinationCreatedSchema,
  DestinationKind: z.object({ kind: z.string(), label: z.string(), config: z.record(z.string(), z.unknown()), secret: z.object({ required: z.boolean(), describe: z.string() }), sendsDeletes: z.boolean(), rateLimit: z.object({ requests: z.number(), windowMs: z.number() }) }),
  Replayed: z.object({ id: z.string(), replayed: z.number() }),
  LeadSyncQueued: z.object({ id: z.string(), queued: z.literal(true), sync: z.array(leadSyncSchema) }),
  Me: meOutSchema,
  InstallStatus: installStatusSchema,
  SecretKey: secretOutSchema,
  SecretKeyCreated: secretCreatedSchema,
  KeyRotated: keyRotatedSchema,
  SiteKeys: siteKeysOutSchema,
  Revoked: z.object({ id: z.string(), revoked: z.literal(true) }),
  AuditEntry: auditEntryOutSchema,
  EraseReceipt: eraseReceiptSchema,
  Suppression: suppressionOutSchema,
  Unsuppressed: z.object({ subject: z.string(), removed: z.number() }),
  StatsResult: z.object({
    results: z.array(z.object({ dimensions: z.array(z.string()), metrics: z.array(z.number().nullable()) })),
    meta: z.object({
      metrics: z.array(z.string()),
      dimensions: z.array(z.string()),
      date_range: z.tuple([z.string(), z.string()]),
      timezone: z.string(),
      total_rows: z.number(),
      visitors_standard_error: z.number(),
    }),
  }),
  ActivityResult: z.object({
    results: z.array(z.object({ dimensions: z.array(z.string()), metrics: z.array(z.union([z.number(), z.string(), z.null()])) })),
    meta: z.object({
      total_rows: z.number(),
      users: z.record(z.string(), z.object({ name: z.string().nullable(), email: z.string(), role: z.enum(["agency", "location"]) })),
      locations: z.record(z.string(), z.object({ name: z.string() })),
    }),
  }),
  UserActivity: z.object({
    user: z.object({ id: z.string(), name: z.string().nullable(), email: z.string(), role: z.enum(["agency", "location"]) }),
    totals: z.object({ sessions: z.number(), page_views: z.number(), time_spent: z.number(), active_days: z.number(), last_seen: z.string().nullable() }),
    pages: z.array(z.object({ page: z.string(), views: z.number(), time_spent: z.number() })),
    sessions: z.array(
      z.object({
        id: z.string(),
        start: z.string(),
        end: z.string(),
        location: z.object({ id: z.string(), name: z.string() }),
        page_views: z.number(),
        time_spent: z.number(),
        pages: z.array(z.object({ page: z.string(), path: z.string(), at: z.string(), time_spent: z.number() })),
      }),
    ),
  }),
  Lead: leadOutSchema.omit({ fields: true, traits: true, clickIds: true, history: true, conflicts: true, submissions: true }),
  LeadDetail: leadOutSchema,
  LeadWithTimeline: leadOutSchema.extend({ sync: z.array(leadSyncSchema).describe("CRM delivery, per destination of the lead's site."), timeline: z.object({ items: z.array(timelineItemSchema), nextCursor: z.string().nullable() }) }),
  Location: locationOutSchema,
  Site: siteOutSchema,
  Form: formOutSchema,
  Field: fieldOutSchema,
  Mapping: mappingOutSchema,
  User: userOutSchema,
  Deleted: z.object({ id: z.string(), deleted: z.literal(true) }),
  Error: errorSchema,
  ValidationError: errorSchema.extend({
    issues: z.array(z.object({ path: z.string().describe('Dotted path into the body; "" for the body itself.'), message: z.string() })),
  }),
};

const ERROR_RESPONSES = {
  BadRequest: ["ValidationError", "Malformed JSON (`invalid_json`) or a body that fails validation (`validation_failed`, with every issue)."],
  Unauthorized: ["Error", "Missing, invalid or expired bearer token (`unauthorized`)."],
  Forbidden: ["Error", "The caller's role may not do this (`forbidden`): location users cannot create or delete sites or manage users."],
  NotFound: ["Error", "No such object, or one the caller may not see (`not_found`): existence never leaks across tenants."],
  Conflict: ["Error", "A unique value is taken (`conflict`)."],
  PayloadTooLarge: ["Error", "The body exceeds the size limit (`payload_too_large`)."],
} as const;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorRef = (name: keyof typeof ERROR_RESPONSES) => ({ $ref: `#/components/responses/${name}` });

function operationObject(op: AdminOperation): Record<string, unknown> {
  const params: Record<string, unknown>[] = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  if (op.query) {
    for (const [name, field] of Object.entries(op.query.shape)) {
      const schema = jsonSchema(field as z.ZodType, "input");
      params.push({ name, in: "query", required: !(field as z.ZodType).safeParse(undefined).success, schema, ...(schema.description ? { description: schema.description } : {}) });
    }
  }
  const r = op.response;
  const content =
    typeof r === "string"
      ? { "application/json": { schema: ref(r) } }
      : "list" in r
        ? { "application/json": { schema: { type: "object", properties: { items: { type: "array", items: ref(r.list) } }, required: ["items"] } } }
        : "page" in r
          ? {
              "application/json": {
                schema: { type: "object", properties: { items: { type: "array", items: ref(r.page) }, nextCursor: { type: ["string", "null"] } }, required: ["items", "nextCursor"] },
              },
            }
          : Object.fromEntries(r.media.map((m) => [m, { schema: { type: "string" } }]));
  const responses: Record<string, unknown> = {
    [op.status]: { description: op.status === 201 ? "Created." : op.status === 202 ? "Accepted." : "OK.", content },
    401: errorRef("Unauthorized"),
  };
  if (op.query) responses[400] = errorRef("BadRequest");
  if (op.body) Object.assign(responses, { 400: errorRef("BadRequest"), 413: errorRef("PayloadTooLarge") });
  if (op.agencyOnly) responses[403] = errorRef("Forbidden");
  if (params.length > 0 || op.path.endsWith("/mapping")) responses[404] = errorRef("NotFound");
  if (op.conflict) responses[409] = { description: op.conflict, content: { "application/json": { schema: ref("Error") } } };
  return {
    operationId: `${op.method}${op.path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? "").toUpperCase())}`,
    tags: [op.tag],
    summary: op.summary,
    ...(op.agencyOnly || op.description ? { description: [op.agencyOnly ? "Agency users only." : "", op.description ?? ""].filter(Boolean).join(" ") } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: ref(op.body) } } } } : {}),
    responses,
  };
}

export interface OpenApiOptions {
  /** Where the admin API is mounted; the document's server URL. Default `/v1`. */
  serverUrl?: string;
  title?: string;
  version?: string;
}

/** The OpenAPI 3.1 document of the admin API. */
export function buildOpenApiDocument(opts: OpenApiOptions = {}): Record<string, unknown> & { paths: Record<string, Record<string, unknown>> } {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ADMIN_OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(BODY_SCHEMAS)) schemas[name] = jsonSchema(schema, "input");
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) schemas[name] = jsonSchema(schema, "output");
  const responses = Object.fromEntries(
    Object.entries(ERROR_RESPONSES).map(([name, [schema, description]]) => [name, { description, content: { "application/json": { schema: ref(schema) } } }]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: opts.title ?? "Edge lead tracker: admin and read API",
      version: opts.version ?? "1.0.0",
      description:
        "Locations, sites, forms, fields, CRM mappings and users (the config plane), and the leads and statistics read from them. " +
        "Agency users see every location of their tenant; location users only the sites of their own locations. " +
        "Anything outside the caller's scope answers 404, so existence never leaks. Scopes are read from the database on each request.",
    },
    servers: [{ url: opts.serverUrl ?? "/v1" }],
    security: [{ bearerAuth: [] }],
    tags: ["Locations", "Sites", "Forms", "Fields", "Mappings", "Users", "Leads", "Stats"].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "Claims: sub (user id). What the user may see is read from the database, not from the token.",
        },
      },
      schemas,
      responses,
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A static HTML page listing every operation of `doc`, with request body schemas folded under each. */
export function renderDocsHtml(doc: ReturnType<typeof buildOpenApiDocument>): string {
  const info = doc.info as { title: string; version: string; description: string };
  const server = (doc.servers as { url: string }[])[0]?.url ?? "";
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, raw]) => {
      const op = raw as { summary: string; description?: string; tags: string[]; requestBody?: { content: Record<string, { schema: { $ref: string } }> }; responses: Record<string, unknown> };
      const bodyName = op.requestBody?.content["application/json"]?.schema.$ref.split("/").pop();
      const body = bodyName
        ? `<details><summary>Body: ${escapeHtml(bodyName)}</summary><pre>${escapeHtml(JSON.stringify(schemas[bodyName], null, 2))}</pre></details>`
        : "";
      return (
        `<li class="op"><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(server + path)}</code>` +
        ` <span class="s">${escapeHtml(op.summary)}</span>${op.description ? ` <em>${escapeHtml(op.description)}</em>` : ""}` +
        ` <span class="r">${Object.keys(op.responses).join(" ")}</span>${body}</li>`
      );
    }),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
ul{list-style:none;padding:0}.op{padding:.5rem 0;border-bottom:1px solid #eee}
.m{display:inline-block;width:4.5rem;font:600 12px monospace;text-align:center;border-radius:3px;color:#fff;padding:2px 0}
.get{background:#2b7a4b}.post{background:#1f5fa8}.patch{background:#a86a1f}.delete{background:#a8321f}
.s{margin-left:.5rem}.r{float:right;color:#888;font:12px monospace}em{color:#a8321f;font-size:13px}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>Authenticate with <code>Authorization: Bearer &lt;JWT&gt;</code>. Machine-readable document: <a href="openapi.json">openapi.json</a>.</p>
<ul>
${rows.join("\n")}
</ul>
</body></html>`;
}

/** Serves `GET /openapi.json` and `GET /docs` (no auth) on `app`. Mount on the root app, not behind the admin auth. */
export function mountOpenApi<E extends Env, S extends Schema, P extends string>(app: Hono<E, S, P>, opts: OpenApiOptions = {}): Hono<E, S, P> {
  const doc = buildOpenApiDocument(opts);
  const html = renderDocsHtml(doc);
  app.get("/openapi.json", (c) => c.json(doc));
  app.get("/docs", (c) => c.html(html));
  return app;
}
