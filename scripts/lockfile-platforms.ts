/**
 * `node scripts/lockfile-platforms.ts` after any `npm install` that rewrites package-lock.json.
 *
 * The registry these machines reach serves workerd's Linux binaries but not its macOS/Windows ones, so npm leaves
 * those optional packages out of the lockfile, and `npm ci` then refuses the lockfile as out of sync. This adds
 * the missing entries (marked optional, with their os/cpu) so `npm ci` accepts the lockfile and skips them on Linux.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/paths.ts";

const PLATFORMS: Record<string, { os: string; cpu: string }> = {
  "darwin-64": { os: "darwin", cpu: "x64" },
  "darwin-arm64": { os: "darwin", cpu: "arm64" },
  "linux-64": { os: "linux", cpu: "x64" },
  "linux-arm64": { os: "linux", cpu: "arm64" },
  "windows-64": { os: "win32", cpu: "x64" },
};

const file = join(ROOT, "package-lock.json");
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, Record<string, unknown>> };
const workerd = lock.packages["node_modules/workerd"];
if (!workerd) throw new Error("workerd is not in package-lock.json");
let added = 0;
for (const [suffix, { os, cpu }] of Object.entries(PLATFORMS)) {
  const key = `node_modules/@cloudflare/workerd-${suffix}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version: workerd.version, cpu: [cpu], dev: true, license: "Apache-2.0", optional: true, os: [os], engines: { node: ">=16" } };
  added++;
}
const [rootEntry, ...rest] = Object.entries(lock.packages);
lock.packages = Object.fromEntries([rootEntry!, ...rest.sort(([a], [b]) => a.localeCompare(b))]);
writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
console.log(`lockfile: added ${added} workerd platform entries`);
