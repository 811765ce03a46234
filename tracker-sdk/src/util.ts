/** What every module needs: a debug log, and wrappers so that nothing we run can throw into the host page. */

/** `debug.on`: log events and answers to the console (`LeadTracker("debug", true)` or the site config). */
export const debug = { on: false };

export function log(...args: unknown[]): void {
  if (debug.on) console.log("[LeadTracker]", ...args);
}

/** `fn()`, or undefined if it throws (storage that refuses, unparsable JSON, an invalid selector). */
export function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    // the caller's fallback applies
  }
}

/** `fn` with every exception caught (and logged in debug mode). */
export function safe<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => void {
  return (...args) => {
    try {
      fn(...args);
    } catch (err) {
      log(err);
    }
  };
}

/** addEventListener with a listener that never throws. */
export function on(target: EventTarget, type: string, fn: (event: Event) => unknown, capture?: boolean): void {
  target.addEventListener(type, safe(fn), capture);
}

/** A timer whose callback never throws. */
export const later = (fn: () => unknown, ms?: number): ReturnType<typeof setTimeout> => setTimeout(safe(fn), ms);
