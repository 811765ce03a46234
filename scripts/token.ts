/**
 * `npm run token -- <email> [--expires 1h]`: mints a local admin API token (HS256, the local secret under .data/)
 * for a user in MariaDB. Prints only the token.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { mintToken } from "../backend-consumer/src/api/auth.ts";
import { connectMariadb } from "../backend-consumer/src/config/db.ts";
import { users } from "../backend-consumer/src/config/schema.ts";
import { ensureMariadb } from "./lib/mariadb.ts";
import { DATA_DIR } from "./lib/paths.ts";
import { localJwtSecret } from "./lib/secrets.ts";
import { PORTS } from "./services.ts";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { expires: { type: "string", default: "1h" } } });
const email = positionals[0];
if (!email) {
  console.error("usage: npm run token -- <email> [--expires 1h]   (demo users: agency@demo.test, location@demo.test)");
  process.exit(2);
}
const mariadb = await ensureMariadb({ port: PORTS.mariadb, dataDir: join(DATA_DIR, "mariadb") });
const config = connectMariadb(mariadb.url, { connectionLimit: 1 });
try {
  const [user] = await config.db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!user) {
    console.error(`no user ${email} (run npm start once to seed the demo users)`);
    process.exit(1);
  }
  const token = await mintToken(
    localJwtSecret(DATA_DIR),
    { sub: user.id }, // who the user is; what it may see is read from the database on every request
    values.expires,
  );
  console.log(token);
} finally {
  await config.close();
}
