/** Where things live: the repository root and the local data dir (`.data/`, ignored by git). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const DATA_DIR = process.env.TRACKER_DATA_DIR ?? join(ROOT, ".data");

/** The environment for child processes: the project's Node 22 (the `node` devDependency) and tools come first. */
export function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`, ...extra };
}
