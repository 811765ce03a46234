/**
 * Storage that never throws (Safari private mode and blocked storage do): localStorage with an in-memory copy.
 * Nothing is written to localStorage until `persist(true)` — consent allows it and the site is not cookieless —
 * and until then values live in memory, for this page only. Every key we own starts with `lt_`.
 */
import { attempt } from "./util.ts";
let memory: Record<string, string> = {};
/** Writes to localStorage are allowed. */
export let persisting = false;

/** Raw read of localStorage, whatever the consent (reading stores nothing). */
export const read = (key: string): string | null | undefined => attempt(() => localStorage.getItem(key));

/** Raw write of localStorage, whatever the consent: only for the consent decision and the outbox. */
export const write = (key: string, value: string): void => attempt(() => localStorage.setItem(key, value));

export function del(key: string): void {
  delete memory[key];
  attempt(() => localStorage.removeItem(key));
}

/** Allows or stops writes to localStorage; when allowed, what was kept in memory so far is written. */
export function persist(allow: boolean): void {
  persisting = allow;
  if (allow) for (const key in memory) write(key, memory[key]!);
}

/** The value, or undefined (never null: an empty localStorage answer falls through to memory). */
export const get = (key: string): string | undefined => (persisting && read(key)) || memory[key];

export function set(key: string, value: string): void {
  memory[key] = value;
  if (persisting) write(key, value);
}

/** Our keys in localStorage, every tab's. */
export const keys = (): string[] => (attempt(() => Object.keys(localStorage)) || []).filter((k) => !k.indexOf("lt_"));

/** Forgets everything: the memory copy and every `lt_` key. */
export function clear(): void {
  memory = {};
  keys().forEach(del);
}
