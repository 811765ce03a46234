/**
 * What the local stack and the tests need from the machine, found and installed before anything starts: Debian's
 * MariaDB server binaries, a Java runtime and Maven (for the MongoDB-compatible server and its jars), and Chromium
 * for the browser tests. On Debian or Ubuntu it installs what is missing with `apt-get` (as root, or through
 * `sudo -n` when that needs no password); otherwise it stops with the one command to run. `MARIADB_URL`,
 * `MONGODB_URI` and `CHROMIUM_PATH` skip the matching part. When nothing is missing this only looks at a few paths.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ensureMongoJars } from "./mongo.ts";

/** A command on the PATH (or at one of the usual absolute paths Debian uses for daemons), or undefined. */
export function findCommand(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extraDirs, "/usr/sbin", "/usr/bin", "/sbin"];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Requirement {
  /** What it is for, in the message when it cannot be installed. */
  what: string;
  /** The Debian package that provides it. */
  pkg: string;
  present(): boolean;
}

export interface Needs {
  /** MariaDB server binaries (skipped by MARIADB_URL). */
  mariadb?: boolean;
  /** Java and Maven for mongo-java-server (skipped by MONGODB_URI). */
  mongo?: boolean;
  /** Chromium for the end-to-end tests (skipped by CHROMIUM_PATH). */
  browser?: boolean;
}

/** What `needs` asks for that the environment does not already point elsewhere. */
export function requirements(needs: Needs, env: NodeJS.ProcessEnv = process.env): Requirement[] {
  const list: Requirement[] = [];
  if (needs.mariadb && !env.MARIADB_URL) {
    list.push({
      what: "MariaDB server (mariadbd, mariadb-install-db, mariadb)",
      pkg: "mariadb-server",
      present: () => ["mariadbd", "mariadb-install-db", "mariadb"].every((c) => findCommand(c)),
    });
  }
  if (needs.mongo && !env.MONGODB_URI) {
    list.push({ what: "a Java runtime (java), for the MongoDB-compatible server", pkg: "default-jre-headless", present: () => !!findCommand("java") });
    list.push({ what: "Maven (mvn), to fetch the MongoDB-compatible server's jars", pkg: "maven", present: () => !!findCommand("mvn") });
  }
  if (needs.browser && !env.CHROMIUM_PATH) {
    list.push({ what: "Chromium, for the browser tests", pkg: "chromium", present: () => !!findCommand("chromium") });
  }
  return list;
}

/** How this process may run apt-get: directly as root, through passwordless sudo, or not at all. */
function aptPrefix(): string[] | null {
  if (!findCommand("apt-get")) return null;
  if (process.getuid?.() === 0) return [];
  if (findCommand("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0) return ["sudo", "-n"];
  return null;
}

export class MissingSystemPackages extends Error {
  readonly missing: Requirement[];
  readonly command: string;
  constructor(missing: Requirement[], command: string) {
    super(
      `missing: ${missing.map((m) => m.what).join("; ")}.\n` +
        `Install ${missing.length > 1 ? "them" : "it"} with:\n\n  ${command}\n\n` +
        "(or point MARIADB_URL / MONGODB_URI / CHROMIUM_PATH at what you already have), then run the command again.",
    );
    this.name = "MissingSystemPackages";
    this.missing = missing;
    this.command = command;
  }
}

/**
 * Installs whatever `needs` lacks, then the mongo-java-server jars (through Maven, once). Throws
 * MissingSystemPackages, before anything has started, when it may not install.
 */
export function ensureSystemDeps(needs: Needs, log: (line: string) => void = (l) => console.error(l)): void {
  const missing = requirements(needs).filter((r) => !r.present());
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    const install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...pkgs];
    const prefix = aptPrefix();
    if (!prefix) throw new MissingSystemPackages(missing, `sudo apt-get update && sudo ${install.join(" ")}`);
    log(`setup: installing ${pkgs.join(", ")} (${missing.map((m) => m.what).join("; ")})`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const run = (args: string[]): void => {
      const [cmd, ...rest] = [...prefix, ...args];
      execFileSync(cmd!, rest, { stdio: ["ignore", "inherit", "inherit"], env });
    };
    run(["apt-get", "update", "-qq"]);
    run(install);
    const still = missing.filter((r) => !r.present());
    if (still.length) throw new MissingSystemPackages(still, `sudo ${install.join(" ")}`);
  }
  if (needs.mongo && !process.env.MONGODB_URI) ensureMongoJars();
}

/** The Chromium binary the browser tests drive. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? findCommand("chromium");
  if (!path || !existsSync(path)) throw new MissingSystemPackages(requirements({ browser: true }, {}), "sudo apt-get install -y chromium");
  return path;
}
