/**
 * The dashboard's two budgets, on the local stack with three weeks of demo traffic:
 * - first load of /app: the JavaScript (and CSS) the page loads, gzipped as a CDN would serve it (≤ 150 KB JS);
 * - time to the overview: from the session token's arrival (the answer to POST /v1/auth/highlevel, through the
 *   CRM stand-in's single sign-on) to all six headline numbers on screen (≤ 1 s), over fresh browser contexts
 *   (no cache), N times.
 */
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { mintToken } from "../backend-consumer/src/api/auth.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { DEMO } from "../scripts/lib/seed.ts";
import { startStack } from "../scripts/lib/stack.ts";
import { launchBrowser } from "../scripts/testing/browser.ts";
import { uniqueDbName } from "../scripts/testing/mongo.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const KPIS = ["visitors", "visits", "pageviews", "leads", "conversion_rate", "time_on_page"];
const JS_BUDGET = 150 * 1024;
const RENDER_BUDGET_MS = 1000;

/** Waits until the demo traffic has been drained and its visits counted: two equal, non-zero answers in a row. */
async function settled(backendUrl: string, token: string): Promise<void> {
  let last = "";
  for (let i = 0; i < 120; i++) {
    const res = await fetch(`${backendUrl}/v1/stats/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ metrics: ["visits", "pageviews"], date_range: "30d" }),
    });
    const now = JSON.stringify(((await res.json()) as { results: unknown[] }).results);
    if (now === last && now !== "[]" && !now.includes("[0,")) return;
    last = now;
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error("the demo traffic did not settle");
}

export async function dashboardBudgets(runs = Number(process.env.BENCH_DASHBOARD_RUNS ?? 20)): Promise<BenchResult> {
  const stack = await startStack({
    dataDir: join(DATA_DIR, "bench"),
    ports: BENCH_PORTS,
    mongoDb: uniqueDbName("bench_dashboard"),
    mariadbDb: uniqueDbName("bench_dashboard"),
    demoHistoryDays: 21,
    backendEnv: { VISIT_FINALIZE_INTERVAL_MS: "1000" },
  });
  const browser = await launchBrowser();
  try {
    await settled(stack.backend.url, await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId }));

    // what the page loads: its script and stylesheet, as referenced by /app
    const html = await (await fetch(stack.appUrl)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/app\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    let jsGzip = 0;
    let cssGzip = 0;
    for (const path of assets) {
      const body = Buffer.from(await (await fetch(new URL(path, stack.appUrl))).arrayBuffer());
      if (path.endsWith(".js")) jsGzip += gzipSync(body, { level: 9 }).length;
      else if (path.endsWith(".css")) cssGzip += gzipSync(body, { level: 9 }).length;
    }

    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
      const page = await context.newPage();
      let tokenAt = 0;
      page.on("response", (r) => {
        if (r.url().endsWith("/v1/auth/highlevel") && r.status() === 200) tokenAt = performance.now();
      });
      await page.goto(`${stack.demoUrl}crm?as=agency`);
      const app = page.frameLocator("iframe#app");
      for (const k of KPIS) await app.locator(`[data-testid="kpi-${k}"] [data-testid="kpi-value"]`).waitFor({ timeout: 15_000 });
      const shownAt = performance.now();
      if (!tokenAt) throw new Error("no session token was issued");
      times.push(Math.round(shownAt - tokenAt));
      await context.close();
    }
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 50);
    return {
      name: "Dashboard: first load and time to the overview (CRM stand-in, single sign-on, 3 weeks of demo data)",
      lines: [
        `first load of /app: ${(jsGzip / 1024).toFixed(1)} KB gzip JS (budget 150 KB: ${((jsGzip / JS_BUDGET) * 100).toFixed(0)} % used), ${(cssGzip / 1024).toFixed(1)} KB gzip CSS`,
        `token → six headline numbers on screen, ${times.length} fresh contexts: p50 ${p50} ms, p95 ${percentile(times, 95)} ms, min ${times[0]} ms, max ${times.at(-1)} ms`,
        `ratio p50 / budget (1 s): ${(p50 / RENDER_BUDGET_MS).toFixed(2)}; runs over budget: ${times.filter((t) => t > RENDER_BUDGET_MS).length} of ${times.length}`,
      ],
    };
  } finally {
    await browser.close();
    await stack.stop();
  }
}
