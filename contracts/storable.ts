/**
 * What storage can hold, checked per event before anything is queued or written. MongoDB refuses field names that
 * contain NUL, are empty (in update paths), or start with `$` (in several places), and documents nested past 100
 * levels; the driver's serializer throws on some of these before a batch is even sent, and a deep enough value
 * overflows the stack of whatever walks it. The edge refuses such an event with one of these reasons, the drain
 * checks again (whatever the edge let through by mistake), and redaction drops anything below the depth limit.
 */

/** Objects and arrays nested at most this deep, counting the event itself as 1. */
export const MAX_NESTING_DEPTH = 16;
/** The longest key anywhere in an event (the contract's limit on form field, prop and trait names). */
export const MAX_KEY_LENGTH = 256;

export const UNSTORABLE_REASONS = ["empty_key", "nul_in_key", "dollar_key", "key_too_long", "too_deep"] as const;
export type UnstorableReason = (typeof UNSTORABLE_REASONS)[number];

export interface Unstorable {
  reason: UnstorableReason;
  /** Where, as dotted keys (for the error message; never used as an update path). */
  path: string;
}

function keyProblem(key: string): UnstorableReason | undefined {
  if (key === "") return "empty_key";
  if (key.includes("\u0000")) return "nul_in_key";
  if (key.startsWith("$")) return "dollar_key";
  if (key.length > MAX_KEY_LENGTH) return "key_too_long";
  return undefined;
}

/** A step on the way down to a node: its parent's crumb and its key (or array index). Paths are built only on failure. */
interface Crumb {
  up: Crumb | undefined;
  key: string | number;
}

/** The dotted path of a crumb: `a.b[2].c`, as the walk reports it. */
function pathOf(crumb: Crumb | undefined): string {
  const keys: (string | number)[] = [];
  for (let c = crumb; c; c = c.up) keys.push(c.key);
  let path = "";
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i]!;
    path = typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;
  }
  return path;
}

/**
 * The first reason `value` cannot be stored as it is, or undefined. Walks iteratively and never below
 * `maxDepth`, so a value nested thousands of levels deep costs at most `maxDepth` levels of work per branch.
 * `deep: "ignore"` skips what lies below `maxDepth` instead of refusing it (for callers that drop it anyway).
 * Depth first, last child first; only objects and arrays are stacked, and the path of a node is spelled out only
 * when it is reported (this runs on every event at the edge and in the drain).
 */
export function findUnstorable(value: unknown, opts: { maxDepth?: number; deep?: "refuse" | "ignore" } = {}): Unstorable | undefined {
  const maxDepth = opts.maxDepth ?? MAX_NESTING_DEPTH;
  if (value === null || typeof value !== "object") return undefined;
  const nodes: object[] = [value];
  const depths: number[] = [1];
  const crumbs: (Crumb | undefined)[] = [undefined];
  while (nodes.length) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    const crumb = crumbs.pop();
    if (depth > maxDepth) {
      if (opts.deep === "ignore") continue;
      return { reason: "too_deep", path: pathOf(crumb) };
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child === null || typeof child !== "object") continue;
        nodes.push(child);
        depths.push(depth + 1);
        crumbs.push({ up: crumb, key: i });
      }
      continue;
    }
    const keys = Object.keys(node);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const problem = keyProblem(key);
      if (problem) return { reason: problem, path: pathOf({ up: crumb, key }).replaceAll("\u0000", "\\u0000").slice(0, 300) };
      const child: unknown = (node as Record<string, unknown>)[key];
      if (child === null || typeof child !== "object") continue;
      nodes.push(child);
      depths.push(depth + 1);
      crumbs.push({ up: crumb, key });
    }
  }
  return undefined;
}

/** How far an event's client time may lie from the edge's receipt before it is corrected (see `eventTime`). */
export const MAX_EVENT_AGE_MS = 7 * 86_400_000;
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;
/** A device clock off by more than this (client `sentAt` vs edge receipt) is corrected for. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The time to store for an event: its client `ts`, unless the device clock is visibly wrong or the time is absurd.
 * When the request's `sentAt` says the device clock is off by more than MAX_CLOCK_SKEW_MS, `ts` is shifted by that
 * skew. A time still outside [receipt − MAX_EVENT_AGE_MS, receipt + MAX_CLOCK_AHEAD_MS] becomes the receipt time.
 * `clientTs` keeps the original whenever it changed. (A reset device clock says 1970; its lead is still a lead.)
 */
export function eventTime(ts: number, receivedAt: number, sentAt?: number): { ts: number; clientTs?: number } {
  let t = ts;
  if (sentAt !== undefined && Number.isFinite(sentAt) && Math.abs(sentAt - receivedAt) > MAX_CLOCK_SKEW_MS) t = ts - (sentAt - receivedAt);
  if (!(t >= receivedAt - MAX_EVENT_AGE_MS && t <= receivedAt + MAX_CLOCK_AHEAD_MS)) t = receivedAt;
  return t === ts ? { ts } : { ts: t, clientTs: ts };
}
