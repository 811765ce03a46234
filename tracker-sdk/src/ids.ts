/** Visitor and session identity. Storage may throw (Safari private mode, blocked cookies): memory is the fallback. */

const VISITOR_KEY = "lt_vid";
const SESSION_KEY = "lt_sid";
/** A session ends after 30 minutes without activity. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

const memory: Record<string, string> = {};

export function readStore(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return memory[key] ?? null;
  }
}

export function writeStore(key: string, value: string): void {
  memory[key] = value;
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage unavailable: the in-memory copy is all we keep
  }
}

/** RFC 4122 v4 uuid; `crypto.randomUUID` exists only in secure contexts, so build one from random bytes if needed. */
export function uuid(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function visitorId(): string {
  let id = readStore(VISITOR_KEY);
  if (!id) {
    id = uuid();
    writeStore(VISITOR_KEY, id);
  }
  return id;
}

/** Returns the current session id, starting a new session when the last activity is older than the timeout. */
export function sessionId(now: number): { id: string; isNew: boolean } {
  const raw = readStore(SESSION_KEY);
  const [id, last] = raw ? raw.split("|") : [];
  const fresh = !id || !last || now - Number(last) > SESSION_TIMEOUT_MS;
  const current = fresh ? uuid() : id;
  writeStore(SESSION_KEY, `${current}|${now}`);
  return { id: current, isNew: fresh };
}
