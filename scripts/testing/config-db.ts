/** Test helper: a fresh, migrated MariaDB database (optionally seeded with the demo tenant) per test file. */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { connectMariadb, migrateMariadb, type Mariadb } from "../../backend-consumer/src/config/db.ts";
import { seedDemo } from "../lib/seed.ts";

export interface TestConfigDb extends Mariadb {
  url: string;
  /** Runs raw SQL as another application would (bypassing the admin API). */
  sql(query: string, params?: unknown[]): Promise<unknown>;
  drop(): Promise<void>;
}

export async function freshConfigDb(prefix: string, seed?: { siteKey: string; demoOrigin: string }): Promise<TestConfigDb> {
  const server = inject("mariadbUrl");
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = await mysql.createConnection({ uri: server });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  await migrateMariadb(url.toString());
  const conn = connectMariadb(url.toString(), { connectionLimit: 4 });
  if (seed) await seedDemo(conn.db, seed);
  return {
    ...conn,
    url: url.toString(),
    sql: async (query, params) => (await conn.pool.query(query, params))[0],
    async drop() {
      await conn.close();
      const c = await mysql.createConnection({ uri: server });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}
