/**
 * Starts the databases once for the whole integration run (unless MARIADB_URL / MONGODB_URI point elsewhere) and
 * stops what it started at the end. Test files reach them through `inject("mongoUri")` / `inject("mariadbUrl")`.
 */
import type { TestProject } from "vitest/node";
import { buildDashboard } from "../build-dashboard.ts";
import { buildSdk } from "../build-sdk.ts";
import { startServices } from "../lib/services.ts";
import { ensureSystemDeps } from "../lib/system-deps.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "./ports.ts";

declare module "vitest" {
  export interface ProvidedContext {
    mongoUri: string;
    mariadbUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // SKIP_SDK_BUILD=1 reuses the last build (e.g. while the SDK sources are mid-edit and only backend tests run).
  if (process.env.SKIP_SDK_BUILD !== "1") await Promise.all([buildSdk(), buildDashboard()]);
  // `npm test` has done this already; this covers `npm run test:integration` on its own (only looks when nothing lacks).
  ensureSystemDeps({ mariadb: true, mongo: true, browser: true });
  const services = await startServices({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoMemory: true });
  project.provide("mongoUri", services.mongo.url);
  project.provide("mariadbUrl", services.mariadb.url);
  return services.stop;
}
