/**
 * The actor token: the CRM's `exposeSessionDetails(appId)` gives the signed-in user's session details encrypted
 * with the app's shared secret; the backend exchanges them (`tokenUrl`, a text/plain POST: no preflight) for a
 * token of at most an hour, which goes into every batch's head. Renewed 5 minutes before it expires (the clock
 * between 1 and 60 minutes, so a wrong browser clock cannot make it spin), at once when the edge answers 401, and
 * when the user moves to another CRM location (the token names the location). Failures retry with a randomised
 * backoff from 1 s doubling to 5 minutes, and an exchange unanswered after 30 s is a failure; meanwhile events wait
 * in the outbox.
 */
import type { ActivityScriptConfig } from "../../../contracts/activity-path.ts";
import { flush, setHead } from "../queue.ts";
import { later } from "../util.ts";

/** The CRM's API on its pages. */
export interface Host {
  exposeSessionDetails?: (appId: string) => Promise<unknown>;
}

let config: ActivityScriptConfig;
let failures = 0;
/** Bumped by every renewal asked for: an exchange that started before the last request does not count. */
let asked = 0;
let running = false;
let timer: ReturnType<typeof setTimeout> | undefined;

/** A new token and when it expires (an ISO date or epoch ms). */
async function exchange(encrypted?: unknown): Promise<{ token: string; expiresAt?: string | number }> {
  const details = encrypted || (await (window as Host).exposeSessionDetails!(config.appId));
  // an exchange that never answers would hold every later renewal: after 30 s it fails like any other
  const res = await fetch(config.tokenUrl, { method: "POST", body: JSON.stringify({ encryptedData: details }), signal: AbortSignal.timeout?.(3e4) });
  // an error answer has no token (or is no JSON): a failure like any other
  const answer = await res.json();
  if (!answer.token || typeof answer.token != "string") throw 0;
  return answer;
}

function run(encrypted?: unknown): void {
  const round = asked;
  running = true;
  clearTimeout(timer);
  exchange(encrypted).then(
    ({ token, expiresAt }) => {
      running = false;
      if (round != asked) return run();
      failures = 0;
      setHead({ token });
      const ms = (+new Date(expiresAt!) || Date.now() + 36e5) - Date.now() - 3e5;
      timer = later(renew, Math.min(Math.max(ms, 6e4), 36e5));
      flush();
    },
    () => {
      running = false;
      timer = later(renew, Math.min(3e5, 1e3 * 2 ** failures++) * (0.5 + Math.random()));
    },
  );
}

/**
 * Gets a new token. `hold`: the current one may not be used meanwhile (the edge refused it, or the user changed
 * location), so nothing is sent until the new one is there.
 */
export function renew(hold?: boolean): void {
  if (hold) setHead();
  asked++;
  if (!running) run();
}

/** The first exchange, with the session details the start already got. */
export function startToken(c: ActivityScriptConfig, encrypted: unknown): void {
  config = c;
  run(encrypted);
}
