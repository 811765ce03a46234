/** Visitor and session identity, kept through `storage.ts` (memory only until storage is allowed). */
import { get, set } from "./storage.ts";


/**
 * RFC 4122 v4 uuid from `crypto.getRandomValues` (`crypto.randomUUID` exists only in secure contexts): one call
 * for all the digits, a byte per position (a call per digit cost a tenth of a millisecond per id in Chromium).
 */
export function uuid(): string {
  const r = crypto.getRandomValues(new Uint8Array(36));
  return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c, at: number) => (+c ^ (r[at]! & (15 >> (+c / 4)))).toString(16));
}

export function visitorId(): string {
  let id = get("lt_vid");
  if (!id) set("lt_vid", (id = uuid()));
  return id;
}

/** The current session id; a new session starts after 30 minutes without activity. */
export function session(now: number): { id: string; isNew: boolean } {
  const [id, last] = (get("lt_sid") || "").split("|");
  const isNew = !id || !(now - +last! <= 18e5);
  const current = isNew ? uuid() : id!;
  set("lt_sid", `${current}|${now}`);
  return { id: current, isNew };
}
