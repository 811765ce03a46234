/**
 * Edge ingest on the local Worker (miniflare): requests/s and latency of `POST /v1/events` with 50-event batches
 * against a trivial route (`GET /healthz`) on the same Worker, same client, same concurrency, measured one after
 * the other in one run. Requests rotate over sites and client addresses, so the rate limits apply as for many
 * visitors of many sites. Locally every request also crosses the dev sidecar's forwarding hop, on both routes.
 */
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { configKey, type SiteConfig } from "#contracts";
import { KvClient } from "../backend-consumer/src/config/kv-client.ts";
import { startEdge } from "../scripts/lib/edge.ts";
import { DATA_DIR } from "../scripts/lib/paths.ts";
import { BENCH_PORTS } from "./e2e-latency.ts";
import { percentile, type BenchResult } from "./stats.ts";

const SITES = 20;

async function measure(n: number, concurrency: number, request: (i: number) => Promise<Response>): Promise<{ rps: number; p50: number; p99: number; statuses: Record<number, number> }> {
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
  latencies.sort((a, b) => a - b);
  return { rps: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), statuses };
}

export async function ingestThroughput(requests = Number(process.env.BENCH_INGEST_REQUESTS ?? 4000), concurrency = 16): Promise<BenchResult> {
  const token = randomUUID();
  // No backend: the local queue's consumer fails fast and retries; only the edge is measured.
  const edge = await startEdge({ port: BENCH_PORTS.worker, dataDir: join(DATA_DIR, "bench-ingest"), backendUrl: "http://127.0.0.1:9", internalToken: token, maxRetries: 100 });
  try {
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
    const headers = (i: number) => ({ "content-type": "text/plain", origin: "https://shop.example", "cf-connecting-ip": `198.18.${(i >> 8) & 255}.${i & 255}` });
    const ingest = (i: number) => fetch(`${edge.url}/v1/events`, { method: "POST", body: bodies[i % bodies.length], headers: headers(i) });
    const trivial = (i: number) => fetch(`${edge.url}/healthz`, { headers: headers(i) });

    await measure(300, concurrency, trivial); // warm-up of both paths
    await measure(300, concurrency, ingest);
    const base = await measure(requests, concurrency, trivial);
    const post = await measure(requests, concurrency, ingest);
    if ((post.statuses[202] ?? 0) !== requests) throw new Error(`ingest benchmark: statuses ${JSON.stringify(post.statuses)}`);
    const fmt = (m: typeof base) => `${Math.round(m.rps)} req/s, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms`;
    return {
      name: "Edge ingest: POST /v1/events (50-event batches) vs trivial route, local Worker",
      lines: [
        `${requests} requests each, concurrency ${concurrency}, ${SITES} sites, rotating client addresses`,
        `GET /healthz: ${fmt(base)}`,
        `POST /v1/events: ${fmt(post)} (${Math.round(post.rps * 50)} events/s)`,
        `ratio ingest / trivial: ${(post.rps / base.rps).toFixed(2)} (target ≥ 0.75)`,
      ],
    };
  } finally {
    await edge.stop();
  }
}
