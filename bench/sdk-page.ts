/**
 * The SDK's cost to the page it runs on, in Debian's Chromium (headless, playwright-core): a realistic page
 * (bench/fixtures/sdk-page.html: a header, text, nine image cards, a quote form, three small inline scripts) served
 * by a static server in this process, loaded with and without the snippet against the local edge (wrangler dev;
 * the queue's consumer is a stand-in that acks every message).
 *
 * Each iteration loads the page cold (a new browser context: empty HTTP cache and storage) with and without the
 * snippet, then, after the loader's 5 s max-age has run out, warm in the same contexts (the SDK immutable in the
 * cache, the loader revalidated). Per load:
 * - the SDK's main-thread time: from a Chromium trace, the union of the renderer main thread's script events
 *   (compile, evaluate, function calls, and what runs inside them: style, layout) whose script is the edge's loader
 *   or SDK, until 400 ms after the first event leaves; its compile + evaluate part is reported on its own;
 * - long tasks (≥ 50 ms on the main thread) that contain any of that time, and all long tasks the page had
 *   (PerformanceObserver `longtask`), with and without;
 * - requests to the edge that reached the network before the first `POST /v1/events` (cache hits not counted);
 * - ScriptDuration of `Performance.getMetrics` with minus without (a cross-check of the trace's attribution).
 */
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { configKey, type SiteConfig } from "#contracts";
import { KvClient } from "../backend-consumer/src/config/kv-client.ts";
import { startEdge } from "../scripts/lib/edge.ts";
import { DATA_DIR, ROOT } from "../scripts/lib/paths.ts";
import { launchBrowser } from "../scripts/testing/browser.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { ackingBackend } from "./ingest.ts";
import { spread, type BenchResult } from "./stats.ts";

const SITE_KEY = "bench-page";
const SETTLE_MS = 400;

function pageServer(port: number, edgeUrl: string): Promise<Server> {
  const template = readFileSync(join(ROOT, "bench/fixtures/sdk-page.html"), "utf8");
  const lorem = "Our engineers plan, fit and commission heat pumps and boilers across the region, with fixed prices, a ten-year warranty and a named contact for every job. ".repeat(4);
  const cards = Array.from({ length: 9 }, (_, i) => `<div class="card"><img src="/img/${i}.svg" width="320" height="200" alt="Product ${i}" /><h3>Model ${i}</h3><p class="price" data-amount="${4990 + i * 250}"></p></div>`).join("");
  const items = Array.from({ length: 8 }, (_, i) => `<li>Reason ${i + 1}: certified installers, clear quotes, same-week visits.</li>`).join("");
  const page = (withSnippet: boolean) =>
    template
      .replace("{{SNIPPET}}", withSnippet ? `<script async src="${edgeUrl}/s/${SITE_KEY}.js"></script>` : "")
      .replaceAll("{{LOREM}}", lorem)
      .replace("{{CARDS}}", cards)
      .replace("{{ITEMS}}", items);
  const svg = (i: number) => `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><rect width="320" height="200" fill="hsl(${i * 40},60%,70%)"/><circle cx="160" cy="100" r="${40 + i * 4}" fill="#fff" opacity=".5"/></svg>`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const img = /^\/img\/(\d+)\.svg$/.exec(url.pathname);
    if (img) {
      res.writeHead(200, { "content-type": "image/svg+xml", "cache-control": "public, max-age=3600" });
      return res.end(svg(Number(img[1])));
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(page(url.searchParams.has("sdk")));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** A Chrome trace event, as far as the page benchmarks read it. */
export interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { name?: string; data?: { url?: string } };
}

interface Load {
  /** The page's own inline scripts (a yardstick of this machine's speed). */
  pageScriptMs: number;
  sdkMs: number;
  evalMs: number;
  sdkLongTasks: number;
  longTasks: number;
  edgeRequests: number;
  scriptMs: number;
}

/** Total length of the union of [start, end) intervals (µs). */
function unionLength(intervals: [number, number][]): number {
  intervals.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of intervals) {
    if (s >= end) {
      total += e - s;
      end = e;
    } else if (e > end) {
      total += e - end;
      end = e;
    }
  }
  return total;
}

