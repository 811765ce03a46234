/** Loads one site's configuration from MariaDB and compiles it into the KV contract. */
import { createHash } from "node:crypto";
import { and, asc, eq, gt, inArray, isNull, type SQL } from "drizzle-orm";
import { DEFAULT_FEATURES, DEFAULT_RETENTION_DAYS, siteConfigSchema, siteSettingsSchema, type SiteConfig } from "#contracts";
import type { ConfigDb } from "./db.ts";
import { fields, forms, locations, siteKeys, sites, siteSecrets } from "./schema.ts";

export interface SiteBundle {
  site: typeof sites.$inferSelect;
  /** The time zone of the site's location (the site's own overrides it). */
  locationTimezone: string;
  forms: (typeof forms.$inferSelect)[];
  fields: (typeof fields.$inferSelect)[];
  /** Hashes of the site's server secret keys that are not revoked. */
  secretHashes: string[];
  /**
   * Set when the bundle is served under a rotated-out key of the site in its grace period: that key, and when it
   * stops (epoch ms). The config is otherwise the site's current one.
   */
  grace?: { siteKey: string; validUntil: number };
}

/** The site with this key and its active forms and their fields, or null if no such site exists. */
export async function loadSiteBundle(db: ConfigDb, siteKey: string): Promise<SiteBundle | null> {
  return loadBundleWhere(db, eq(sites.siteKey, siteKey));
}

/**
 * What a KV key should serve at `now`: the site whose current key it is; or, for a key retired by a rotation whose
 * grace period has not ended, its site's current config under that key, until the grace end; else null.
 */
export async function loadKeyBundle(db: ConfigDb, siteKey: string, now: Date): Promise<SiteBundle | null> {
  const current = await loadSiteBundle(db, siteKey);
  if (current) return current;
  const [grace] = await db
    .select({ siteId: siteKeys.siteId, graceUntil: siteKeys.graceUntil })
    .from(siteKeys)
    .where(and(eq(siteKeys.siteKey, siteKey), gt(siteKeys.graceUntil, now)))
    .limit(1);
  if (!grace?.graceUntil) return null;
  const bundle = await loadBundleWhere(db, eq(sites.id, grace.siteId));
  return bundle && { ...bundle, grace: { siteKey, validUntil: grace.graceUntil.getTime() } };
}

async function loadBundleWhere(db: ConfigDb, where: SQL): Promise<SiteBundle | null> {
  const [row] = await db
    .select({ site: sites, locationTimezone: locations.timezone })
    .from(sites)
    .innerJoin(locations, eq(locations.id, sites.locationId))
    .where(where)
    .limit(1);
  if (!row) return null;
  const { site, locationTimezone } = row;
  const siteForms = await db
    .select()
    .from(forms)
    .where(and(eq(forms.siteId, site.id), eq(forms.active, true)))
    .orderBy(asc(forms.createdAt), asc(forms.id));
  const formFields = siteForms.length
    ? await db
        .select()
        .from(fields)
        .where(inArray(fields.formId, siteForms.map((f) => f.id)))
        .orderBy(asc(fields.displayOrder), asc(fields.createdAt), asc(fields.id))
    : [];
  const secrets = await db.select({ hash: siteSecrets.hash }).from(siteSecrets).where(and(eq(siteSecrets.siteId, site.id), isNull(siteSecrets.revokedAt)));
  return { site, locationTimezone, forms: siteForms, fields: formFields, secretHashes: secrets.map((s) => s.hash).sort() };
}

/**
 * Pure: the config the edge serves for this site. Settings that fail validation (a direct SQL edit can write
 * anything) fall back to defaults key by key rather than blocking the whole site.
 */
export function compileSiteConfig(bundle: SiteBundle, version: number): SiteConfig {
  const timezone = bundle.site.timezone ?? bundle.locationTimezone;
  // a direct SQL edit can write any text here; a site with a zone nobody can compute days in is quarantined
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new Error(`timezone: "${timezone}" is not an IANA time zone`);
  }
  const parsed = siteSettingsSchema.safeParse(bundle.site.settings ?? {});
  const settings = parsed.success ? parsed.data : {};
  const config: SiteConfig = {
    siteId: bundle.site.id,
    siteKey: bundle.grace?.siteKey ?? bundle.site.siteKey,
    version,
    features: { ...DEFAULT_FEATURES, ...settings.features },
    consent: { mode: settings.consentMode ?? "opt-out", respectDoNotTrack: settings.respectDoNotTrack ?? false },
    retentionDays: settings.retentionDays ?? DEFAULT_RETENTION_DAYS,
    timezone,
    debug: settings.debug ?? false,
    allowedOrigins: Array.isArray(bundle.site.allowedOrigins) ? bundle.site.allowedOrigins.filter((o) => typeof o === "string") : [],
    ...(bundle.secretHashes.length ? { serverKeyHashes: bundle.secretHashes } : {}),
    forms: bundle.forms.map((form) => ({
      id: form.id,
      name: form.name,
      selector: form.selector,
      alternativeSelectors: Array.isArray(form.alternativeSelectors) ? form.alternativeSelectors.filter((s) => typeof s === "string" && s) : [],
      pageUrlPattern: form.pageUrlPattern,
      fields: bundle.fields
        .filter((f) => f.formId === form.id)
        .map((f) => ({
          selector: f.selector,
          name: f.name,
          type: f.type,
          ...(f.label ? { label: f.label } : {}),
          required: f.required,
          sensitive: f.sensitive,
        })),
    })),
    ...(bundle.grace ? { validUntil: bundle.grace.validUntil } : {}),
  };
  return siteConfigSchema.parse(config);
}

/** Hash of everything but the version: equal hashes mean KV already holds this content. */
export function contentHash(config: SiteConfig): string {
  const { version: _version, ...content } = config;
  return createHash("sha256").update(JSON.stringify(content)).digest("hex");
}
