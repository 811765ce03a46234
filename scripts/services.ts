/**
 * `npm run services [start|stop|status]`: the local MariaDB and MongoDB-compatible server on their own ports and
 * data dirs under `.data/`. Idempotent: `start` reuses what already runs. `npm start` and the tests call the same code.
 */
import { join } from "node:path";
import { DATA_DIR } from "./lib/paths.ts";
import { portOpen, readPid, stopPid } from "./lib/process.ts";
import { startServices } from "./lib/services.ts";
import { setup } from "./setup.ts";

export const PORTS = {
  worker: Number(process.env.WORKER_PORT ?? 8787),
  demo: Number(process.env.DEMO_PORT ?? 8788),
  backend: Number(process.env.BACKEND_PORT ?? 8790),
  mariadb: Number(process.env.MARIADB_PORT ?? 3307),
  mongo: Number(process.env.MONGO_PORT ?? 27018),
};

async function main(command: string): Promise<void> {
  if (command === "start") {
    setup("start");
    const { mariadb, mongo } = await startServices({ dataDir: DATA_DIR, ports: PORTS });
    console.log(`MariaDB  ${mariadb.url.replace(/:[^:@/]+@/, ":***@")}`);
    console.log(`MongoDB  ${mongo.url}`);
    return;
  }
  for (const name of ["mariadb", "mongo"]) {
    const pidFile = join(DATA_DIR, name, `${name}.pid`);
    const pid = readPid(pidFile);
    if (command === "stop" && pid) await stopPid(pid, pidFile, 30_000);
    const port = name === "mongo" ? PORTS.mongo : PORTS.mariadb;
    console.log(`${name}: ${command === "stop" ? "stopped" : pid && (await portOpen(port)) ? `running (pid ${pid})` : "not running"}`);
  }
}

if (process.argv[1] === import.meta.filename) await main(process.argv[2] ?? "start");
