/** The admin API's public surface; the implementation lives under ./admin/. */
export { createAdminApi, DEFAULT_MAX_BODY_BYTES, type AdminApiDeps } from "./admin/index.ts";
export { generateSiteKey } from "./admin/sites.ts";
