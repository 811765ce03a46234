/**
 * `npm run stats:rebuild -- --site <id> --from YYYY-MM-DD --to YYYY-MM-DD [--apply] [--timezone <IANA>]`: rebuilds
 * a site's rollups for those local days from the raw events (and the counted visits), compares them with the kept
 * ones and prints the differences; `--apply` replaces what differs. Exits 1 when they differ and were not replaced.
 * MongoDB: MONGODB_URI / MONGODB_DB (default: the local one). The site's time zone is read from MariaDB
 * (MARIADB_URL, default: the local one) unless --timezone is given.
 */
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { connectMariadb } from "../backend-consumer/src/config/db.ts";
import { locations, sites } from "../backend-consumer/src/config/schema.ts";
import { rebuildRollups } from "../backend-consumer/src/rollups/rebuild.ts";
import { connectMongo } from "../backend-consumer/src/store/mongo.ts";
import { PORTS } from "./services.ts";

const { values } = parseArgs({
  options: { site: { type: "string" }, from: { type: "string" }, to: { type: "string" }, apply: { type: "boolean", default: false }, timezone: { type: "string" } },
});
const DAY = /^\d{4}-\d{2}-\d{2}$/;
if (!values.site || !values.from || !values.to || !DAY.test(values.from) || !DAY.test(values.to)) {
  console.error("usage: npm run stats:rebuild -- --site <site id> --from YYYY-MM-DD --to YYYY-MM-DD [--apply] [--timezone <IANA>]");
  process.exit(2);
}

async function siteTimezone(siteId: string): Promise<string> {
  const maria = connectMariadb(process.env.MARIADB_URL ?? `mysql://tracker:tracker@127.0.0.1:${PORTS.mariadb}/tracker`, { connectionLimit: 1 });
  try {
    const [row] = await maria.db
      .select({ own: sites.timezone, inherited: locations.timezone })
      .from(sites)
      .innerJoin(locations, eq(locations.id, sites.locationId))
      .where(eq(sites.id, siteId))
      .limit(1);
    if (!row) throw new Error(`no site ${siteId} in MariaDB (or pass --timezone)`);
    return row.own ?? row.inherited;
  } finally {
    await maria.close();
  }
}

const timezone = values.timezone ?? (await siteTimezone(values.site));
const mongo = await connectMongo(process.env.MONGODB_URI ?? `mongodb://127.0.0.1:${PORTS.mongo}/`, process.env.MONGODB_DB ?? "tracker", { serverSelectionTimeoutMS: 5000 });
try {
  const report = await rebuildRollups(mongo.db, { siteId: values.site, from: values.from, to: values.to, timezone, apply: values.apply });
  console.log(`site ${report.siteId}, ${report.from} … ${report.to} (${timezone}): ${report.events} events, ${report.visits} counted visits, ${report.checked} rollup documents`);
  for (const m of report.mismatches.slice(0, 20)) console.log(`  differs: ${m.id}\n    kept    ${JSON.stringify(m.kept?.counters ?? null)}\n    rebuilt ${JSON.stringify(m.rebuilt?.counters ?? null)}`);
  console.log(report.mismatches.length === 0 ? "rollups match the raw events" : `${report.mismatches.length} document(s) differ${report.applied ? ": replaced by the rebuild" : " (run with --apply to replace them)"}`);
  process.exitCode = report.mismatches.length && !report.applied ? 1 : 0;
} finally {
  await mongo.close();
}
