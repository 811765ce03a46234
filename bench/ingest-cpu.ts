/**
 * CPU time per ingest request: the Worker's own Hono app (worker/src/app.ts) run in-process in Node, with in-memory
 * bindings that do no I/O (KV, queue, rate limiters), so what is measured is the JavaScript a request costs, which is
 * what Cloudflare bills (and stops at 10 ms on the free plan). Measured with `process.cpuUsage()` (user + system of
 * the process, so garbage collection counts), one request at a time, for 1-, 10- and 50-event batches of events
 * shaped like the SDK's (session_start with attribution, page_view, engagement, form_interaction, form_submission
 * with fields). The baseline, in the same run and on the same bodies, is the least any ingest must do:
 * JSON.parse of the body and JSON.stringify of the result. Rounds alternate baseline and ingest; each round's p50 is
 * one sample, and the figures are the median and spread (min–max) of those samples over the rounds.
 *
 * The in-memory queue serialises each message as the runtime does for `contentType: "json"` (that CPU is spent in
 * the isolate too). The request object is built before the clock starts and the response body is read after it
 * stops: in production the runtime does both outside the Worker's JavaScript.
 *
 * Workers forbid generating code from strings, so there zod interprets every schema (it compiles object parsers
 * with `new Function` where it may). `npm run bench -- ingest-cpu` therefore runs this file in a child Node with
 * `--disallow-code-generation-from-strings`, as the Worker runs. Alone: `node --disallow-code-generation-from-strings
 * bench/ingest-cpu.ts`; profile: `BENCH_CPU_REQUESTS=8000 node --disallow-code-generation-from-strings --cpu-prof
 * bench/ingest-cpu.ts --profile` (only the 50-event ingest, no baseline).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { configKey, type SiteConfig } from "#contracts";
import { MemoryKv, memoryLimiters, type MemoryLimiter, MemoryQueue } from "./memory-bindings.ts";
import { percentile, spread, type BenchResult } from "./stats.ts";

const SITES = 64;

/** The Worker's app as this file sees it (Worker types belong to worker/tsconfig.json, not to Node's program). */
interface WorkerApp {
  fetch(request: Request, env: object, ctx: object): Response | Promise<Response>;
}
// a specifier TypeScript does not follow: the Worker's files are type-checked by worker/tsconfig.json
const APP_MODULE = "../worker/src/app.ts";
let app: WorkerApp;
async function loadApp(): Promise<void> {
  app ??= ((await import(APP_MODULE)) as { app: WorkerApp }).app;
}

interface MemoryEnv {
  CONFIG: MemoryKv;
  EVENTS: MemoryQueue;
  CLIENT_RATE_LIMITER: MemoryLimiter;
  IP_RATE_LIMITER: MemoryLimiter;
  SITE_RATE_LIMITER: MemoryLimiter;
  LEAD_RATE_LIMITER: MemoryLimiter;
  LOG_LEVEL: string;
  EDGE_PUBLIC_URL: string;
  limiters: MemoryLimiter[];
  queue: MemoryQueue;
  kv: MemoryKv;
}

export function memoryEnv(): MemoryEnv {
  const kv = new MemoryKv();
  const queue = new MemoryQueue();
  // wrangler.toml's limits; the load rotates over enough sites and clients never to reach them
  const named = memoryLimiters();
  const limiters = [named.CLIENT_RATE_LIMITER, named.IP_RATE_LIMITER, named.SITE_RATE_LIMITER, named.LEAD_RATE_LIMITER];
  return {
    CONFIG: kv,
    EVENTS: queue,
    ...named,
    LOG_LEVEL: "info",
    EDGE_PUBLIC_URL: "https://edge.example.com",
    limiters,
    queue,
    kv,
  };
}

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} };

