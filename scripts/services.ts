/**
 * `npm run services [start|stop|status]`: the local MariaDB and MongoDB-compatible server on their own ports and
 * data dirs under `.data/`. Idempotent: `start` reuses what already runs. `npm start` and the tests call the same code.
 */
import { join } from "node:path";
import { ensureMariadb } from "./lib/mariadb.ts";
import { ensureMongo } from "./lib/mongo.ts";
import { DATA_DIR } from "./lib/paths.ts";
import { portOpen, readPid, stopPid } from "./lib/process.ts";

export const PORTS = {
  worker: Number(process.env.WORKER_PORT ?? 8787),
  demo: Number(process.env.DEMO_PORT ?? 8788),
  backend: Number(process.env.BACKEND_PORT ?? 8790),
  mariadb: Number(process.env.MARIADB_PORT ?? 3307),
  mongo: Number(process.env.MONGO_PORT ?? 27018),
};

export async function startServices(dataDir = DATA_DIR, ports = PORTS) {
  const [mariadb, mongo] = await Promise.all([
    ensureMariadb({ port: ports.mariadb, dataDir: join(dataDir, "mariadb") }),
    ensureMongo({ port: ports.mongo, dataDir: join(dataDir, "mongo") }),
  ]);
  return { mariadb, mongo };
}

async function main(command: string): Promise<void> {
  if (command === "start") {
    const { mariadb, mongo } = await startServices();
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
