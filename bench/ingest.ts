/**
 * Edge ingest on the local Worker (miniflare): requests/s and latency of `POST /v1/events` with 50-event batches
 * against a trivial route (`GET /healthz`) on the same Worker, same client, same concurrency. Rounds alternate the
 * two (which goes first alternates too); the ratio of each round is one sample, printed as median (min–max).
 * Requests rotate over sites and client addresses, so the rate limits apply as for many visitors of many sites.
 * Locally every request also crosses the dev sidecar's forwarding hop, on both routes.
 *
 * The queue's local consumer hands batches to a stand-in backend in this process that acks every message at once
 * (in production the consumer is not in the Worker at all; with no backend, every message came back every 2 s and
 * the retries competed with the measured requests).
 *
 * Two setups, each in its own `wrangler dev`: the Worker as deployed (every `limit()` call goes to miniflare's
 * rate-limiter emulation, a Durable Object that writes SQLite per call), and the same app with its four limiters
 * in isolate memory (worker/src/bench-entry.ts), which shows what the emulation costs. Beside requests/s, the CPU
 * per request of the edge's processes (wrangler, workerd: /proc) and of this process.
 *
 * Environment: BENCH_INGEST_REQUESTS (per route and round, 1500), BENCH_INGEST_ROUNDS (5), BENCH_INGEST_SETUP (run
 * only the setups whose label contains it), BENCH_INGEST_MEMORY_QUEUE=1 (adds a diagnostic setup with the queue in
 * isolate memory too).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { configKey, type SiteConfig } from "#contracts";
import { KvClient } from "../backend-consumer/src/config/kv-client.ts";
import { startEdge, type EdgeHandle, type EdgeOptions } from "../scripts/lib/edge.ts";
import { DATA_DIR, ROOT } from "../scripts/lib/paths.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, spread, type BenchResult } from "./stats.ts";

const SITES = 20;

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  statuses: Record<number, number>;
  /** CPU ms per request of the edge's processes (wrangler, workerd) and of this process (client + stand-in backend). */
  edgeCpuMs: number;
  clientCpuMs: number;
}

async function measure(n: number, concurrency: number, request: (i: number) => Promise<Response>, edgePid?: number): Promise<Measured> {
  const edgeCpu0 = edgePid ? treeCpuSeconds(edgePid) : 0;
  const clientCpu0 = process.cpuUsage();
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        const res = await request(i);
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(clientCpu0);
  const edgeCpuMs = edgePid ? ((treeCpuSeconds(edgePid) - edgeCpu0) * 1000) / n : Number.NaN;
  latencies.sort((a, b) => a - b);
  return { rps: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), statuses, edgeCpuMs, clientCpuMs: (clientCpu.user + clientCpu.system) / 1000 / n };
}

/** A backend stand-in for the local queue consumer: acks every message it is handed. */
export async function ackingBackend(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const { messages } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { messages: { id: string }[] };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ outcomes: messages.map((m) => ({ id: m.id, action: "ack" })) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

/** CPU seconds (user + system) of `root` and all its descendants, from /proc. */
function treeCpuSeconds(root: number): number {
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(name), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [pid, s] of stats) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = stats.get(p)?.ppid) {
      if (p === root) {
        total += s.cpu;
        break;
      }
    }
  }
  return total;
}
const CLOCK_TICKS = 100;

interface SetupResult {
  ratios: number[];
  base: Measured[];
  post: Measured[];
}

