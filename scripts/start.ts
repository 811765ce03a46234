/**
 * `npm start`: brings the whole local stack up (MariaDB and the MongoDB-compatible server unless MARIADB_URL /
 * MONGODB_URI are set, the backend, the edge Worker on miniflare with its dev queue consumer, the demo page),
 * prints the URLs, and stops everything it started on Ctrl-C.
 */
import { buildDashboard } from "./build-dashboard.ts";
import { buildSdk } from "./build-sdk.ts";
import { DATA_DIR } from "./lib/paths.ts";
import { startStack } from "./lib/stack.ts";
import { PORTS } from "./services.ts";
import { setup } from "./setup.ts";

setup("start");
await Promise.all([buildSdk(), buildDashboard()]);
// ten weeks of demo traffic for the demo tenant's two sites, once per database, so the dashboard has a story to tell
const stack = await startStack({ dataDir: DATA_DIR, ports: PORTS, mongoDb: process.env.MONGODB_DB ?? "tracker", demoHistoryDays: 70 });

console.log(`
  Lead tracker — local stack is up
  Dashboard     ${stack.demoUrl}crm      (the CRM stand-in: the dashboard as a CRM user sees it, with single sign-on)
                ${stack.appUrl}   (on its own: sign in with a token)
  Team activity ${stack.demoUrl}v2/location/demo-location-acme/dashboard?as=location  (the CRM's own pages; team activity under Lead Tracker)
  Demo site     ${stack.demoUrl}
  Edge Worker   ${stack.edge.url}        (POST /v1/events, GET /sdk/<version>.js, GET /healthz)
  Backend       ${stack.backend.url}        (admin API /v1/..., docs ${stack.backend.url}/docs)
  MongoDB       ${stack.mongo.url}  (database "${process.env.MONGODB_DB ?? "tracker"}")
  MariaDB       ${stack.mariadb.url.replace(/:[^:@/]+@/, ":***@")}
  Logs          ${DATA_DIR}/*.log

  Admin token   TOKEN=$(npm run -s token -- agency@demo.test)     (or location@demo.test)
  Try           curl -s -H "authorization: Bearer $TOKEN" ${stack.backend.url}/v1/sites

  Press Ctrl-C to stop.
`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  await stack.stop();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
