/**
 * MariaDB for local runs and tests: Debian's `mariadb-server` binaries run from our own data dir and port, with a
 * `tracker` database and user. Skipped entirely when MARIADB_URL points at an existing server.
 */
import { execFileSync } from "node:child_process";
import mysql from "mysql2/promise";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { portOpen, readPid, spawnService, stopPid, waitForPort, type ServiceHandle } from "./process.ts";
import { findCommand } from "./system-deps.ts";

/** Runs a MariaDB tool; on failure, the error carries what it printed. */
function runTool(name: string, args: string[]): void {
  const cmd = findCommand(name);
  if (!cmd) throw new Error(`${name} not found: install Debian's mariadb-server package, or set MARIADB_URL`);
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`${name} failed: ${(e.stderr?.toString() || e.stdout?.toString() || e.message).trim().slice(-2000)}`, { cause: err });
  }
}


export async function ensureMariadb(opts: { port: number; dataDir: string }): Promise<ServiceHandle> {
  const fromEnv = process.env.MARIADB_URL;
  if (fromEnv) return { url: fromEnv, startedHere: false, stop: async () => {} };

  const dataDir = opts.dataDir;
  const dbDir = join(dataDir, "db");
  const socket = join(dataDir, "mariadb.sock");
  const pidFile = join(dataDir, "mariadb.pid");
  const url = `mysql://tracker:tracker@127.0.0.1:${opts.port}/tracker`;
  mkdirSync(dataDir, { recursive: true });

  if (readPid(pidFile) && (await portOpen(opts.port))) return { url, startedHere: false, stop: async () => {} };
  if (await portOpen(opts.port)) throw new Error(`port ${opts.port} is taken by something that is not our MariaDB`);

  if (!existsSync(join(dbDir, "mysql"))) {
    mkdirSync(dbDir, { recursive: true });
    try {
      runTool("mariadb-install-db", [`--datadir=${dbDir}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"]);
    } catch (err) {
      rmSync(dbDir, { recursive: true, force: true }); // half a data dir would be taken for a whole one next time
      throw err;
    }
  }
  const mariadbd = findCommand("mariadbd");
  if (!mariadbd) throw new Error("mariadbd not found: install Debian's mariadb-server package, or set MARIADB_URL");
  const child = spawnService(
    mariadbd,
    [
      "--no-defaults",
      `--datadir=${dbDir}`,
      `--port=${opts.port}`,
      "--bind-address=127.0.0.1",
      `--socket=${socket}`,
      `--pid-file=${join(dataDir, "mariadbd.pid")}`,
      "--user=root",
      "--skip-name-resolve",
      "--innodb-buffer-pool-size=128M",
      "--innodb-flush-log-at-trx-commit=2",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci",
    ],
    { logFile: join(dataDir, "mariadb.log"), pidFile },
  );
  const pid = child.pid!;
  const stop = (): Promise<void> => stopPid(pid, pidFile, 30_000);
  try {
    await waitForPort(opts.port, 60_000, `mariadbd (see ${join(dataDir, "mariadb.log")})`, child);
    // Root has no password on this private, loopback-only instance; the app uses its own user.
    runTool("mariadb", [`--socket=${socket}`, "-uroot", "-e", [
      "CREATE DATABASE IF NOT EXISTS tracker CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
      "CREATE USER IF NOT EXISTS 'tracker'@'%' IDENTIFIED BY 'tracker';",
      "CREATE USER IF NOT EXISTS 'tracker'@'localhost' IDENTIFIED BY 'tracker';",
      "GRANT ALL PRIVILEGES ON *.* TO 'tracker'@'%' WITH GRANT OPTION;",
      "GRANT ALL PRIVILEGES ON *.* TO 'tracker'@'localhost' WITH GRANT OPTION;",
    ].join(" ")]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, startedHere: true, stop };
}

/** `url` with its database path replaced by `dbName`. */
export function withDatabase(url: string, dbName: string): string {
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** Creates `dbName` on the server at `serverUrl` (utf8mb4) unless it exists; returns the database's URL. */
export async function createDatabase(serverUrl: string, dbName: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: serverUrl });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${dbName.replace(/`/g, "")}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  return withDatabase(serverUrl, dbName);
}