async function runSetup(edge: EdgeHandle, token: string, rounds: number, requests: number, concurrency: number): Promise<SetupResult> {
  const kv = new KvClient({ baseUrl: `${edge.url}/client/v4`, accountId: "local", namespaceId: "local", apiToken: token });
  const sites: SiteConfig[] = Array.from({ length: SITES }, (_, i) => ({
    siteId: `bench-${i}`, siteKey: `bench-${i}`, version: 1, features: {}, consent: { mode: "opt-out", respectDoNotTrack: false },
    retentionDays: 90, debug: false, allowedOrigins: ["https://shop.example"], forms: [],
  }));
  await kv.bulkPut(sites.map((s) => ({ key: configKey(s.siteKey), value: JSON.stringify(s) })));
  const bodies = Array.from({ length: 64 }, (_, b) =>
    JSON.stringify({
      siteKey: `bench-${b % SITES}`,
      events: Array.from({ length: 50 }, (_, i) => ({
        id: randomUUID(), type: "page_view", ts: Date.now(), sessionId: `s${b}`, visitorId: `v${b}`,
        page: { url: `https://shop.example/products/${i}?utm_source=bench`, title: "Product page", referrer: "https://search.example/" },
      })),
    }),
  );
  // a fresh client address per request (65,536 of them): no client comes near its limits
  let seq = 0;
  const headers = () => {
    const i = seq++;
    return { "content-type": "text/plain", origin: "https://shop.example", "cf-connecting-ip": `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}` };
  };
  const ingest = (i: number) => fetch(`${edge.url}/v1/events`, { method: "POST", body: bodies[i % bodies.length], headers: headers() });
  const trivial = () => fetch(`${edge.url}/healthz`, { headers: headers() });

  await measure(300, concurrency, trivial); // warm-up of both paths
  await measure(300, concurrency, ingest);
  const result: SetupResult = { ratios: [], base: [], post: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ["post", "base"] : ["base", "post"];
    let base: Measured | undefined;
    let post: Measured | undefined;
    for (const what of order) {
      if (what === "base") base = await measure(requests, concurrency, trivial, edge.child.pid);
      else post = await measure(requests, concurrency, ingest, edge.child.pid);
    }
    if ((post!.statuses[202] ?? 0) !== requests) throw new Error(`ingest benchmark: statuses ${JSON.stringify(post!.statuses)}`);
    result.base.push(base!);
    result.post.push(post!);
    result.ratios.push(post!.rps / base!.rps);
  }
  return result;
}

export async function ingestThroughput(
  requests = Number(process.env.BENCH_INGEST_REQUESTS ?? 1500),
  rounds = Number(process.env.BENCH_INGEST_ROUNDS ?? 5),
  concurrency = 16,
): Promise<BenchResult> {
  const token = randomUUID();
  const backend = await ackingBackend(BENCH_PORTS.backend);
  const opts = (dir: string): EdgeOptions => ({ port: BENCH_PORTS.worker, dataDir: join(DATA_DIR, dir), backendUrl: `http://127.0.0.1:${BENCH_PORTS.backend}`, internalToken: token, maxRetries: 100 });
  const lines: string[] = [`${rounds} rounds of ${requests} requests per route, alternating (which goes first alternates), concurrency ${concurrency}, ${SITES} sites, a new client address per request; the queue's consumer acks at once; figures: median (min–max) over rounds`];
  const fmt = (ms: Measured[]) =>
    `${spread(ms.map((m) => m.rps))} req/s, p50 ${spread(ms.map((m) => m.p50), (x) => x.toFixed(1))} ms, p99 ${spread(ms.map((m) => m.p99), (x) => x.toFixed(1))} ms; ` +
    `CPU per request: edge processes ${spread(ms.map((m) => m.edgeCpuMs), (x) => x.toFixed(2))} ms, bench client + stand-in ${spread(ms.map((m) => m.clientCpuMs), (x) => x.toFixed(2))} ms`;
  try {
    const setups: [string, () => Promise<EdgeHandle>][] = [
      ["Worker as deployed (local rate-limiter emulation)", () => startEdge(opts("bench-ingest"))],
      ["same app, its four limiters in isolate memory (worker/src/bench-entry.ts)", () => startEdge({ ...opts("bench-ingest-memlimits"), main: join(ROOT, "worker/src/bench-entry.ts") })],
      // diagnostic only: what the local queue (broker and consumer hand-off) adds on top
      ...(process.env.BENCH_INGEST_MEMORY_QUEUE
        ? [["limiters and queue in isolate memory (diagnostic)", () => startEdge({ ...opts("bench-ingest-memqueue"), main: join(ROOT, "worker/src/bench-entry.ts"), vars: { BENCH_MEMORY_QUEUE: "1" } })] as [string, () => Promise<EdgeHandle>]]
        : []),
    ];
    for (const [label, start] of setups) {
      if (process.env.BENCH_INGEST_SETUP && !label.includes(process.env.BENCH_INGEST_SETUP)) continue;
      const edge = await start();
      try {
        const r = await runSetup(edge, token, rounds, requests, concurrency);
        lines.push(
          `${label}: ratio ingest / trivial ${spread(r.ratios, (x) => x.toFixed(2))} (target ≥ 0.75)`,
          `  GET /healthz: ${fmt(r.base)}`,
          `  POST /v1/events: ${fmt(r.post)}`,
        );
      } finally {
        await edge.stop();
      }
    }
    return { name: "Edge ingest: POST /v1/events (50-event batches) vs trivial route, local Worker", lines };
  } finally {
    await new Promise((resolve) => backend.close(resolve));
  }
}