/** A batch of `n` events as the SDK builds them for one visitor: a session start, pages, engagement, a form. */
export function sdkBatch(n: number, seed: number): Record<string, unknown>[] {
  const ts = Date.now() - 5_000;
  const sessionId = `s-${seed.toString(36)}-lq3x9a`;
  const visitorId = `v-${seed.toString(36)}-k2m8p0zq`;
  const page = (i: number) => ({
    url: `https://shop.example/products/item-${i}?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
    path: `/products/item-${i}`,
    title: `Item ${i} – Shop Example, quality goods since 1987`,
  });
  const base = (i: number) => ({ id: crypto.randomUUID(), ts: ts + i * 37, sessionId, visitorId, page: page(i), consent: "granted" });
  const fields = { email: `person${seed}@example.com`, first_name: "Ada", last_name: "Lovelace", phone: "+49 30 1234567", company: "Analytical Engines Ltd", message: "Please call me back about the offer, ideally in the mornings." };
  const form = (trigger: string) => ({ formId: "contact", name: "Contact us", fields, trigger, ...(trigger === "submit" ? {} : { progress: { completed: ["email", "first_name"], total: 6, percent: 33 } }) });
  const events: Record<string, unknown>[] = [];
  for (let i = 0; events.length < n; i++) {
    if (i === 0) {
      events.push({
        ...base(i), type: "session_start",
        attribution: { utm: { source: "newsletter", medium: "email", campaign: "spring" }, referrer: "https://mail.example/", landingPage: page(0).url, ts, firstTouch: { utm: { source: "google" }, clickIds: { gclid: "Cj0KCQiA-abc123" }, referrer: "https://www.google.com/", landingPage: "https://shop.example/", ts: ts - 86_400_000 } },
      });
      continue;
    }
    const kind = i % 10;
    if (kind === 3) events.push({ ...base(i), type: "form_interaction", form: form("change") });
    else if (kind === 7) events.push({ ...base(i), type: "form_submission", form: form("submit") });
    else if (kind % 2 === 0) events.push({ ...base(i), type: "engagement", props: { engagedMs: 1200 + i * 31 } });
    else events.push({ ...base(i), type: "page_view", page: { ...page(i), referrer: "https://shop.example/" } });
  }
  return events;
}

interface Case {
  events: number;
  bodies: string[];
}

function makeCase(events: number): Case {
  // distinct bodies (own event ids, visitors and sites), cycled through
  const bodies = Array.from({ length: 256 }, (_, b) => JSON.stringify({ siteKey: `cpu-${b % SITES}`, sentAt: Date.now(), events: sdkBatch(events, b) }));
  return { events, bodies };
}

const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs of each of `n` ingest requests, one at a time. */
async function ingestRound(env: MemoryEnv, c: Case, n: number, offset: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    const body = c.bodies[k % c.bodies.length]!;
    const request = new Request("https://edge.example.com/v1/events", {
      method: "POST",
      body,
      headers: {
        "content-type": "text/plain;charset=UTF-8",
        "content-length": String(Buffer.byteLength(body)),
        origin: "https://shop.example",
        "cf-connecting-ip": `198.${18 + ((k >> 16) & 1)}.${(k >> 8) & 255}.${k & 255}`,
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
      },
    });
    const t = cpuMicros();
    const res = await app.fetch(request, env, ctx);
    samples.push(cpuMicros() - t);
    if (res.status !== 202) throw new Error(`ingest-cpu: status ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  return samples;
}

let sink = 0;
/** CPU µs of JSON.parse + JSON.stringify of each of `n` of the same bodies. */
function baselineRound(c: Case, n: number, offset: number): number[] {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = c.bodies[(offset + i) % c.bodies.length]!;
    const t = cpuMicros();
    sink += JSON.stringify(JSON.parse(body)).length;
    samples.push(cpuMicros() - t);
  }
  return samples;
}

const p50 = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
const p99 = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 99);

