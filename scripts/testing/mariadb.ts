/**
 * Test helper for MariaDB: a fresh, migrated database per test file on the server the global setup started (or
 * MARIADB_URL), dropped again by `drop()`.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { connectMariadb, migrateMariadb, type Mariadb } from "../../backend-consumer/src/config/db.ts";
import { createDatabase } from "../lib/mariadb.ts";

export interface TestMariadb extends Mariadb {
  /** URL of the fresh database. */
  url: string;
  dbName: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

export async function testMariadb(prefix: string): Promise<TestMariadb> {
  const serverUrl = inject("mariadbUrl");
  const dbName = `${prefix}_${randomBytes(4).toString("hex")}`;
  const url = await createDatabase(serverUrl, dbName);
  await migrateMariadb(url);
  const conn = connectMariadb(url, { connectionLimit: 4 });
  return {
    ...conn,
    url,
    dbName,
    async drop() {
      await conn.close();
      const c = await mysql.createConnection({ uri: serverUrl });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
      } finally {
        await c.end();
      }
    },
  };
}
