/**
 * Test helper for MariaDB: a fresh, migrated database per test file on the server the global setup started (or
 * MARIADB_URL), dropped again by `drop()`.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { connectMariadb, migrateMariadb, type Mariadb } from "../../backend-consumer/src/config/db.ts";

export interface TestMariadb extends Mariadb {
  /** URL of the fresh database. */
  url: string;
  dbName: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** `url` with its database path replaced by `dbName`. */
export function withDatabase(url: string, dbName: string): string {
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  return u.toString();
}

export async function testMariadb(prefix: string): Promise<TestMariadb> {
  const serverUrl = inject("mariadbUrl");
  const dbName = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = await mysql.createConnection({ uri: serverUrl });
  try {
    await admin.query(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, dbName);
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
