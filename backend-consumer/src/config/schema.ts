/**
 * Tenant configuration in MariaDB: the single source of truth for the drizzle migrations under drizzle/.
 * Tenants (agencies) own sites; sites own forms; forms own fields; a field has at most one CRM mapping.
 * `config_changes` is written only by triggers (drizzle/0001_change_capture.sql), so any committed SQL change —
 * through the admin API or not — is seen by the KV sync.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  datetime,
  index,
  int,
  json,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  text,
  uniqueIndex,
  varchar,
} from "drizzle-orm/mysql-core";

const id = () => varchar("id", { length: 36 }).primaryKey();
const timestamps = {
  createdAt: datetime("created_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
  updatedAt: datetime("updated_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`).$onUpdate(() => new Date()),
};

/** Site-level settings kept as one JSON document (validated by `siteSettingsSchema` in contracts). */
export interface SiteSettingsColumn {
  features?: Record<string, boolean>;
  consentMode?: "opt-in" | "opt-out" | "cookieless";
  respectDoNotTrack?: boolean;
  retentionDays?: number;
  debug?: boolean;
}

/** An agency (the CRM's company). `external_id`: the CRM's company id, for single sign-on. */
export const tenants = mysqlTable(
  "tenants",
  {
    id: id(),
    name: varchar("name", { length: 255 }).notNull(),
    externalId: varchar("external_id", { length: 64 }),
    ...timestamps,
  },
  (t) => [uniqueIndex("tenants_external_id_unique").on(t.externalId)],
);

/**
 * A client business of the agency (the CRM's location, or sub-account). Its sites' day boundaries follow its
 * `timezone` (IANA name) unless a site overrides it. `external_id`: the CRM's location id, unique per tenant.
 */
export const locations = mysqlTable(
  "locations",
  {
    id: id(),
    tenantId: varchar("tenant_id", { length: 36 })
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: varchar("name", { length: 255 }).notNull(),
    externalId: varchar("external_id", { length: 64 }),
    timezone: varchar("timezone", { length: 64 }).notNull().default("UTC"),
    /** After a person is erased, keep a keyed hash of them so later events do not recreate their lead. */
    suppressErased: boolean("suppress_erased").notNull().default(true),
    ...timestamps,
  },
  (t) => [uniqueIndex("locations_tenant_external_unique").on(t.tenantId, t.externalId), index("locations_tenant_idx").on(t.tenantId)],
);

export const sites = mysqlTable(
  "sites",
  {
    id: id(),
    tenantId: varchar("tenant_id", { length: 36 })
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: varchar("name", { length: 255 }).notNull(),
    domain: varchar("domain", { length: 255 }).notNull(),
    /** The location the site belongs to; who may see its data follows it. */
    locationId: varchar("location_id", { length: 36 })
      .notNull()
      .references(() => locations.id, { onDelete: "restrict" }),
    /** Overrides the location's timezone for this site's day boundaries. */
    timezone: varchar("timezone", { length: 64 }),
    /** Public key embedded in the snippet; the KV key of the compiled config. */
    siteKey: varchar("site_key", { length: 64 }).notNull(),
    active: boolean("active").notNull().default(true),
    allowedOrigins: json("allowed_origins").$type<string[]>().notNull().default([]),
    settings: json("settings").$type<SiteSettingsColumn>().notNull().default({}),
    ...timestamps,
  },
  (t) => [uniqueIndex("sites_site_key_unique").on(t.siteKey), index("sites_tenant_idx").on(t.tenantId), index("sites_location_idx").on(t.locationId)],
);

export const forms = mysqlTable(
  "forms",
  {
    id: id(),
    siteId: varchar("site_id", { length: 36 })
      .notNull()
      .references(() => sites.id, { onDelete: "cascade" }),
    name: varchar("name", { length: 255 }).notNull(),
    /** Glob-like pattern of page URLs/paths the form appears on (`*` matches anything); empty = every page. */
    pageUrlPattern: varchar("page_url_pattern", { length: 1024 }).notNull().default(""),
    selector: varchar("selector", { length: 500 }).notNull(),
    alternativeSelectors: json("alternative_selectors").$type<string[]>().notNull().default([]),
    active: boolean("active").notNull().default(true),
    metadata: json("metadata").$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps,
  },
  (t) => [index("forms_site_idx").on(t.siteId)],
);

export const fields = mysqlTable(
  "fields",
  {
    id: id(),
    formId: varchar("form_id", { length: 36 })
      .notNull()
      .references(() => forms.id, { onDelete: "cascade" }),
    selector: varchar("selector", { length: 500 }).notNull(),
    name: varchar("name", { length: 255 }).notNull(),
    type: varchar("type", { length: 50 }).notNull(),
    label: varchar("label", { length: 255 }),
    required: boolean("required").notNull().default(false),
    validationRules: json("validation_rules").$type<Record<string, unknown>>().notNull().default({}),
    displayOrder: int("display_order").notNull().default(0),
    sensitive: boolean("sensitive").notNull().default(false),
    ...timestamps,
  },
  (t) => [index("fields_form_idx").on(t.formId)],
);

