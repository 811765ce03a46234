/**
 * `npm run token -- <email> [--tenant <tenant id>] [--expires 1h]`: mints a local admin API token (HS256, the local
 * secret under .data/) for a user in MariaDB. Prints only the token. An email is unique within a tenant only: when
 * several tenants have a user with it, `--tenant` picks one (the choices are listed).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { and, eq } from "drizzle-orm";
import { mintToken } from "../backend-consumer/src/api/auth.ts";
import { connectMariadb } from "../backend-consumer/src/config/db.ts";
import { tenants, users } from "../backend-consumer/src/config/schema.ts";
import { ensureMariadb } from "./lib/mariadb.ts";
import { DATA_DIR } from "./lib/paths.ts";
import { localJwtSecret } from "./lib/secrets.ts";
import { PORTS } from "./services.ts";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { expires: { type: "string", default: "1h" }, tenant: { type: "string" } } });
const email = positionals[0];
if (!email) {
  console.error("usage: npm run token -- <email> [--tenant <tenant id>] [--expires 1h]   (demo users: agency@demo.test, location@demo.test)");
  process.exit(2);
}
const mariadb = await ensureMariadb({ port: PORTS.mariadb, dataDir: join(DATA_DIR, "mariadb") });
const config = connectMariadb(mariadb.url, { connectionLimit: 1 });
try {
  const found = await config.db
    .select({ id: users.id, tenantId: users.tenantId, tenant: tenants.name, role: users.role })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(values.tenant ? and(eq(users.email, email.toLowerCase()), eq(users.tenantId, values.tenant)) : eq(users.email, email.toLowerCase()));
  if (found.length === 0) {
    console.error(`no user ${email}${values.tenant ? ` in tenant ${values.tenant}` : ""} (run npm start once to seed the demo users)`);
    process.exit(1);
  }
  if (found.length > 1) {
    console.error(`${email} is a user of ${found.length} tenants; choose one with --tenant:`);
    for (const u of found) console.error(`  --tenant ${u.tenantId}   ${u.tenant} (${u.role})`);
    process.exit(2);
  }
  const user = found[0]!;
  const token = await mintToken(
    localJwtSecret(DATA_DIR),
    { sub: user.id }, // who the user is; what it may see is read from the database on every request
    values.expires,
  );
  console.log(token);
} finally {
  await config.close();
}
