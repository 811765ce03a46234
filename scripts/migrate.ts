/** `npm run db:migrate`: applies drizzle/ migrations to MARIADB_URL (or the local MariaDB, started if needed). */
import { join } from "node:path";
import { migrateMariadb } from "../backend-consumer/src/config/db.ts";
import { ensureMariadb } from "./lib/mariadb.ts";
import { DATA_DIR } from "./lib/paths.ts";
import { PORTS } from "./services.ts";

const mariadb = await ensureMariadb({ port: PORTS.mariadb, dataDir: join(DATA_DIR, "mariadb") });
await migrateMariadb(mariadb.url);
console.log("migrations applied");
