/**
 * The outbox: batches of up to 50 events or 5 s, sent within keepalive's 64 KB budget, retried with randomised
 * capped backoff (429 `Retry-After` honoured), and mirrored into localStorage so that nothing is lost to a
 * navigation, a closed tab or a network outage. An event leaves the outbox only when the edge answered for it
 * (2xx, or a 4xx that no retry would change); a retry re-sends the same event ids, which the backend stores once.
 *
 * Several tabs: each tab writes its own key, `lt_q<tab id>` = `[heartbeat ms, events]`, so no tab overwrites
 * another's events (one shared key would need a read-merge-write that two tabs can interleave). The tab id lives
 * in sessionStorage, so the next page in the same tab (a redirect after a form submit) takes its outbox back at
 * once. A tab marks its key closed (heartbeat 0) on `pagehide`; a loading tab adopts outboxes that are closed or
 * silent for 10 minutes (a crashed tab). If a tab adopts the outbox of one that comes back from the back/forward
 * cache, both send the same events: duplicates the backend drops, never losses. Web Locks would tell live tabs
 * apart exactly, but a page holding one is kept out of the back/forward cache.
 *
 * The CRM's activity script (src/activity/) bundles this same outbox with a head of its own (`{ token }` instead of
 * `{ siteKey }`, replaced on renewal), keys of its own (`lt_aq<tab id>`: neither script adopts the other's events)
 * and a 401 that keeps the batch for a renewed token (`retarget`, which the website SDK never imports).
 */
import type { ActivityEvent, TrackerEvent } from "#contracts";
import { maySend } from "./consent.ts";
import { uuid } from "./ids.ts";
import { del, keys, persisting, read, write } from "./storage.ts";
import { post } from "./transport.ts";
import { attempt, later, log, safe } from "./util.ts";

// Limits, written as literals where used (top-level constants survive minification as variables):
// 50 events per request; a batch waits at most 5 s; 60 KB per request and in flight at once (keepalive requests
// share 64 KB; room is left for the envelope); 200 events or 250,000 characters stored; an outbox is stale after
// 10 minutes without a heartbeat; backoff from 0.5-1.5 s doubling up to 15-45 s.
let prefix = "lt_q";
/** Called on a 401 instead of dropping the batch: see `retarget`. */
let refused: (() => void) | undefined;

/** Website events, or the activity script's. */
type Queued = TrackerEvent | ActivityEvent;

let queue: Queued[] = [];
/** Ids of the events in flight. */
let busy: Record<string, 1> = {};
let inFlight = 0;
let failures = 0;
let retryAt = 0;
let timer: ReturnType<typeof setTimeout> | 0 | undefined;
let url: string;
/** What every request body carries besides `sentAt` and `events` ({ siteKey }); none: nothing is sent. */
let head: object | undefined;
let tab: string;
let leaving: boolean | undefined;

/**
 * Makes this outbox carry another kind of events (the CRM's activity script; call before `startQueue`): its storage
 * keys start with `keyPrefix` (outboxes under another prefix are never adopted), and a 401 calls `renew` instead of
 * dropping the batch, which stays queued until the owner sets a new head (`setHead`). The website SDK never calls
 * this, so the bundler leaves it out of the SDK.
 */
export function retarget(keyPrefix: string, renew: () => void): void {
  prefix = keyPrefix;
  refused = renew;
}

/** Replaces the request head (a renewed token); undefined holds sending until the next one. */
export const setHead = (value?: object): void => {
  head = value;
};

export function startQueue(endpoint: string, envelopeHead?: object): void {
  url = endpoint;
  head = envelopeHead;
  // without sessionStorage, this page gets a tab id of its own
  tab = attempt(() => sessionStorage.getItem("lt_tab")) || uuid();
  restore();
}

