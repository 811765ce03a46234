/**
 * Load for reliability tests and benchmarks: batches of events for one site, posted to the edge with bounded
 * concurrency. Each request carries its own client address in CF-Connecting-IP (miniflare keeps a client-set
 * header; Cloudflare would overwrite it), as if many visitors were sending, so per-client rate limits apply as they
 * would in production. A request answered 429/503 is retried after its Retry-After, like the SDK does.
 */
import type { TrackerEvent } from "#contracts";
import { prng } from "./prng.ts";

export interface LoadPlan {
  requests: number;
  eventsPerRequest: number;
  siteKey: string;
  origin?: string;
  /** Share of events that are form submissions with an email from `emails`. */
  submissionShare?: number;
  emails?: number;
  sessions?: number;
  seed?: number;
  /**
   * Distinct pages per request. Default: every event on a page of its own (50 pages per request, the worst case
   * for per-page statistics); the SDK batches one page's events, so 1–2 is what real traffic looks like.
   */
  pagesPerRequest?: number;
}

export interface Batch {
  body: string;
  ip: string;
  eventIds: string[];
}


export function planBatches(plan: LoadPlan): { batches: Batch[]; emails: Set<string>; events: number } {
  const rand = prng(plan.seed ?? 1);
  const emails = new Set<string>();
  const batches: Batch[] = [];
  const now = Date.now();
  for (let r = 0; r < plan.requests; r++) {
    const session = Math.floor(rand() * (plan.sessions ?? 500));
    const events: TrackerEvent[] = [];
    for (let i = 0; i < plan.eventsPerRequest; i++) {
      const base = { id: crypto.randomUUID(), ts: now + r * 10 + i, sessionId: `sess-${session}`, visitorId: `vis-${session}` };
      if (rand() < (plan.submissionShare ?? 0)) {
        const email = `lead${Math.floor(rand() * (plan.emails ?? 100))}@example.com`;
        emails.add(email);
        events.push({ ...base, type: "form_submission", form: { formId: "contact", fields: { email, name: "Load Test" } } });
      } else {
        const p = plan.pagesPerRequest ? (r * 7 + (i % plan.pagesPerRequest)) % 50 : i;
        events.push({ ...base, type: "page_view", page: { url: `https://shop.example/p/${p}` } });
      }
    }
    batches.push({
      body: JSON.stringify({ siteKey: plan.siteKey, events }),
      ip: `198.18.${(r >> 8) & 255}.${r & 255}`,
      eventIds: events.map((e) => e.id),
    });
  }
  return { batches, emails, events: plan.requests * plan.eventsPerRequest };
}

/** Posts every batch (retrying 429/503 after Retry-After); resolves with per-request latencies in ms. */
export async function postBatches(edgeUrl: string, batches: Batch[], concurrency: number, origin?: string): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        const res = await fetch(`${edgeUrl}/v1/events`, {
          method: "POST",
          body: batch.body,
          headers: { "content-type": "text/plain", "cf-connecting-ip": batch.ip, ...(origin ? { origin } : {}) },
        });
        await res.arrayBuffer();
        if (res.status === 202) {
          latencies.push(performance.now() - started);
          break;
        }
        if ((res.status === 429 || res.status === 503) && attempt < 20) {
          await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 1) * 1000));
          continue;
        }
        throw new Error(`ingest answered ${res.status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}
