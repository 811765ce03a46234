/**
 * Workers KV through Cloudflare's REST API (bulk write, bulk delete, list keys, read one value). In production the
 * base URL is api.cloudflare.com; in development it is the dev sidecar, which serves the same API over local KV.
 */

export interface KvClientOptions {
  /** e.g. https://api.cloudflare.com/client/v4 (production) or http://127.0.0.1:8787/client/v4 (local). */
  baseUrl: string;
  accountId: string;
  namespaceId: string;
  apiToken: string;
  fetch?: typeof fetch;
  /** Attempts for 429 and 5xx answers (and network errors) before giving up. */
  maxAttempts?: number;
}

export class KvRequestFailed extends Error {
  override name = "KvRequestFailed";
}

/** Cloudflare limits a bulk request to 10,000 pairs or keys. */
const BULK_LIMIT = 10_000;

export class KvClient {
  private readonly opts: KvClientOptions;
  private readonly base: string;
  private readonly fetcher: typeof fetch;

  constructor(opts: KvClientOptions) {
    this.opts = opts;
    this.base = `${opts.baseUrl.replace(/\/$/, "")}/accounts/${opts.accountId}/storage/kv/namespaces/${opts.namespaceId}`;
    this.fetcher = opts.fetch ?? fetch;
  }

  async bulkPut(pairs: { key: string; value: string }[]): Promise<void> {
    for (let i = 0; i < pairs.length; i += BULK_LIMIT) {
      await this.call("PUT", "/bulk", pairs.slice(i, i + BULK_LIMIT));
    }
  }

  async bulkDelete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BULK_LIMIT) {
      await this.call("POST", "/bulk/delete", keys.slice(i, i + BULK_LIMIT));
    }
  }

  async listKeys(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let cursor = "";
    do {
      const res = await this.call("GET", `/keys?prefix=${encodeURIComponent(prefix)}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      const body = (await res.json()) as { result: { name: string }[]; result_info?: { cursor?: string } };
      names.push(...body.result.map((k) => k.name));
      cursor = body.result_info?.cursor ?? "";
    } while (cursor);
    return names;
  }

  async get(key: string): Promise<string | null> {
    const res = await this.call("GET", `/values/${encodeURIComponent(key)}`, undefined, [404]);
    return res.status === 404 ? null : res.text();
  }

  private async call(method: string, path: string, body?: unknown, accept: number[] = []): Promise<Response> {
    const attempts = this.opts.maxAttempts ?? 4;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await this.fetcher(`${this.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.opts.apiToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (res.ok || accept.includes(res.status)) return res;
        lastError = `${method} ${path.split("?")[0]} answered ${res.status}`;
        if (res.status !== 429 && res.status < 500) throw new KvRequestFailed(lastError);
      } catch (err) {
        if (err instanceof KvRequestFailed) throw err;
        lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
    throw new KvRequestFailed(`KV request failed after ${attempts} attempts: ${lastError}`);
  }
}
