/**
 * `npm run bench`: runs every benchmark once, prints the figures, and rewrites bench/RESULTS.md with them, the date
 * and the command. `npm run bench -- <name>` runs one (names: latency, config, drain, ingest,
 * ingest-cpu, sdk, sdk-page, stats, dashboard, crm, erase, activity).
 */
import { rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { DATA_DIR, ROOT } from "../scripts/lib/paths.ts";
import { activityBudgets } from "./activity.ts";
import { configPropagation } from "./config-propagation.ts";
import { crmDelivery } from "./crm.ts";
import { dashboardBudgets } from "./dashboard.ts";
import { drainThroughput } from "./drain-throughput.ts";
import { eraseBench } from "./erase.ts";
import { ingestThroughput } from "./ingest.ts";
import { ingestCpuAsWorkerd } from "./ingest-cpu.ts";
import { sdkPage } from "./sdk-page.ts";
import { sdkSize } from "./sdk-size.ts";
import { statsQueries } from "./stats-query.ts";
import { e2eLatency } from "./e2e-latency.ts";
import type { BenchResult } from "./stats.ts";

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  latency: () => e2eLatency(),
  config: () => configPropagation(),
  drain: () => drainThroughput(),
  ingest: () => ingestThroughput(),
  "ingest-cpu": async () => ingestCpuAsWorkerd(),
  sdk: () => sdkSize(),
  "sdk-page": () => sdkPage(),
  stats: () => statsQueries(),
  dashboard: () => dashboardBudgets(),
  crm: () => crmDelivery(),
  erase: () => eraseBench(),
  activity: () => activityBudgets(),
};

// Benchmarks own .data/bench/mongo: start each run from an empty file, so H2 compaction of earlier runs' data
// does not land inside this run's measurements.
rmSync(join(DATA_DIR, "bench", "mongo"), { recursive: true, force: true });

const only = process.argv.slice(2);
const results: BenchResult[] = [];
for (const [name, run] of Object.entries(BENCHES)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n▶ ${name}`);
  const result = await run();
  for (const line of result.lines) console.log(`  ${line}`);
  results.push(result);
}

if (only.length === 0) {
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`;
  const body = [
    "# Benchmark results",
    "",
    `Measured ${date} with \`npm run bench\` on ${machine}. Every figure below comes from that one run.`,
    "",
    ...results.flatMap((r) => [`## ${r.name}`, "", ...r.lines.map((l) => `- ${l}`), ""]),
  ].join("\n");
  writeFileSync(join(ROOT, "bench/RESULTS.md"), body);
  console.log("\nwrote bench/RESULTS.md");
}
process.exit(0);
