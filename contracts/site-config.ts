/**
 * The compiled site config: built by the backend's sync from MariaDB, stored in Workers KV under the site key,
 * inlined by the edge into the loader and read by the SDK. `version` increases with every change.
 */
import { z } from "zod";

export const CONSENT_MODES = ["opt-in", "opt-out", "cookieless"] as const;

/** Site settings as tenants edit them (the `settings` JSON column). Unknown keys are refused. */
export const siteSettingsSchema = z.strictObject({
  features: z.record(z.string().max(64), z.boolean()).optional(),
  consentMode: z.enum(CONSENT_MODES).optional(),
  respectDoNotTrack: z.boolean().optional(),
  retentionDays: z.number().int().min(1).max(3650).optional(),
  debug: z.boolean().optional(),
});

export const DEFAULT_RETENTION_DAYS = 90;

/** Features on unless a site turns them off. */
export const DEFAULT_FEATURES = {
  pageViews: true,
  spa: true,
  engagement: true,
  formSubmissions: true,
  partialLeads: true,
  /** Capture unconfigured forms that contain an email field. */
  heuristicForms: true,
} as const;

export const configFieldSchema = z.object({
  selector: z.string().min(1),
  name: z.string().min(1),
  type: z.string().min(1),
  label: z.string().optional(),
  required: z.boolean(),
  sensitive: z.boolean(),
});

export const configFormSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  selector: z.string().min(1),
  alternativeSelectors: z.array(z.string().min(1)),
  /** `*` matches any run of characters; empty matches every page. */
  pageUrlPattern: z.string(),
  fields: z.array(configFieldSchema),
});

export const siteConfigSchema = z.object({
  siteId: z.string().min(1),
  siteKey: z.string().min(1),
  version: z.number().int().positive(),
  features: z.record(z.string(), z.boolean()),
  consent: z.object({ mode: z.enum(CONSENT_MODES), respectDoNotTrack: z.boolean() }),
  retentionDays: z.number().int().positive(),
  /** IANA time zone of the site (its own, or its location's): where its statistics' days begin. */
  timezone: z.string().min(1).optional(),
  debug: z.boolean(),
  allowedOrigins: z.array(z.string()),
  /**
   * Hex SHA-256 of the site's server secret keys: a request that carries one (Authorization: Bearer) needs no
   * Origin. Never served to browsers (the loader and /v1/config leave it out).
   */
  serverKeyHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
  forms: z.array(configFormSchema),
  /**
   * Set only on the entry of a rotated-out key in its grace period (epoch ms): the edge serves this key while its
   * clock is before this instant and answers as for an unknown key from then on, with or without the backend.
   */
  validUntil: z.number().int().positive().optional(),
});

export type SiteSettings = z.infer<typeof siteSettingsSchema>;
export type SiteConfig = z.infer<typeof siteConfigSchema>;
export type ConfigForm = z.infer<typeof configFormSchema>;
export type ConfigField = z.infer<typeof configFieldSchema>;

/** The config as browsers may see it: without what only the edge needs. */
export function publicConfig(config: SiteConfig): SiteConfig {
  const { serverKeyHashes: _hidden, ...rest } = config;
  return rest;
}

/** The KV key of a site's compiled config (site keys are lower-case everywhere). */
export const configKey = (siteKey: string): string => `site:${siteKey.toLowerCase()}`;
