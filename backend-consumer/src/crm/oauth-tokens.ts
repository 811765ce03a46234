/**
 * Access tokens of destinations whose credentials live in their sealed secret (Salesforce, Zoho): kept in memory per
 * destination and secret (a new secret starts afresh), refreshed before they expire and on demand after a 401, one
 * refresh at a time per destination (concurrent deliveries wait for the same answer). Nothing is stored: a restarted
 * backend asks for a new token at its first delivery.
 */
import { createHash } from "node:crypto";
import type { z } from "zod";

export interface AccessToken {
  token: string;
  /** Where the API is (Salesforce's instance_url, Zoho's api_domain), when the token answer says. */
  apiUrl?: string;
  /** When to ask for a new one (before it expires). */
  refreshAt: number;
}

/** A token endpoint's refusal or failure; `retryable` unless the answer says the credentials are wrong for good. */
export class TokenError extends Error {
  override readonly name = "TokenError";
  readonly status: number | null;
  readonly retryable: boolean;
  constructor(message: string, status: number | null, retryable = true) {
    super(message);
    this.status = status;
    this.retryable = retryable;
  }
}

/**
 * A destination's sealed credentials, read: JSON that `schema` accepts, else a TokenError no retry would change,
 * naming `crm` and never the secret.
 */
export function parseCredentials<S extends z.ZodType>(crm: string, schema: S, secret: string | null): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(secret ?? "");
  } catch {
    throw new TokenError(`${crm}: the secret is not JSON`, null, false);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new TokenError(`${crm}: the secret is not a valid credentials object`, null, false);
  return parsed.data;
}

/** When to refresh a token that lives `lifetimeMs`: five minutes early, or a tenth of its life for short ones. */
export const refreshAtFor = (now: number, lifetimeMs: number): number => now + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 10);

export class TokenCache {
  readonly #tokens = new Map<string, AccessToken>();
  readonly #inflight = new Map<string, Promise<AccessToken>>();
  /** Token requests made (tests read it). */
  requests = 0;

  static key(destinationId: string, secret: string | null): string {
    return `${destinationId}|${createHash("sha256").update(secret ?? "").digest("base64url").slice(0, 16)}`;
  }

  /**
   * The destination's token: the cached one while it is fresh, else a new one from `fetchToken`. `rejected` is a
   * token the API refused (a 401): a new one is asked for unless another delivery already replaced it.
   */
  async get(key: string, fetchToken: () => Promise<AccessToken>, rejected?: string): Promise<AccessToken> {
    const current = this.#tokens.get(key);
    if (current && Date.now() < current.refreshAt && (rejected === undefined || current.token !== rejected)) return current;
    let pending = this.#inflight.get(key);
    if (!pending) {
      this.requests++;
      pending = fetchToken()
        .then((token) => {
          this.#tokens.set(key, token);
          return token;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  forget(key: string): void {
    this.#tokens.delete(key);
  }
}
