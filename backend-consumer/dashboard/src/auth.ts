/**
 * Who the dashboard calls the API as.
 *
 * Inside the CRM (a marketplace Custom Page, so an iframe) the parent window hands over the signed-in user as an
 * encrypted blob on request; the backend exchanges it for a short-lived token (POST /v1/auth/highlevel). That token
 * is kept in memory only and swapped for a fresh one about a minute before it expires. Standalone, a token pasted
 * into the sign-in form is kept in sessionStorage (this tab only). A 401 while signed in re-runs the flow once.
 */
import type { AuthAnswer } from "./types.ts";

export type AuthState =
  | { status: "checking"; message: string }
  | { status: "signed-in"; token: string; source: "crm" | "token"; expiresAt: number | null }
  | { status: "signed-out"; note: string | null; error: string | null };

export const TOKEN_KEY = "lead-tracker.token";
const PARENT_TIMEOUT_MS = 5_000;
const REFRESH_EARLY_MS = 60_000;

export class AuthFailed extends Error {
  override readonly name = "AuthFailed";
}

class ParentTimeout extends Error {}

/** Asks the CRM window for the signed-in user's encrypted data. */
function askParent(timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
    };
    const onMessage = (event: MessageEvent): void => {
      if (event.source !== window.parent) return;
      const data: unknown = event.data;
      if (!data || typeof data !== "object") return;
      const { message, payload } = data as { message?: unknown; payload?: unknown };
      if (message !== "REQUEST_USER_DATA_RESPONSE") return;
      done();
      if (typeof payload === "string" && payload.length > 0) resolve(payload);
      else reject(new AuthFailed("The CRM answered without user data."));
    };
    const timer = setTimeout(() => {
      done();
      reject(new ParentTimeout());
    }, timeoutMs);
    window.addEventListener("message", onMessage);
    window.parent.postMessage({ message: "REQUEST_USER_DATA" }, "*");
  });
}

/** Trades the CRM's encrypted user data for an API token. */
async function exchange(encryptedData: string): Promise<AuthAnswer> {
  let res: Response;
  try {
    res = await fetch("/v1/auth/highlevel", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ encryptedData }),
    });
  } catch {
    throw new AuthFailed("Could not reach the server to sign you in.");
  }
  const body = (await res.json().catch(() => null)) as (Partial<AuthAnswer> & { message?: string }) | null;
  if (!res.ok || !body || typeof body.token !== "string") {
    throw new AuthFailed(body?.message ?? `Signing in failed (HTTP ${res.status}).`);
  }
  return body as AuthAnswer;
}

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // blocked (some browsers, third-party frames)
  }
}

export class Auth {
  readonly embedded: boolean;
  private current: AuthState;
  private readonly listeners = new Set<(s: AuthState) => void>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private recovering: Promise<boolean> | null = null;

  constructor(embedded = window.parent !== window) {
    this.embedded = embedded;
    this.current = { status: "checking", message: embedded ? "Connecting to your CRM account…" : "Loading…" };
  }

  get state(): AuthState {
    return this.current;
  }

  token(): string | null {
    return this.current.status === "signed-in" ? this.current.token : null;
  }

  subscribe(fn: (s: AuthState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(next: AuthState): void {
    this.current = next;
    clearTimeout(this.refreshTimer);
    if (next.status === "signed-in" && next.source === "crm" && next.expiresAt) this.scheduleRefresh(next.expiresAt);
    for (const fn of this.listeners) fn(next);
  }

  /** The first sign-in: the CRM's handshake when embedded, else the token of this tab (if any). */
  async start(): Promise<void> {
    if (this.embedded) {
      await this.viaCrm();
      return;
    }
    const saved = storage()?.getItem(TOKEN_KEY);
    this.set(saved ? { status: "signed-in", token: saved, source: "token", expiresAt: null } : { status: "signed-out", note: null, error: null });
  }

  /** The CRM handshake; `quiet` (a re-run after a 401) keeps the page as it is while it runs. */
  private async viaCrm(quiet = false): Promise<boolean> {
    if (!quiet) this.set({ status: "checking", message: "Connecting to your CRM account…" });
    try {
      const answer = await exchange(await askParent(PARENT_TIMEOUT_MS));
      this.set({ status: "signed-in", token: answer.token, source: "crm", expiresAt: Date.parse(answer.expiresAt) || null });
      return true;
    } catch (err) {
      if (err instanceof ParentTimeout) {
        this.set({ status: "signed-out", note: "The CRM did not send your session within 5 seconds. You can sign in with a token instead.", error: null });
      } else {
        this.set({ status: "signed-out", note: null, error: err instanceof Error ? err.message : "Signing in failed." });
      }
      return false;
    }
  }

  private scheduleRefresh(expiresAt: number): void {
    const wait = Math.max(5_000, expiresAt - Date.now() - REFRESH_EARLY_MS);
    this.refreshTimer = setTimeout(() => void this.refresh(expiresAt), wait);
  }

  /** A fresh token from the CRM before this one expires; on failure the current one is kept until it runs out. */
  private async refresh(expiresAt: number): Promise<void> {
    try {
      const answer = await exchange(await askParent(PARENT_TIMEOUT_MS));
      if (this.current.status === "signed-in" && this.current.source === "crm") {
        this.set({ status: "signed-in", token: answer.token, source: "crm", expiresAt: Date.parse(answer.expiresAt) || null });
      }
    } catch {
      if (this.current.status === "signed-in" && expiresAt - Date.now() > 10_000) this.refreshTimer = setTimeout(() => void this.refresh(expiresAt), 15_000);
    }
  }

  signInWithToken(raw: string): void {
    const token = raw.trim().replace(/^Bearer\s+/i, "");
    if (!this.embedded) storage()?.setItem(TOKEN_KEY, token);
    this.set({ status: "signed-in", token, source: "token", expiresAt: null });
  }

  signOut(note: string | null = null, error: string | null = null): void {
    storage()?.removeItem(TOKEN_KEY);
    this.set({ status: "signed-out", note, error });
  }

  /**
   * Called on a 401 for `failedToken`: true when a request should be retried with the (new) current token. The
   * CRM session is asked again once; a pasted token cannot be renewed, so that shows the sign-in form.
   */
  recover(failedToken: string, message: string): Promise<boolean> {
    if (this.current.status !== "signed-in") return Promise.resolve(false);
    if (this.current.token !== failedToken) return Promise.resolve(true);
    if (this.recovering) return this.recovering;
    const source = this.current.source;
    this.recovering = (async () => {
      if (source === "crm" && (await this.viaCrm(true))) return true;
      if (source === "token") this.signOut(null, `${message} Sign in again.`);
      return false;
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }
}

export const auth = new Auth();