export async function ingestCpu(rounds = Number(process.env.BENCH_CPU_ROUNDS ?? 7), perRound = Number(process.env.BENCH_CPU_REQUESTS ?? 400)): Promise<BenchResult> {
  await loadApp();
  const env = memoryEnv();
  for (let s = 0; s < SITES; s++) {
    const site: SiteConfig = {
      siteId: `cpu-site-${s}`, siteKey: `cpu-${s}`, version: 1, features: {}, consent: { mode: "opt-out", respectDoNotTrack: false },
      retentionDays: 90, timezone: "Europe/Berlin", debug: false, allowedOrigins: ["https://www.shop.example", "https://shop.example"], forms: [],
    };
    env.kv.values.set(configKey(site.siteKey), JSON.stringify(site));
  }
  const cases = [1, 10, 50].map(makeCase);
  const lines: string[] = [];
  let offset = 0;
  // warm-up: JIT both paths before anything counts
  for (const c of cases) {
    await ingestRound(env, c, 300, offset);
    baselineRound(c, 300, offset);
    offset += 300;
  }
  for (const c of cases) {
    const ingest = { p50: [] as number[], p99: [] as number[] };
    const base: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ["ingest", "base"] : ["base", "ingest"];
      let i50 = 0;
      let b50 = 0;
      for (const what of order) {
        if (what === "base") b50 = p50(baselineRound(c, perRound, offset));
        else {
          const samples = await ingestRound(env, c, perRound, offset);
          i50 = p50(samples);
          ingest.p99.push(p99(samples));
        }
      }
      offset += perRound;
      ingest.p50.push(i50);
      base.push(b50);
      ratios.push(i50 / Math.max(b50, 1));
    }
    const ms = (us: number) => (us / 1000).toFixed(3);
    lines.push(
      `${c.events}-event batches (${Math.round(c.bodies.reduce((n, b) => n + b.length, 0) / c.bodies.length)} B): ingest p50 ${spread(ingest.p50, ms)} ms CPU (p99 ${spread(ingest.p99, ms)} ms); ` +
        `baseline JSON.parse+stringify p50 ${spread(base, ms)} ms; ratio ${spread(ratios, (x) => x.toFixed(2))}×`,
    );
  }
  const calls = env.limiters.map((l) => l.calls);
  const requests = env.queue.sent;
  lines.unshift(`${rounds} rounds × ${perRound} requests per batch size, alternating with the baseline; figures: median (min–max) over rounds of each round's p50; code generation from strings ${codeGenerationAllowed() ? "ALLOWED (zod compiles its parsers: not as in workerd)" : "disallowed, as in workerd"}`);
  lines.push(`limiter calls per accepted request: ${(calls.reduce((a, b) => a + b, 0) / requests).toFixed(2)} (client ${(calls[0]! / requests).toFixed(2)}, site+client ${(calls[1]! / requests).toFixed(2)}, site ${(calls[2]! / requests).toFixed(2)}, lead ${(calls[3]! / requests).toFixed(2)}) (goals: 50-event p50 ≤ 1 ms, ratio ≤ 4×)`);
  if (sink === 0) lines.push("");
  return { name: "Ingest CPU per request: the Worker's app in Node, in-memory bindings (process.cpuUsage)", lines };
}

function codeGenerationAllowed(): boolean {
  try {
    new Function("")();
    return true;
  } catch {
    return false;
  }
}

/** `ingestCpu` in a child Node that, like workerd, may not generate code from strings. */
export function ingestCpuAsWorkerd(): BenchResult {
  const child = spawnSync(process.execPath, ["--disallow-code-generation-from-strings", fileURLToPath(import.meta.url), "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: process.env });
  if (child.status !== 0) throw new Error(`ingest-cpu child exited with ${child.status}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as BenchResult;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--profile")) {
    await loadApp();
    const env = memoryEnv();
    for (let s = 0; s < SITES; s++) {
      env.kv.values.set(configKey(`cpu-${s}`), JSON.stringify({ siteId: `cpu-site-${s}`, siteKey: `cpu-${s}`, version: 1, features: {}, consent: { mode: "opt-out", respectDoNotTrack: false }, retentionDays: 90, debug: false, allowedOrigins: ["https://shop.example"], forms: [] }));
    }
    const c = makeCase(Number(process.env.BENCH_CPU_EVENTS ?? 50));
    const samples = await ingestRound(env, c, Number(process.env.BENCH_CPU_REQUESTS ?? 5000), 0);
    console.log(`p50 ${p50(samples)} µs`);
  } else if (process.argv.includes("--json")) {
    console.log(JSON.stringify(await ingestCpu()));
  } else {
    for (const line of (await ingestCpu()).lines) console.log(line);
  }
}
