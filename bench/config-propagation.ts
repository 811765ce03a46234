/**
 * Config propagation on the local stack: N edits to forms (half through the admin API, half by direct SQL as
 * another application would), each timed from the moment its commit returned to the moment the edge serves a
 * config with a newer version. Edits rotate over several sites, as tenants' edits would; the sync honours
 * Workers KV's one-write-per-second-per-key limit as it does in production.
 * Also: the loader's gzipped size without the inlined config.
 */
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { randomUUID } from "node:crypto";
import type { SiteConfig } from "#contracts";
import { mintToken } from "../backend-consumer/src/api/auth.ts";
import { connectMariadb } from "../backend-consumer/src/config/db.ts";
import { renderLoader } from "../worker/src/lib/loader.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { DEMO } from "../scripts/lib/seed.ts";
import { startStack } from "../scripts/lib/stack.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const SITES = 10;

/** gzip -9 size of the loader with an empty config object in place of the site config. */
export function loaderGzipBytes(): { raw: number; gzip: number } {
  const js = renderLoader({} as SiteConfig, "https://edge.example.com/sdk/0123456789ab.js", "https://edge.example.com");
  return { raw: Buffer.byteLength(js), gzip: gzipSync(js, { level: 9 }).byteLength };
}

export async function configPropagation(edits = Number(process.env.BENCH_EDITS ?? 60)): Promise<BenchResult> {
  const stack = await startStack({
    dataDir: join(DATA_DIR, "bench"),
    ports: BENCH_PORTS,
    mongoDb: uniqueDbName("bench_config"),
    mariadbDb: uniqueDbName("bench_config"),
    siteKey: "bench-site-0",
  });
  const config = connectMariadb(stack.mariadbUrl, { connectionLimit: 2 });
  try {
    // More sites of the demo tenant, each with one form.
    const sites: { key: string; formId: string }[] = [{ key: "bench-site-0", formId: DEMO.formId }];
    for (let i = 1; i < SITES; i++) {
      const siteId = randomUUID();
      const formId = randomUUID();
      await config.pool.query("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (?, ?, ?, ?, 'bench.example', ?)", [siteId, DEMO.tenantId, DEMO.locationId, `Bench ${i}`, `bench-site-${i}`]);
      await config.pool.query("INSERT INTO forms (id, site_id, name, selector) VALUES (?, ?, 'Form', '#f')", [formId, siteId]);
      sites.push({ key: `bench-site-${i}`, formId });
    }
    const version = async (key: string): Promise<number> => {
      const res = await fetch(`${stack.edge.url}/v1/config/${key}`);
      return res.ok ? ((await res.json()) as SiteConfig).version : 0;
    };
    for (const s of sites) while ((await version(s.key)) === 0) await new Promise((r) => setTimeout(r, 50));

    const token = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });
    const timings = { api: [] as number[], sql: [] as number[] };
    for (let i = 0; i < edits; i++) {
      const site = sites[i % SITES]!;
      const before = await version(site.key);
      const via = i % 2 === 0 ? "api" : "sql";
      const name = `Form edit ${i}`;
      if (via === "api") {
        const res = await fetch(`${stack.backend.url}/v1/forms/${site.formId}`, {
          method: "PATCH",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name }),
        });
        if (!res.ok) throw new Error(`API edit failed: ${res.status} ${await res.text()}`);
      } else {
        await config.pool.query("UPDATE forms SET name = ? WHERE id = ?", [name, site.formId]);
      }
      const committed = performance.now();
      while ((await version(site.key)) <= before) await new Promise((r) => setTimeout(r, 10));
      timings[via].push(performance.now() - committed);
    }
    const all = [...timings.api, ...timings.sql].sort((a, b) => a - b);
    const fmt = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `p50 ${Math.round(percentile(s, 50))} ms, p95 ${Math.round(percentile(s, 95))} ms, max ${Math.round(s.at(-1)!)} ms`;
    };
    const loader = loaderGzipBytes();
    return {
      name: "Config propagation (commit → edge serves the new version) and loader size",
      lines: [
        `edits: ${all.length} over ${SITES} sites (${timings.api.length} through the admin API, ${timings.sql.length} by direct SQL)`,
        `all: ${fmt(all)}`,
        `admin API: ${fmt(timings.api)}; direct SQL: ${fmt(timings.sql)}`,
        `loader without config: ${loader.raw} B raw, ${loader.gzip} B gzip (target ≤ 800 B gzip)`,
      ],
    };
  } finally {
    await config.close();
    await stack.stop();
  }
}
