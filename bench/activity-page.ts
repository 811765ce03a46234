/**
 * The Custom JS's main-thread time per CRM route change, in Debian's Chromium, with issue K's method (bench/sdk-page.ts):
 * from a Chromium trace, the union of the renderer main thread's script events (compile, evaluate, function calls and
 * what runs inside them) whose script is the edge's, over a phase of N route changes.
 *
 * The page (bench/fixtures/crm-page.html) stands in for a CRM page: it defines `window.exposeSessionDetails` and its
 * router makes N `history.pushState` route changes to CRM-like paths with ids, each followed by a re-render, every
 * `everyMs`. It is served with and without the Custom JS as the edge serves it (`GET /crm/activity.js` from wrangler
 * dev); the token exchange is a local stand-in that signs real actor tokens, so the edge accepts the batches, and the
 * queue's consumer acks every message. Each repeat loads both variants in new contexts (order alternating), waits
 * until the Custom JS has sent its first view, then traces the route-change phase until the last batch's answer.
 *
 * Per route change: the Custom JS's trace time over the phase (its route timer, the batch timer, the answers) plus what
 * its history wrapper adds to the page's own pushState calls (timed in the page, with − without), divided by N.
 * Cross-check: the renderer's ScriptDuration over the phase, with − without, divided by N.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, CDPSession, Page } from "playwright-core";
import { actorKeys, mintActorToken, type ActorKeys } from "../backend-consumer/src/activity/token.ts";
import { startEdge } from "../scripts/lib/edge.ts";
import { DATA_DIR, ROOT } from "../scripts/lib/paths.ts";
import { launchBrowser } from "../scripts/testing/browser.ts";
import { ackingBackend } from "./ingest.ts";
import { SCRIPT_EVENTS, type TraceEvent } from "./sdk-page.ts";
import { median, spread } from "./stats.ts";

const APP_ID = "bench-activity-app";
const LOC = "ve9EPM428h8vShlRW1KT";
const START_PATH = `/v2/location/${LOC}/contacts/smart_list/All`;
const SETTLE_MS = 500;
/** The Custom JS sends a batch within 5 s of its first event: wait this long for the phase's last answer. */
const LAST_BATCH_WAIT_MS = 8_000;
/** The budget of the issue: main-thread time per route change. */
export const ROUTE_CHANGE_BUDGET_MS = 1;

export interface PagePorts {
  worker: number;
  demo: number;
  backend: number;
  token: number;
}

/** The backend's token exchange, as far as the script sees it: any details → a real actor token for a new user. */
function tokenServer(port: number, keys: ActorKeys): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type" };
      if (req.method !== "POST") return res.writeHead(204, cors).end();
      const actor = { userId: randomUUID(), tenantId: randomUUID(), locationId: randomUUID(), role: "location" as const, timezone: "UTC", retentionDays: 90 };
      void mintActorToken(keys, actor).then((answer) => {
        res.writeHead(200, { ...cors, "content-type": "application/json" });
        res.end(JSON.stringify(answer));
      });
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

