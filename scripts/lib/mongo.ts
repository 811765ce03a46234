/**
 * The MongoDB wire-compatible server for local runs and tests: mongo-java-server (Maven Central) with an H2 file
 * under the data dir, so documents survive restarts. Skipped entirely when MONGODB_URI points at a real MongoDB.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { portOpen, readPid, spawnService, stopPid, waitForPort, type ServiceHandle } from "./process.ts";
import { ROOT } from "./paths.ts";

const LAUNCHER_DIR = join(ROOT, "scripts/mongo-server");
const JARS = join(LAUNCHER_DIR, "target/dependency");

/** Downloads the server's jars through Maven once; later runs find them in place. */
export function ensureMongoJars(): void {
  if (existsSync(JARS) && readdirSync(JARS).some((f) => f.startsWith("mongo-java-server-core"))) return;
  execFileSync("mvn", ["-q", "-B", "dependency:copy-dependencies"], { cwd: LAUNCHER_DIR, stdio: "inherit" });
}

export async function ensureMongo(opts: { port: number; dataDir: string; memory?: boolean }): Promise<ServiceHandle> {
  const fromEnv = process.env.MONGODB_URI;
  if (fromEnv) return { url: fromEnv, startedHere: false, stop: async () => {} };

  mkdirSync(opts.dataDir, { recursive: true });
  const pidFile = join(opts.dataDir, "mongo.pid");
  const url = `mongodb://127.0.0.1:${opts.port}/`;
  const running = readPid(pidFile);
  if (running && (await portOpen(opts.port))) return { url, startedHere: false, stop: async () => {} };
  if (await portOpen(opts.port)) throw new Error(`port ${opts.port} is taken by something that is not our MongoDB server`);

  ensureMongoJars();
  const store = opts.memory ? ":memory:" : join(opts.dataDir, "tracker.mv.db");
  const child = spawnService(
    "java",
    ["-Xss4m", "-cp", `${JARS}/*`, join(LAUNCHER_DIR, "MongoServerMain.java"), String(opts.port), store],
    { logFile: join(opts.dataDir, "mongo.log"), pidFile },
  );
  const pid = child.pid!;
  const stop = (): Promise<void> => stopPid(pid, pidFile);
  try {
    await waitForPort(opts.port, 60_000, `mongo-java-server (see ${join(opts.dataDir, "mongo.log")})`, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, startedHere: true, stop };
}