export const fieldMappings = mysqlTable(
  "field_mappings",
  {
    id: id(),
    fieldId: varchar("field_id", { length: 36 })
      .notNull()
      .references(() => fields.id, { onDelete: "cascade" }),
    targetEntity: varchar("target_entity", { length: 100 }).notNull(),
    targetField: varchar("target_field", { length: 100 }).notNull(),
    transform: varchar("transform", { length: 100 }),
    required: boolean("required").notNull().default(false),
    ...timestamps,
  },
  (t) => [uniqueIndex("field_mappings_field_unique").on(t.fieldId)],
);

export const users = mysqlTable(
  "users",
  {
    id: id(),
    tenantId: varchar("tenant_id", { length: 36 })
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    email: varchar("email", { length: 320 }).notNull(),
    role: mysqlEnum("role", ["agency", "location"]).notNull(),
    /**
     * For location users: when not empty, narrows what they see to these sites of their locations (access granted
     * per site before locations existed keeps exactly its reach). Ignored for agency users.
     */
    allowedSites: json("allowed_sites").$type<string[]>().notNull().default([]),
    /** The CRM's user id (single sign-on provisions users by it), unique within the tenant. */
    externalId: varchar("external_id", { length: 64 }),
    /** Display name, as the CRM last said at sign-in. */
    name: varchar("name", { length: 255 }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("users_tenant_email_unique").on(t.tenantId, t.email),
    index("users_email_idx").on(t.email),
    uniqueIndex("users_tenant_external_unique").on(t.tenantId, t.externalId),
  ],
);

/** Which locations a location user belongs to (it sees every site in them). */
export const userLocations = mysqlTable(
  "user_locations",
  {
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    locationId: varchar("location_id", { length: 36 })
      .notNull()
      .references(() => locations.id, { onDelete: "cascade" }),
    createdAt: datetime("created_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
  },
  (t) => [primaryKey({ columns: [t.userId, t.locationId] }), index("user_locations_location_idx").on(t.locationId)],
);

/**
 * One row per committed change that affects a site's compiled config, written by triggers. The auto-increment id
 * is global and strictly increasing, so it doubles as the config `version`. Both the old and the new site key are
 * recorded when a key changes, so the old KV entry is removed.
 */
export const configChanges = mysqlTable(
  "config_changes",
  {
    id: bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey(),
    siteKey: varchar("site_key", { length: 64 }).notNull(),
    source: varchar("source", { length: 32 }).notNull(),
    createdAt: datetime("created_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    processedAt: datetime("processed_at", { fsp: 3 }),
  },
  (t) => [index("config_changes_pending_idx").on(t.processedAt, t.id), index("config_changes_site_key_idx").on(t.siteKey)],
);

/** What the sync last wrote to KV per site key: makes re-runs idempotent and the reconcile cheap. */
export const kvSyncState = mysqlTable("kv_sync_state", {
  siteKey: varchar("site_key", { length: 64 }).primaryKey(),
  version: bigint("version", { mode: "number", unsigned: true }).notNull(),
  hash: varchar("hash", { length: 64 }).notNull(),
  /** False when the key was deleted from KV (site gone or inactive). */
  present: boolean("present").notNull(),
  syncedAt: datetime("synced_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
});

/**
 * Sites whose config cannot be compiled (a direct SQL edit can write what the API would refuse): the sync sets them
 * aside with the reason, keeps serving their last good config, and goes on with every other site. The row goes when
 * the site compiles again.
 */
export const configQuarantine = mysqlTable("config_quarantine", {
  siteKey: varchar("site_key", { length: 64 }).primaryKey(),
  reason: varchar("reason", { length: 2000 }).notNull(),
  since: datetime("since", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
});

/**
 * Every site key ever issued, lower-case: a key belongs to one site forever. Written by triggers (so a direct SQL
 * edit is covered too): a site's key is registered when it is set and retired (not deleted) when it changes or the
 * site is deleted; the primary key makes issuing it again to anyone fail.
 *
 * `grace_until`: a key retired by a rotation (POST /v1/sites/:id/rotate-key) keeps working at the edge until then,
 * serving its site's current config; null (or past) for every other retired key. A change of it is recorded in
 * `config_changes` (drizzle/0014), and deleting the site ends it.
 */
export const siteKeys = mysqlTable(
  "site_keys",
  {
    siteKey: varchar("site_key", { length: 64 }).primaryKey(),
    siteId: varchar("site_id", { length: 36 }).notNull(),
    issuedAt: datetime("issued_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    retiredAt: datetime("retired_at", { fsp: 3 }),
    graceUntil: datetime("grace_until", { fsp: 3 }),
  },
  (t) => [index("site_keys_site_idx").on(t.siteId, t.graceUntil), index("site_keys_grace_idx").on(t.graceUntil)],
);

/**
 * Server-side secret keys of a site: what a server (not a browser) sends events with, in `Authorization: Bearer`.
 * Only a SHA-256 hash is kept (and compiled into the edge config); the secret is shown once, at creation.
 */
export const siteSecrets = mysqlTable(
  "site_secrets",
  {
    id: id(),
    siteId: varchar("site_id", { length: 36 })
      .notNull()
      .references(() => sites.id, { onDelete: "cascade" }),
    /** Hex SHA-256 of the secret. */
    hash: varchar("hash", { length: 64 }).notNull(),
    /** The secret's first characters, to tell keys apart in lists. */
    prefix: varchar("prefix", { length: 16 }).notNull(),
    createdAt: datetime("created_at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    revokedAt: datetime("revoked_at", { fsp: 3 }),
  },
  (t) => [uniqueIndex("site_secrets_hash_unique").on(t.hash), index("site_secrets_site_idx").on(t.siteId)],
);

/**
 * Where a location's (or a site's) leads are delivered: a signed webhook, HighLevel contacts, HubSpot contacts, ...
 * (`kind` names a connector under backend-consumer/src/crm/connectors/). A destination belongs to a location, or to
 * one site, whose destinations then replace the location's. `config` holds what is not secret (a URL); the secret
 * (a signing secret, a token) is in `secret_enc`, encrypted with DESTINATION_SECRET_KEY, and never leaves the
 * backend.
 */
export const destinations = mysqlTable(
  "destinations",
  {
    id: id(),
    tenantId: varchar("tenant_id", { length: 36 })
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    locationId: varchar("location_id", { length: 36 }).references(() => locations.id, { onDelete: "cascade" }),
    siteId: varchar("site_id", { length: 36 }).references(() => sites.id, { onDelete: "cascade" }),
    kind: varchar("kind", { length: 32 }).notNull(),
    name: varchar("name", { length: 255 }).notNull(),
    enabled: boolean("enabled").notNull().default(true),
    /**
     * Which lead changes are delivered (crm/policy.ts): `submitted` (submitted leads only; the default), `qualified`
     * (submitted leads, and others at or above `min_quality`) or `all` (every change). Destinations made before
     * policies existed were set to `all` by drizzle/0015, keeping `send_partial` as it was.
     */
    deliveryPolicy: varchar("delivery_policy", { length: 16 }).notNull().default("submitted"),
    /** The lowest quality (low, medium, high) a lead not yet submitted needs under the `qualified` policy. */
    minQuality: varchar("min_quality", { length: 8 }).notNull().default("medium"),
    /** Under the `all` policy: whether partial leads (an email typed, no submission yet) go too. */
    sendPartial: boolean("send_partial").notNull().default(false),
    config: json("config").$type<Record<string, unknown>>().notNull().default({}),
    secretEnc: text("secret_enc"),
    ...timestamps,
  },
  (t) => [index("destinations_tenant_idx").on(t.tenantId), index("destinations_location_idx").on(t.locationId), index("destinations_site_idx").on(t.siteId)],
);

/**
 * A location's OAuth connection to a CRM (HighLevel's marketplace install): tokens encrypted like destination
 * secrets, refreshed before they expire. `version` guards refreshes across backends (a refresh token works once).
 */
export const crmConnections = mysqlTable(
  "crm_connections",
  {
    id: id(),
    tenantId: varchar("tenant_id", { length: 36 })
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    locationId: varchar("location_id", { length: 36 })
      .notNull()
      .references(() => locations.id, { onDelete: "cascade" }),
    provider: varchar("provider", { length: 32 }).notNull(),
    /** The CRM's id of the location (HighLevel's locationId). */
    externalLocationId: varchar("external_location_id", { length: 64 }).notNull(),
    accessTokenEnc: text("access_token_enc").notNull(),
    refreshTokenEnc: text("refresh_token_enc").notNull(),
    expiresAt: datetime("expires_at", { fsp: 3 }).notNull(),
    version: int("version").notNull().default(1),
    ...timestamps,
  },
  (t) => [uniqueIndex("crm_connections_location_provider_unique").on(t.locationId, t.provider)],
);

/**
 * The audit trail: who did what, when. Append-only (triggers in drizzle/0013 refuse UPDATE and DELETE). Admin
 * changes are written in the same transaction as the change; `changes` holds the before and after of the fields
 * that changed (secrets masked). Entries about a person (erase, export) hold a keyed hash, never the email.
 */
export const auditLog = mysqlTable(
  "audit_log",
  {
    id: bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey(),
    at: datetime("at", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    tenantId: varchar("tenant_id", { length: 36 }).notNull(),
    /** The location the entry is about, when there is one: location users see only their locations' entries. */
    locationId: varchar("location_id", { length: 36 }),
    actorId: varchar("actor_id", { length: 64 }),
    actorRole: varchar("actor_role", { length: 16 }),
    action: varchar("action", { length: 64 }).notNull(),
    targetType: varchar("target_type", { length: 32 }).notNull(),
    targetId: varchar("target_id", { length: 128 }),
    changes: json("changes").$type<Record<string, { before: unknown; after: unknown }>>(),
    meta: json("meta").$type<Record<string, unknown>>(),
    requestId: varchar("request_id", { length: 64 }),
  },
  (t) => [index("audit_tenant_id_idx").on(t.tenantId, t.id), index("audit_location_id_idx").on(t.locationId, t.id), index("audit_action_idx").on(t.tenantId, t.action, t.id)],
);
