/**
 * In-memory stand-ins for the Worker's bindings that do no I/O: for measuring the Worker's own JavaScript
 * (bench/ingest-cpu.ts in Node) and for running the edge without the local rate-limiter emulation
 * (worker/src/bench-entry.ts in workerd). No Node APIs: this is bundled into a Worker too.
 */

/** KV as the runtime gives it: a stored string, parsed on every `get(…, { type: "json" })`. */
export class MemoryKv {
  readonly values = new Map<string, string>();
  async get(key: string, opts?: { type?: string } | string): Promise<unknown> {
    const value = this.values.get(key);
    if (value === undefined) return null;
    const type = typeof opts === "string" ? opts : opts?.type;
    return type === "json" ? JSON.parse(value) : value;
  }
}

/** A fixed-window limiter with the rate-limiting binding's interface (`limit({ key })` → `{ success }`). */
export class MemoryLimiter {
  readonly counts = new Map<string, { window: number; count: number }>();
  readonly limitVal: number;
  readonly periodMs: number;
  calls = 0;
  constructor(limit: number, periodS: number) {
    this.limitVal = limit;
    this.periodMs = periodS * 1000;
  }
  async limit({ key }: { key: string }): Promise<{ success: boolean }> {
    this.calls++;
    const window = Math.floor(Date.now() / this.periodMs);
    const entry = this.counts.get(key);
    if (!entry || entry.window !== window) {
      if (this.counts.size > 100_000) this.counts.clear();
      this.counts.set(key, { window, count: 1 });
      return { success: true };
    }
    if (entry.count >= this.limitVal) return { success: false };
    entry.count++;
    return { success: true };
  }
}

/** wrangler.toml's four limiters (client, site+client, site, lead), in memory. */
export function memoryLimiters(): { CLIENT_RATE_LIMITER: MemoryLimiter; IP_RATE_LIMITER: MemoryLimiter; SITE_RATE_LIMITER: MemoryLimiter; LEAD_RATE_LIMITER: MemoryLimiter } {
  return {
    CLIENT_RATE_LIMITER: new MemoryLimiter(300, 10),
    IP_RATE_LIMITER: new MemoryLimiter(120, 10),
    SITE_RATE_LIMITER: new MemoryLimiter(5000, 10),
    LEAD_RATE_LIMITER: new MemoryLimiter(60, 60),
  };
}

/** The queue producer: serialises the message as the runtime does for `contentType: "json"`, and counts it. */
export class MemoryQueue {
  sent = 0;
  bytes = 0;
  async send(body: unknown, opts?: { contentType?: string }): Promise<void> {
    const text = opts?.contentType === "json" ? JSON.stringify(body) : String(body);
    this.sent++;
    this.bytes += text.length;
  }
}