/** Trace events of script work on the main thread. */
export const SCRIPT_EVENTS = new Set(["EvaluateScript", "v8.compile", "v8.compileModule", "FunctionCall", "v8.evaluateModule"]);
const COMPILE_EVALUATE = new Set(["EvaluateScript", "v8.compile"]);

function analyseTrace(events: TraceEvent[], edgeUrl: string, pageUrl: string): { sdkMs: number; evalMs: number; sdkLongTasks: number; pageScriptMs: number } {
  const mainThreads = new Set(events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const onMain = events.filter((e) => e.ph === "X" && mainThreads.has(`${e.pid}:${e.tid}`));
  const sdk = onMain.filter((e) => SCRIPT_EVENTS.has(e.name) && e.args?.data?.url?.startsWith(edgeUrl));
  const intervals = (xs: TraceEvent[]) => xs.map((e): [number, number] => [e.ts, e.ts + (e.dur ?? 0)]);
  const longTasks = onMain.filter((e) => e.name === "RunTask" && (e.dur ?? 0) >= 50_000);
  const sdkLongTasks = longTasks.filter((t) => sdk.some((e) => e.ts < t.ts + t.dur! && e.ts + (e.dur ?? 0) > t.ts)).length;
  const own = onMain.filter((e) => SCRIPT_EVENTS.has(e.name) && e.args?.data?.url?.startsWith(pageUrl));
  return {
    pageScriptMs: unionLength(intervals(own)) / 1000,
    sdkMs: unionLength(intervals(sdk)) / 1000,
    evalMs: unionLength(intervals(sdk.filter((e) => COMPILE_EVALUATE.has(e.name)))) / 1000,
    sdkLongTasks,
  };
}

async function load(context: BrowserContext, url: string, edgeUrl: string, withSdk: boolean): Promise<Load> {
  const page: Page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Performance.enable");
  const sent = new Map<string, { url: string; method: string; at: number }>();
  const cached = new Set<string>();
  let order = 0;
  cdp.on("Network.requestWillBeSent", (e) => sent.set(e.requestId, { url: e.request.url, method: e.request.method, at: order++ }));
  cdp.on("Network.requestServedFromCache", (e) => cached.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.fromDiskCache || e.response.fromPrefetchCache || e.response.fromServiceWorker) cached.add(e.requestId);
  });
  const browser = context.browser()!;
  await browser.startTracing(page, { categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8.execute"] });
  const firstEvent = withSdk ? page.waitForRequest((r) => r.url() === `${edgeUrl}/v1/events` && r.method() === "POST", { timeout: 15_000 }) : undefined;
  await page.goto(url, { waitUntil: "load" });
  if (firstEvent) await firstEvent;
  await page.waitForTimeout(SETTLE_MS);
  const trace = JSON.parse((await browser.stopTracing()).toString("utf8")) as { traceEvents: TraceEvent[] };
  const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
  const longTasks = await page.evaluate(() => (window as unknown as { __longTasks?: number[] }).__longTasks?.length ?? 0);
  await cdp.detach();
  const post = [...sent.values()].find((r) => r.method === "POST" && r.url === `${edgeUrl}/v1/events`);
  const edgeRequests = [...sent.entries()].filter(([id, r]) => r.url.startsWith(edgeUrl) && (post === undefined || r.at < post.at) && !cached.has(id)).length;
  return {
    ...analyseTrace(trace.traceEvents, edgeUrl, new URL(url).origin),
    longTasks,
    edgeRequests,
    scriptMs: (metrics.find((m) => m.name === "ScriptDuration")?.value ?? 0) * 1000,
  };
}

export async function sdkPage(iterations = Number(process.env.BENCH_PAGE_LOADS ?? 20)): Promise<BenchResult> {
  const token = randomUUID();
  const backend = await ackingBackend(BENCH_PORTS.backend);
  const edge = await startEdge({ port: BENCH_PORTS.worker, dataDir: join(DATA_DIR, "bench-page"), backendUrl: `http://127.0.0.1:${BENCH_PORTS.backend}`, internalToken: token });
  const pageUrl = `http://127.0.0.1:${BENCH_PORTS.demo}/`;
  const server = await pageServer(BENCH_PORTS.demo, edge.url);
  const browser = await launchBrowser();
  try {
    const kv = new KvClient({ baseUrl: `${edge.url}/client/v4`, accountId: "local", namespaceId: "local", apiToken: token });
    const site: SiteConfig = {
      siteId: "bench-page-site", siteKey: SITE_KEY, version: Date.now(), features: {}, consent: { mode: "opt-out", respectDoNotTrack: false },
      retentionDays: 90, debug: false, allowedOrigins: [pageUrl.slice(0, -1)], forms: [],
    };
    await kv.bulkPut([{ key: configKey(SITE_KEY), value: JSON.stringify(site) }]);
    const newContext = async () => {
      const context = await browser.newContext();
      await context.addInitScript(() => {
        const w = window as unknown as { __longTasks: number[] };
        w.__longTasks = [];
        new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__longTasks.push(e.duration))).observe({ type: "longtask", buffered: true });
      });
      return context;
    };
    // one discarded round: the browser, the edge's isolate and the page server warm up
    {
      const c = await newContext();
      await load(c, `${pageUrl}?sdk`, edge.url, true);
      await c.close();
    }
    const runs = { cold: { with: [] as Load[], without: [] as Load[] }, warm: { with: [] as Load[], without: [] as Load[] } };
    for (let i = 0; i < iterations; i++) {
      const contexts = { with: await newContext(), without: await newContext() };
      const order: ("with" | "without")[] = i % 2 ? ["without", "with"] : ["with", "without"];
      const loadedAt = { with: 0, without: 0 };
      for (const k of order) {
        runs.cold[k].push(await load(contexts[k], k === "with" ? `${pageUrl}?sdk` : pageUrl, edge.url, k === "with"));
        loadedAt[k] = Date.now();
      }
      for (const k of order) {
        // the loader's max-age (5 s) has run out: a warm load revalidates it, the SDK comes from the cache
        await new Promise((r) => setTimeout(r, Math.max(0, loadedAt[k] + 5_500 - Date.now())));
        runs.warm[k].push(await load(contexts[k], k === "with" ? `${pageUrl}?sdk` : pageUrl, edge.url, k === "with"));
      }
      await contexts.with.close();
      await contexts.without.close();
    }
    const ms = (x: number) => x.toFixed(2);
    const lines = [`${iterations} iterations: each a cold load with and without the snippet (new contexts, order alternating), then a warm one in the same contexts after the loader's max-age; figures: median (min–max) over loads`];
    for (const when of ["cold", "warm"] as const) {
      const w = runs[when].with;
      const wo = runs[when].without;
      const scriptDelta = w.map((l, i) => l.scriptMs - wo[i]!.scriptMs);
      lines.push(
        `${when}: SDK main-thread time ${spread(w.map((l) => l.sdkMs), ms)} ms (compile + evaluate ${spread(w.map((l) => l.evalMs), ms)} ms); ` +
          `loads with a long task holding SDK time: ${w.filter((l) => l.sdkLongTasks > 0).length} of ${w.length}; edge requests before the first event: ${spread(w.map((l) => l.edgeRequests))}`,
        `${when}: long tasks per load with / without the snippet: ${spread(w.map((l) => l.longTasks))} / ${spread(wo.map((l) => l.longTasks))}; ScriptDuration with − without: ${spread(scriptDelta, ms)} ms; ` +
          `the page's own three inline scripts (yardstick): ${spread(wo.map((l) => l.pageScriptMs), ms)} ms`,
      );
    }
    lines.push("goals: ≤ 2 ms main-thread time at load, zero long tasks, 2 requests cold and 1 warm");
    return { name: "The SDK's cost to the page (Chromium, local edge)", lines };
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
    await edge.stop();
    await new Promise((r) => backend.close(r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of (await sdkPage()).lines) console.log(line);
  process.exit(0);
}
