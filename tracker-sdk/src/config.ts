/** The site config this page runs with (from the loader, or defaults), and the edge origin. Set once at start. */
import type { SiteConfig } from "#contracts";

export let config: Partial<SiteConfig> = {};
export let edge = "";

export function configure(siteConfig: Partial<SiteConfig>, edgeOrigin: string): void {
  config = siteConfig;
  edge = edgeOrigin;
}

/** Features are on unless the config turns them off. */
export const feature = (name: string): boolean => !config.features || config.features[name] !== false;
