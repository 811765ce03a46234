/**
 * Starts the databases once for the whole integration run (unless MARIADB_URL / MONGODB_URI point elsewhere) and
 * stops what it started at the end. Test files reach them through `inject("mongoUri")` / `inject("mariadbUrl")`.
 */
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { buildSdk } from "../build-sdk.ts";
import { ensureMariadb } from "../lib/mariadb.ts";
import { ensureMongo } from "../lib/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "./ports.ts";

declare module "vitest" {
  export interface ProvidedContext {
    mongoUri: string;
    mariadbUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // SKIP_SDK_BUILD=1 reuses the last build (e.g. while the SDK sources are mid-edit and only backend tests run).
  if (process.env.SKIP_SDK_BUILD !== "1") await buildSdk();
  const [mariadb, mongo] = await Promise.all([
    ensureMariadb({ port: TEST_PORTS.mariadb, dataDir: join(TEST_DATA_DIR, "mariadb") }),
    ensureMongo({ port: TEST_PORTS.mongo, dataDir: join(TEST_DATA_DIR, "mongo"), memory: true }),
  ]);
  project.provide("mongoUri", mongo.url);
  project.provide("mariadbUrl", mariadb.url);
  return async () => {
    await Promise.all([mongo.stop(), mariadb.stop()]);
  };
}
