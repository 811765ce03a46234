/** Test helper: a fresh, migrated MariaDB database seeded with the demo tenant, plus raw SQL as another app would run it. */
import { seedDemo } from "../lib/seed.ts";
import { testMariadb, type TestMariadb } from "./mariadb.ts";

export interface TestConfigDb extends TestMariadb {
  /** Runs raw SQL, bypassing the admin API; returns the rows (or the result header). */
  sql(query: string, params?: unknown[]): Promise<unknown>;
}

export async function freshConfigDb(prefix: string, seed?: { siteKey: string; demoOrigin: string }): Promise<TestConfigDb> {
  const db = await testMariadb(prefix);
  if (seed) await seedDemo(db.db, seed);
  return Object.assign(db, { sql: async (query: string, params?: unknown[]) => (await db.pool.query(query, params))[0] });
}
