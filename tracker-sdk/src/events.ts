/**
 * Builds events: a client id, time, session and visitor ids, the page, the consent state and the identified
 * user. The first event of a new session is preceded by a `session_start` carrying the attribution.
 */
import type { PageInfo, TrackerEvent } from "#contracts";
import { attribution } from "./attribution.ts";
import { mayBuffer, state } from "./consent.ts";
import { session, uuid, visitorId } from "./ids.ts";
import { add } from "./queue.ts";
import { get } from "./storage.ts";

export const pageInfo = (): PageInfo => ({
  url: location.href.slice(0, 4096),
  path: location.pathname,
  title: document.title.slice(0, 1024),
});

/** A new event of `type`; undefined when consent was denied. */
export function makeEvent(type: TrackerEvent["type"], extra?: Partial<TrackerEvent>): TrackerEvent | undefined {
  if (!mayBuffer()) return;
  const ts = Date.now();
  const s = session(ts);
  const base = {
    ts,
    sessionId: s.id,
    visitorId: visitorId(),
    page: pageInfo(),
    consent: state,
    userId: get("lt_uid"), // set by identify()
  };
  if (s.isNew) add({ id: uuid(), type: "session_start", ...base, attribution: attribution(ts) });
  return { id: uuid(), type, ...base, ...extra };
}

export function emit(type: TrackerEvent["type"], extra?: Partial<TrackerEvent>): void {
  const e = makeEvent(type, extra);
  if (e) add(e);
}
