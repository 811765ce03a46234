/**
 * `node scripts/setup.ts [test|start]`: the first step of `npm test` and `npm start`. Installs what the machine lacks
 * for them (see lib/system-deps.ts) or stops, before anything has started, with the one command to run.
 */
import { ensureSystemDeps, MissingSystemPackages, type Needs } from "./lib/system-deps.ts";

const NEEDS: Record<string, Needs> = {
  test: { mariadb: true, mongo: true, browser: true },
  start: { mariadb: true, mongo: true },
};

/** Runs the set-up for `purpose`; on a machine where it may not install, prints why and exits 1. */
export function setup(purpose: keyof typeof NEEDS): void {
  try {
    ensureSystemDeps(NEEDS[purpose]!);
  } catch (err) {
    if (!(err instanceof MissingSystemPackages)) throw err;
    console.error(`\nsetup: ${err.message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] === import.meta.filename) {
  const purpose = process.argv[2] ?? "test";
  if (!(purpose in NEEDS)) {
    console.error(`usage: node scripts/setup.ts [${Object.keys(NEEDS).join("|")}]`);
    process.exit(2);
  }
  setup(purpose);
}
