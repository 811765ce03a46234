/**
 * Killing the sync at any moment and restarting it converges: the backend process (which runs the sync) is
 * SIGKILLed at random moments while edits land in MariaDB; afterwards the edge serves exactly what MariaDB holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "#contracts";
import { compileSiteConfig, loadSiteBundle } from "../src/config/compile.ts";
import { connectMariadb, type Mariadb } from "../src/config/db.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

let stack: Stack;
let config: Mariadb;
const SITE = "kill-site";

beforeAll(async () => {
  stack = await startStack({
    dataDir: TEST_DATA_DIR,
    ports: TEST_PORTS,
    mongoDb: uniqueDbName("kill"),
    mariadbDb: uniqueDbName("kill"),
    siteKey: SITE,
    backendEnv: { KV_MIN_WRITE_INTERVAL_MS: "0" },
  });
  config = connectMariadb(stack.mariadbUrl, { connectionLimit: 2 });
});

afterAll(async () => {
  await config?.close();
  await stack?.stop();
});

async function served(): Promise<SiteConfig | null> {
  const res = await fetch(`${stack.edge.url}/v1/config/${SITE}`);
  return res.ok ? ((await res.json()) as SiteConfig) : null;
}

describe("config sync under SIGKILL", () => {
  it("converges to MariaDB's state after 12 kills at random moments, with versions that never go down", async () => {
    const seen: number[] = [];
    let edits = 0;
    for (let round = 0; round < 12; round++) {
      for (let j = 0; j < 3; j++) {
        edits++;
        await config.pool.query("UPDATE forms SET name = ? WHERE id = ?", [`Contact r${round} e${j}`, DEMO.formId]);
        await config.pool.query("UPDATE fields SET display_order = ? WHERE name = 'message'", [edits]);
      }
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      const current = await served();
      if (current) seen.push(current.version);
      await stack.restartBackend("SIGKILL");
    }

    const bundle = (await loadSiteBundle(config.db, SITE))!;
    const expected = compileSiteConfig(bundle, 1);
    const final = await eventually(
      async () => {
        const now = await served();
        return now && JSON.stringify({ ...now, version: 1 }) === JSON.stringify(expected) ? now : undefined;
      },
      20_000,
      "the edge to serve MariaDB's state",
    );
    expect(final.forms[0]!.name).toBe("Contact r11 e2");
    await eventually(async () => {
      const [r] = (await config.pool.query("SELECT COUNT(*) AS n FROM config_changes WHERE processed_at IS NULL")) as unknown as [{ n: number }[]];
      return Number(r[0]!.n) === 0 ? true : undefined;
    }, 10_000, "every change row to be processed");
    seen.push(final.version);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });
});
