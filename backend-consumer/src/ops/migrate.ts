/**
 * `node backend-consumer/src/ops/migrate.ts`: applies drizzle/'s migrations to MARIADB_URL and exits, for a
 * production install or the container image (`npm run db:migrate` is the local one, which can start MariaDB).
 * Idempotent: applied migrations are recorded and skipped.
 */
import { migrateMariadb } from "../config/db.ts";

const url = process.env.MARIADB_URL;
if (!url) {
  console.error("migrate: MARIADB_URL is required (mysql://user:pass@host:3306/db)");
  process.exit(1);
}
try {
  await migrateMariadb(url);
  console.log(JSON.stringify({ level: "info", time: new Date().toISOString(), msg: "migrations applied" }));
} catch (err) {
  // the driver's message names the host and the failure, never the password
  console.error(`migrate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
