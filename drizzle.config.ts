/** drizzle-kit: MariaDB (mysql dialect); schema in backend-consumer; migrations committed under drizzle/. */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "mysql",
  schema: "./backend-consumer/src/config/schema.ts",
  out: "./drizzle",
  dbCredentials: { url: process.env.MARIADB_URL ?? "mysql://tracker:tracker@127.0.0.1:3307/tracker" },
  strict: true,
  verbose: true,
});