/** Takes back this tab's outbox and adopts those of closed or dead tabs (at start, and when consent is given). */
export function restore(): void {
  if (!persisting) return;
  // (if this fails, the next page in this tab cannot find this outbox at once; a later load adopts it once stale)
  attempt(() => sessionStorage.setItem("lt_tab", tab));
  const own = prefix + tab;
  for (const key of keys()) {
    if (key.indexOf(prefix)) continue;
    // an unreadable outbox is dropped
    const [beat, events] = attempt(() => JSON.parse(read(key)!) as [number, Queued[]]) || [];
    if (key != own && beat && Date.now() - beat < 6e5) continue;
    for (const e of events || []) if (!queue.some((q) => q.id == e.id)) queue.push(e);
    if (key != own) del(key);
  }
  save();
}

/**
 * Marks the page as leaving (`pagehide`) or back (`pageshow`). While it is leaving, its outbox is saved with
 * heartbeat 0 (closed), also by what still runs after `pagehide` (the `visibilitychange` that follows it).
 */
export function leave(on: boolean): void {
  leaving = on;
  save();
}

/** Writes the outbox to this tab's key. */
export function save(): void {
  if (!persisting) return;
  if (queue.length) write(prefix + tab, JSON.stringify([leaving ? 0 : Date.now(), queue]));
  else del(prefix + tab);
}

/** Adds an event, stored at once; a form submission is also sent at once. */
export function add(e: Queued): void {
  log(e.type, e);
  JSON.stringify(e); // throws on circular or BigInt props: such an event is refused before it can jam the outbox
  queue.push(e);
  // Over the caps, the oldest events go first, form submissions last.
  while (queue.length > 200 || JSON.stringify(queue).length > 25e4) {
    const i = queue.findIndex((q) => q.type != "form_submission");
    queue.splice(i < 0 ? 0 : i, 1);
  }
  save();
  if (e.type == "form_submission" || queue.length >= 50) flush();
  else if (!timer) timer = later(flush, 5e3);
}

function forget(events: Queued[]): void {
  queue = queue.filter((e) => events.indexOf(e) < 0);
  save();
}

/** Empties the outbox (consent denied). */
export function reset(): void {
  queue = [];
  busy = {};
}

/** A flush at `at` (epoch ms; at once if past). */
function schedule(at: number): void {
  clearTimeout(timer);
  timer = later(flush, at - Date.now());
}

/** Sends every event not yet in flight, in requests of ≤ 50 events and ≤ 60 KB, while the byte budget lasts. */
export function flush(): void {
  clearTimeout(timer);
  timer = 0;
  if (!head || !maySend() || !navigator.onLine) return;
  if (retryAt > Date.now()) return schedule(retryAt);
  let chunk: Queued[] = [];
  let bytes = 0;
  // nothing this loop calls changes the array in place (forget() replaces it), so no copy is needed
  for (const e of queue) {
    if (busy[e.id]) continue;
    // UTF-8 bytes (a Blob would tell too, but each one is a synchronous call to the browser process)
    const n = new TextEncoder().encode(JSON.stringify(e)).length + 1;
    if (n > 6e4) forget([e]);
    else {
      if (chunk.length == 50 || bytes + n > 6e4) {
        if (!send(chunk, bytes)) return;
        chunk = [];
        bytes = 0;
      }
      chunk.push(e);
      bytes += n;
    }
  }
  if (chunk.length) send(chunk, bytes);
}

/** false: requests in flight have spent the keepalive budget; their answers flush again. */
function send(chunk: Queued[], bytes: number): boolean {
  if (inFlight + bytes > 6e4) return false;
  inFlight += bytes;
  for (const e of chunk) busy[e.id] = 1;
  const body = JSON.stringify({ ...head, sentAt: Date.now(), events: chunk });
  post(url, body, safe((status: number, after: number) => {
    inFlight -= bytes;
    for (const e of chunk) delete busy[e.id];
    if (!status || status == 408 || status == 429 || status > 499) {
      retryAt = Date.now() + (after || Math.min(3e4, 1e3 * 2 ** failures++) * (0.5 + Math.random()));
    } else if (status == 401 && refused) refused();
    else {
      // delivered, or refused for good (400, 401, 403, 413): a retry would get the same answer
      failures = 0;
      forget(chunk);
    }
    if (queue.some((e) => !busy[e.id])) schedule(retryAt);
  }));
  return true;
}

/** The outbox as it stands (for tests). */
export const pending = <T extends Queued = TrackerEvent>(): readonly T[] => queue as T[];
