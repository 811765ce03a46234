/** MariaDB connection (mysql2 pool + drizzle) and the migration runner. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";
import * as schema from "./schema.ts";

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../../drizzle");

export type ConfigDb = MySql2Database<typeof schema>;

export interface Mariadb {
  db: ConfigDb;
  pool: mysql.Pool;
  close(): Promise<void>;
}

export function connectMariadb(url: string, opts: { connectionLimit?: number } = {}): Mariadb {
  const pool = mysql.createPool({ uri: url, connectionLimit: opts.connectionLimit ?? 10, timezone: "Z", dateStrings: false });
  // Database-filled timestamps (CURRENT_TIMESTAMP) in UTC too, whatever the server's zone.
  pool.on("connection", (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const db = drizzle(pool, { schema, mode: "default" });
  return { db, pool, close: () => pool.end() };
}

/** Applies the committed migrations under drizzle/ (idempotent: applied ones are recorded and skipped). */
export async function migrateMariadb(url: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: url, multipleStatements: false });
  try {
    await migrate(drizzle(conn), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await conn.end();
  }
}
