/**
 * The connector registry: every module in this directory that exports `connector` (see types.ts). Adding a
 * destination kind is adding one file here.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Connector } from "./types.ts";

const HERE = dirname(import.meta.filename);

export async function loadConnectors(): Promise<Map<string, Connector>> {
  const files = readdirSync(HERE).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "index.ts" && f !== "types.ts");
  const out = new Map<string, Connector>();
  for (const file of files.sort()) {
    const mod = (await import(pathToFileURL(join(HERE, file)).href)) as { connector?: Connector };
    if (!mod.connector) continue;
    if (out.has(mod.connector.kind)) throw new Error(`two connectors of kind ${mod.connector.kind}`);
    out.set(mod.connector.kind, mod.connector);
  }
  return out;
}
