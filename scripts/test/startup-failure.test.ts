/**
 * A start that fails part-way leaves nothing running: not in the tests' service start (global setup), and not in
 * `npm start`. Each case gives a run its own data dir, so "nothing left" can be checked exactly: no port of the run
 * still listens and no process mentions the run's data dir on its command line.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "../lib/paths.ts";
import { portOpen } from "../lib/process.ts";
import { startServices } from "../lib/services.ts";
import { testPort } from "../testing/ports.ts";

let dataDir: string;
let blocker: Server | undefined;
const savedEnv = { MARIADB_URL: process.env.MARIADB_URL, MONGODB_URI: process.env.MONGODB_URI };

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "lt-startfail-"));
  // this test is about the services we start ourselves
  delete process.env.MARIADB_URL;
  delete process.env.MONGODB_URI;
});

afterEach(async () => {
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
  Object.assign(process.env, Object.fromEntries(Object.entries(savedEnv).filter(([, v]) => v !== undefined)));
  rmSync(dataDir, { recursive: true, force: true });
});

/** Something else listening on `port`, so the service meant for it cannot start. */
function occupy(port: number): Promise<void> {
  blocker = createServer((socket) => socket.destroy());
  return new Promise((resolve) => blocker!.listen(port, "127.0.0.1", resolve));
}

/** Pids of processes (other than this one) whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe("a failed start stops what it had started", () => {
  it("services: MariaDB cannot start, so the MongoDB server started beside it is stopped", async () => {
    const ports = { mariadb: testPort(41), mongo: testPort(42) };
    await occupy(ports.mariadb);
    await expect(startServices({ dataDir, ports })).rejects.toThrow(/port .* is taken/);
    expect(await portOpen(ports.mongo)).toBe(false);
    expect(processesMentioning(dataDir)).toEqual([]);
  });

  it("npm start: the backend cannot start, so MariaDB, the MongoDB server and everything else are stopped", async () => {
    const ports = { WORKER_PORT: testPort(43), DEMO_PORT: testPort(44), BACKEND_PORT: testPort(45), MARIADB_PORT: testPort(46), MONGO_PORT: testPort(47) };
    await occupy(ports.BACKEND_PORT);
    const child = spawn(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "scripts/start.ts")], {
      cwd: ROOT,
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), TRACKER_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d));
    child.stderr!.on("data", (d: Buffer) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));

    expect(code, output).not.toBe(0);
    expect(output).toMatch(/backend/);
    // the databases did start (their logs exist) before the backend failed
    expect(readdirSync(join(dataDir, "mariadb"))).toContain("mariadb.log");
    expect(readdirSync(join(dataDir, "mongo"))).toContain("mongo.log");
    for (const [name, port] of Object.entries(ports)) {
      if (name !== "BACKEND_PORT") expect(await portOpen(port), `${name} ${port}`).toBe(false);
    }
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 180_000);
});
