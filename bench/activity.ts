/**
 * `npm run bench -- activity`: the team-activity budgets of issue L, each measured against its baseline in one run.
 * 1. Size: the Custom JS adds at most 1536 B gzip beyond what it shares with the SDK (from the build manifest that
 *    scripts/build-sdk.ts writes; the method is in its ActivityManifest).
 * 2. Main-thread time: at most 1 ms per CRM route change in Chromium, with issue K's method (bench/activity-page.ts).
 * 3. Queries: 500 users × 90 days, the team view's questions p95 ≤ 100 ms on the embedded server
 *    (bench/activity-query.ts).
 * Ports: the other benchmarks' shifted by 900, clear of them and of tests run with a TEST_PORT_OFFSET below 900.
 * BENCH_ACTIVITY_REPEATS, BENCH_ACTIVITY_ROUTE_CHANGES, BENCH_ACTIVITY_QUERY_RUNS, BENCH_ACTIVITY_DAYS size the runs;
 * BENCH_ACTIVITY_ONLY=size,page,queries runs a part.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSdk, type SdkManifest } from "../scripts/build-sdk.ts";
import { ROOT } from "../scripts/lib/paths.ts";
import { routeChangeCost } from "./activity-page.ts";
import { teamQueries } from "./activity-query.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import type { BenchResult } from "./stats.ts";

/** What the Custom JS may add beyond the SDK modules it shares (tracker-sdk/src/activity/size.test.ts enforces it). */
export const ACTIVITY_ADDED_GZIP_BUDGET = 1536;
const SHIFT = 900;
export const ACTIVITY_BENCH_PORTS = {
  worker: BENCH_PORTS.worker + SHIFT,
  demo: BENCH_PORTS.demo + SHIFT,
  token: BENCH_PORTS.demo + SHIFT + 1,
  backend: BENCH_PORTS.backend + SHIFT,
  mariadb: BENCH_PORTS.mariadb + SHIFT,
  mongo: BENCH_PORTS.mongo + SHIFT,
};

/** The sizes as the build manifest (tracker-sdk/dist/manifest.json) records them. */
async function customJsSize(): Promise<string[]> {
  await buildSdk();
  const m = JSON.parse(readFileSync(join(ROOT, "tracker-sdk/dist/manifest.json"), "utf8")) as SdkManifest;
  const a = m.activity;
  const left = ACTIVITY_ADDED_GZIP_BUDGET - a.gzipMinusSharedSdkModules;
  return [
    `${a.file} (the Custom JS as one IIFE, before the edge inlines its config): ${a.bytes} B raw, ${a.gzip} B gzip, ${a.brotli} B brotli; the website SDK ${m.file}: ${m.gzip} B gzip`,
    `added beyond the SDK modules it shares: ${a.gzipMinusSharedSdkModules} B gzip (goal ≤ ${ACTIVITY_ADDED_GZIP_BUDGET} B: ${left >= 0 ? `met, ${left} B left` : `MISSED by ${-left} B`}); ` +
      `pessimistic bound, its own code with the shared modules external: ${a.gzipWithSharedSdkModulesExternal} B gzip (${a.gzipWithSharedSdkModulesExternal <= ACTIVITY_ADDED_GZIP_BUDGET ? "within" : "over"} the budget)`,
  ];
}

export async function activityBudgets(): Promise<BenchResult> {
  const only = (process.env.BENCH_ACTIVITY_ONLY ?? "size,page,queries").split(",");
  const lines: string[] = [];
  if (only.includes("size")) lines.push(...(await customJsSize()));
  if (only.includes("page")) {
    const opts = {
      repeats: Number(process.env.BENCH_ACTIVITY_REPEATS ?? 4),
      routeChanges: Number(process.env.BENCH_ACTIVITY_ROUTE_CHANGES ?? 20),
      everyMs: 750,
    };
    console.log(`  route changes in Chromium: ${opts.repeats} repeats…`);
    lines.push(...(await routeChangeCost(ACTIVITY_BENCH_PORTS, opts)));
  }
  if (only.includes("queries")) lines.push(...(await teamQueries(ACTIVITY_BENCH_PORTS, Number(process.env.BENCH_ACTIVITY_QUERY_RUNS ?? 50))));
  return { name: "Team activity: the Custom JS's size and main-thread time, team queries at 500 users × 90 days", lines };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of (await activityBudgets()).lines) console.log(line);
  process.exit(0);
}
