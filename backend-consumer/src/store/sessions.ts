/**
 * Sessions: one document per (site, session id), written from the events of each batch. Counters must survive
 * redelivery and concurrent drains, so each event is applied once: the session keeps the ids of its last
 * RECENT_IDS events, and only events not among them are applied, in a write conditioned on the version read
 * (store/versioned.ts), so a concurrent writer makes the remainder be worked out again.
 */
import Bowser from "bowser";
import type { Db } from "mongodb";
import type { Attribution } from "#contracts";
import type { EventDocument } from "./events.ts";
import { COLLECTIONS } from "./mongo.ts";
import { applyVersioned, type Step } from "./versioned.ts";

/** How many recent event ids a session remembers for idempotency; redeliveries arrive far sooner than this. */
export const RECENT_IDS = 1000;

export interface SessionDocument {
  _id: string;
  /** Write version (store/versioned.ts). */
  v?: number;
  siteId: string;
  sessionId: string;
  visitorId: string;
  startedAt: Date;
  endedAt: Date;
  durationMs?: number;
  eventCount: number;
  pageViews: number;
  formSubmissions: number;
  pages: { url: string; at: Date }[];
  attribution?: Attribution;
  landingPage?: string;
  referrer?: string;
  userAgent: string | null;
  device?: string;
  browser?: string;
  os?: string;
  geo: EventDocument["geo"];
  recentEventIds: string[];
  /** The site's IANA time zone when the session began: its visit is counted on that zone's day. */
  timezone?: string;
  /** The visit finalizer run that counted this session in the rollups (absent: not yet). */
  rollupRun?: string;
  expireAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export const sessionKey = (siteId: string, sessionId: string): string => `${siteId}|${sessionId}`;

export function parseUserAgent(ua: string | null): { device?: string; browser?: string; os?: string } {
  if (!ua) return {};
  try {
    const parsed = Bowser.parse(ua);
    return { device: parsed.platform.type ?? "unknown", browser: parsed.browser.name, os: parsed.os.name };
  } catch {
    return {};
  }
}

/** What applying `events` (none of them applied yet) to `current` (null: a new session) writes. */
function sessionStep(current: SessionDocument | null, events: EventDocument[], now: Date, timezone: string | undefined): Step<SessionDocument> {
  const first = events[0]!;
  const ids = events.map((e) => e.eventId);
  const ts = events.map((e) => e.ts.getTime());
  const pages = events.filter((e) => e.type === "page_view" && e.page?.url).map((e) => ({ url: e.page!.url, at: e.ts }));
  const start = events.find((e) => e.type === "session_start" && e.attribution);
  const expireAt = new Date(Math.max(...events.map((e) => e.expireAt.getTime())));
  const startedAt = new Date(Math.min(...ts, current?.startedAt.getTime() ?? Infinity));
  const endedAt = new Date(Math.max(...ts, current?.endedAt.getTime() ?? -Infinity));
  const counts = {
    eventCount: events.length,
    pageViews: events.filter((e) => e.type === "page_view").length,
    formSubmissions: events.filter((e) => e.type === "form_submission").length,
  };
  const origin = start ? { attribution: start.attribution, landingPage: start.attribution!.landingPage, referrer: start.attribution!.referrer } : {};
  if (!current) {
    return {
      insert: {
        _id: sessionKey(first.siteId, first.sessionId),
        siteId: first.siteId,
        sessionId: first.sessionId,
        visitorId: first.visitorId,
        userAgent: first.ua,
        ...parseUserAgent(first.ua),
        geo: first.geo,
        createdAt: now,
        ...(timezone ? { timezone } : {}),
        startedAt,
        endedAt,
        durationMs: endedAt.getTime() - startedAt.getTime(),
        ...counts,
        pages: pages.slice(-100),
        recentEventIds: ids.slice(-RECENT_IDS),
        expireAt,
        updatedAt: now,
        ...origin,
      } as SessionDocument,
    };
  }
  return {
    update: {
      $set: { startedAt, endedAt, durationMs: endedAt.getTime() - startedAt.getTime(), updatedAt: now, ...origin },
      $max: { expireAt },
      $inc: counts,
      $push: {
        recentEventIds: { $each: ids, $slice: -RECENT_IDS },
        ...(pages.length ? { pages: { $each: pages, $slice: -100 } } : {}),
      },
    } as never,
  };
}

function groupBySession(events: EventDocument[]): Map<string, EventDocument[]> {
  const groups = new Map<string, EventDocument[]>();
  for (const e of events) {
    const key = sessionKey(e.siteId, e.sessionId);
    const list = groups.get(key);
    if (list) {
      if (!list.some((x) => x.eventId === e.eventId)) list.push(e);
    } else groups.set(key, [e]);
  }
  return groups;
}

/** Applies the events to their sessions exactly once, whatever was applied before. */
export async function applySessions(db: Db, events: EventDocument[], now = new Date(), timezones: Map<string, string> = new Map()): Promise<void> {
  const groups = groupBySession(events);
  await applyVersioned(db.collection<SessionDocument>(COLLECTIONS.sessions), groups, (current, group) => {
    const applied = new Set(current?.recentEventIds ?? []);
    const rest = group.filter((e) => !applied.has(e.eventId));
    return rest.length ? sessionStep(current, rest, now, timezones.get(rest[0]!.siteId)) : null;
  });
}