function crmPageServer(port: number, edgeUrl: string): Promise<Server> {
  const template = readFileSync(join(ROOT, "bench/fixtures/crm-page.html"), "utf8");
  const server = createServer((req, res) => {
    const withJs = new URL(req.url ?? "/", "http://x").searchParams.has("js");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(template.replace("{{CUSTOM_JS}}", withJs ? `<script async src="${edgeUrl}/crm/activity.js"></script>` : ""));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** Total length of the union of [start, end) intervals (µs), and the longest merged interval. */
function union(intervals: [number, number][]): { total: number; longest: number } {
  intervals.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let longest = 0;
  let start = -Infinity;
  let end = -Infinity;
  for (const [s, e] of intervals) {
    if (s >= end) {
      start = s;
      end = e;
      total += e - s;
    } else if (e > end) {
      total += e - end;
      end = e;
    }
    longest = Math.max(longest, end - start);
  }
  return { total, longest };
}

/**
 * The Custom JS's (edge-served) script time on the renderer's main thread, split into its sends (script events during
 * which a POST to the edge's /v1/activity left) and the rest (route changes, timers), and the page's own, in ms.
 */
function analyseTrace(events: TraceEvent[], edgeUrl: string, pageOrigin: string): { routeMs: number; sendMs: number; longestMs: number; pageMs: number } {
  const mainThreads = new Set(events.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const onMain = events.filter((e) => mainThreads.has(`${e.pid}:${e.tid}`));
  const scripts = onMain.filter((e) => e.ph === "X" && SCRIPT_EVENTS.has(e.name));
  const sendsAt = onMain.filter((e) => e.name === "ResourceSendRequest" && e.args?.data?.url === `${edgeUrl}/v1/activity`).map((e) => e.ts);
  const span = (e: TraceEvent): [number, number] => [e.ts, e.ts + (e.dur ?? 0)];
  const custom = scripts.filter((e) => e.args?.data?.url?.startsWith(edgeUrl));
  const sends = custom.filter((e) => sendsAt.some((t) => t >= e.ts && t <= e.ts + (e.dur ?? 0)));
  const all = union(custom.map(span));
  const sendMs = union(sends.map(span)).total / 1000;
  return { routeMs: all.total / 1000 - sendMs, sendMs, longestMs: all.longest / 1000, pageMs: union(scripts.filter((e) => e.args?.data?.url?.startsWith(pageOrigin)).map(span)).total / 1000 };
}

interface Phase {
  routeMs: number;
  sendMs: number;
  longestMs: number;
  pageMs: number;
  pushMs: number;
  scriptMs: number;
  batches: number;
  /** Events in the phase's batches. */
  events: number;
  exchanges: number;
}

async function scriptSeconds(cdp: CDPSession): Promise<number> {
  const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
  return metrics.find((m) => m.name === "ScriptDuration")?.value ?? 0;
}

/** The Custom JS's requests as the page makes them: batches to the edge (and their events), token exchanges. */
function watchRequests(page: Page, edgeUrl: string, tokenUrl: string) {
  const endpoint = `${edgeUrl}/v1/activity`;
  const seen = { posts: [] as number[], events: [] as number[], answered: 0, refused: [] as number[], exchanges: 0 };
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url() === endpoint) {
      seen.posts.push(performance.now());
      seen.events.push((JSON.parse(r.postData() ?? "{}") as { events?: unknown[] }).events?.length ?? 0);
    }
    if (r.url() === tokenUrl) seen.exchanges++;
  });
  page.on("response", (r) => {
    if (r.url() !== endpoint || r.request().method() !== "POST") return;
    if (r.status() !== 202) seen.refused.push(r.status());
    seen.answered++;
  });
  return {
    seen,
    first: () => page.waitForResponse((r) => r.url() === endpoint && r.request().method() === "POST", { timeout: 20_000 }),
    /** Waits for a batch sent after `at` (performance.now()) and for the answers to every batch. */
    async answeredAfter(at: number): Promise<void> {
      const deadline = at + LAST_BATCH_WAIT_MS;
      while ((seen.posts.at(-1) ?? 0) < at || seen.answered < seen.posts.length) {
        if (performance.now() > deadline) throw new Error("the Custom JS did not send the last route change's batch");
        await page.waitForTimeout(100);
      }
    },
  };
}

/** Diagnostics: BENCH_ACTIVITY_PROFILE=<file> keeps a V8 CPU profile of the last phase with the Custom JS. */
async function startProfile(cdp: CDPSession): Promise<() => Promise<void>> {
  const file = process.env.BENCH_ACTIVITY_PROFILE;
  if (!file) return async () => {};
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
  await cdp.send("Profiler.start");
  return async () => writeFileSync(file, JSON.stringify(((await cdp.send("Profiler.stop")) as { profile: unknown }).profile));
}

/** One variant in a new context: load, wait for the Custom JS's first batch, then trace N route changes. */
async function phase(browser: Browser, pageUrl: string, edgeUrl: string, tokenUrl: string, withJs: boolean, n: number, everyMs: number): Promise<Phase> {
  const context = await browser.newContext();
  try {
    const page: Page = await context.newPage();
    const requests = watchRequests(page, edgeUrl, tokenUrl);
    const first = withJs ? requests.first() : undefined;
    await page.goto(withJs ? `${pageUrl}?js` : pageUrl, { waitUntil: "load" });
    if (first) await first;
    await page.waitForTimeout(SETTLE_MS);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const { seen } = requests;
    const before = { exchanges: seen.exchanges, posts: seen.posts.length, script: await scriptSeconds(cdp) };
    const stopProfile = withJs ? await startProfile(cdp) : async () => {};
    await browser.startTracing(page, { categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8.execute"] });
    await page.evaluate(([count, every]) => (window as unknown as { __nav(n: number, e: number): void }).__nav(count!, every!), [n, everyMs]);
    await page.waitForFunction(() => (window as unknown as { __navDone: number }).__navDone > 0, undefined, { timeout: n * everyMs + 30_000, polling: 200 });
    // with the Custom JS: until the batch holding the last route change is answered; without: as long as that can take
    if (withJs) await requests.answeredAfter(performance.now());
    else await page.waitForTimeout(5_500);
    await page.waitForTimeout(SETTLE_MS);
    const raw = await browser.stopTracing();
    // diagnostics: BENCH_ACTIVITY_TRACE=<file> keeps the last traced phase with the Custom JS (open it in DevTools)
    if (withJs && process.env.BENCH_ACTIVITY_TRACE) writeFileSync(process.env.BENCH_ACTIVITY_TRACE, raw);
    const scriptMs = ((await scriptSeconds(cdp)) - before.script) * 1000;
    await stopProfile();
    const pushMs = await page.evaluate(() => (window as unknown as { __pushMs: number }).__pushMs);
    await cdp.detach();
    if (seen.refused.length) throw new Error(`the edge refused batches: ${seen.refused.join(", ")}`);
    const trace = JSON.parse(raw.toString("utf8")) as { traceEvents: TraceEvent[] };
    return {
      ...analyseTrace(trace.traceEvents, edgeUrl, new URL(pageUrl).origin),
      pushMs,
      scriptMs,
      batches: seen.posts.length - before.posts,
      events: seen.events.slice(before.posts).reduce((a, b) => a + b, 0),
      exchanges: seen.exchanges - before.exchanges,
    };
  } finally {
    await context.close();
  }
}

/** Repeats of N route changes with and without the Custom JS; figures per route change, median (min–max) over repeats. */
export async function routeChangeCost(ports: PagePorts, opts: { repeats: number; routeChanges: number; everyMs: number }): Promise<string[]> {
  const { privateKey } = generateKeyPairSync("ed25519");
  const keys = await actorKeys(privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const tokenUrl = `http://127.0.0.1:${ports.token}/v1/auth/highlevel/actor`;
  const backend = await ackingBackend(ports.backend);
  const tokens = await tokenServer(ports.token, keys);
  const edge = await startEdge({
    port: ports.worker,
    dataDir: join(DATA_DIR, "bench-activity-page"),
    backendUrl: `http://127.0.0.1:${ports.backend}`,
    internalToken: randomUUID(),
    vars: { HIGHLEVEL_APP_ID: APP_ID, ACTIVITY_TOKEN_URL: tokenUrl, ACTIVITY_TOKEN_PUBLIC_KEY: keys.publicPem },
  });
  const pageUrl = `http://127.0.0.1:${ports.demo}${START_PATH}`;
  const server = await crmPageServer(ports.demo, edge.url);
  const browser = await launchBrowser();
  const { routeChanges: n, everyMs } = opts;
  try {
    const script = await (await fetch(`${edge.url}/crm/activity.js`)).text();
    if (!script.includes(APP_ID)) throw new Error(`the edge serves no configured Custom JS: ${script.slice(0, 200)}`);
    await phase(browser, pageUrl, edge.url, tokenUrl, true, 3, everyMs); // discarded: browser, edge and servers warm up
    const runs = { with: [] as Phase[], without: [] as Phase[] };
    for (let i = 0; i < opts.repeats; i++) {
      for (const k of i % 2 ? (["without", "with"] as const) : (["with", "without"] as const)) {
        runs[k].push(await phase(browser, pageUrl, edge.url, tokenUrl, k === "with", n, everyMs));
      }
    }
    const w = runs.with;
    const wo = runs.without;
    const per = (x: number) => x / n;
    const wrapper = w.map((p, i) => per(p.pushMs - wo[i]!.pushMs));
    const route = w.map((p, i) => per(p.routeMs) + wrapper[i]!);
    const total = w.map((p, i) => route[i]! + per(p.sendMs));
    const scriptDelta = w.map((p, i) => per(p.scriptMs - wo[i]!.scriptMs));
    const ms = (x: number) => x.toFixed(3);
    const worst = Math.max(...total);
    return [
      `${opts.repeats} repeats of ${n} route changes (history.pushState to CRM-like paths with ids, every ${everyMs} ms, each followed by the page's re-render) with and without the Custom JS (new contexts, order alternating); per route change: median (min–max) over repeats`,
      `Custom JS main-thread time per route change: ${spread(total, ms)} ms (goal ≤ ${ROUTE_CHANGE_BUDGET_MS} ms) = the route change itself ${spread(route, ms)} ms ` +
        `(of which its history wrapper inside the page's pushState ${spread(wrapper, ms)} ms) + its share of the batch sends ${spread(w.map((p) => per(p.sendMs)), ms)} ms`,
      `batch sends: ${spread(w.map((p) => p.batches))} per phase of ${spread(w.map((p) => p.events))} events; main-thread time ${spread(w.map((p) => p.sendMs / p.batches), ms)} ms per batch, ` +
        `${spread(w.map((p) => p.sendMs / p.events), ms)} ms per event sent; longest uninterrupted stretch of Custom JS time ${spread(w.map((p) => p.longestMs), ms)} ms; token exchanges during the phase ${spread(w.map((p) => p.exchanges))}`,
      `cross-check, ScriptDuration with − without per route change: ${spread(scriptDelta, ms)} ms; the page's own script per route change (yardstick: pushState + a 40-row re-render): ${spread(wo.map((p) => per(p.pageMs)), ms)} ms`,
      `budget ${worst <= ROUTE_CHANGE_BUDGET_MS ? "met in every repeat" : median(total) <= ROUTE_CHANGE_BUDGET_MS ? "met at the median, missed by the slowest repeat" : "MISSED"} (slowest repeat ${ms(worst)} ms per route change)`,
    ];
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
    await edge.stop();
    await new Promise((r) => tokens.close(r));
    await new Promise((r) => backend.close(r));
  }
}
