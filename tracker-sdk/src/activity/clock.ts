/**
 * Active time: the clock runs while the page is visible and the user has given input (pointer, key, scroll, wheel,
 * touch) within `idleMs`. Going idle stops it at the moment of the last input: the idle window itself is never
 * counted. Loading, and the page becoming visible, count as input. The time since the last report goes out as a
 * `time` event of the current view when the view ends, the page is hidden or left (up to that moment), the user
 * goes idle, and every 60 s while the clock runs (these two up to the last input), so a long view is not lost with
 * the browser.
 */
import { flush } from "../queue.ts";
import { later, on } from "../util.ts";
import { emit } from "./events.ts";

let idleMs: number;
/** Start of the active time not yet reported; 0: the clock is stopped. */
let since = 0;
let lastInput = 0;
/** When the next report of a running clock is due (a minute after the last one, or after the clock started). */
let due = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

const visible = (): boolean => document.visibilityState == "visible";

/**
 * Emits the active time from the clock's start to `end` (default now; the last input once the user is idle; at most
 * an hour), then restarts the clock at `end`, or stops it (`stop`, or idle).
 */
export function report(stop?: boolean, end = Date.now()): void {
  const idle = Date.now() - lastInput >= idleMs;
  if (idle) end = lastInput;
  if (since && end > since) emit("time", Math.min(end - since, 36e5));
  since = since && !stop && !idle ? end : 0;
}

/** Sets the timer for the next check: the moment the user would be idle, or the next report, whichever is first. */
function arm(): void {
  clearTimeout(timer);
  if (since) timer = later(tick, Math.min(lastInput + idleMs, due) - Date.now());
}

/**
 * Idle: the time up to the last input is reported and the clock stops. A report due: the time up to the last input
 * is reported (what follows it counts once more input, or a report before the idle moment, confirms it). Otherwise
 * there was input since the timer was set: nothing to do but set it again.
 */
function tick(): void {
  const now = Date.now();
  if (now - lastInput >= idleMs || now >= due) {
    report(false, lastInput);
    due = now + 6e4;
  }
  arm();
}

/** Input: restarts a stopped clock. Cheap on purpose (no timer work), so pointer moves need no throttle. */
function input(): void {
  const now = Date.now();
  if (since && now - lastInput >= idleMs) report(); // idle, and the timer has not run yet (a throttled tab)
  lastInput = now;
  if (!since && visible()) {
    since = now;
    due = now + 6e4;
    arm();
  }
}

export function startClock(idle: number): void {
  idleMs = idle;
  for (const type of ["pointerdown", "pointermove", "mousemove", "keydown", "scroll", "wheel", "touchstart"]) on(window, type, input, true);
  on(document, "visibilitychange", () => {
    if (visible()) return input();
    report(true);
    flush();
  });
  input();
}
