/**
 * Sessions: one document per (site, session id), upserted from the events of each batch. Counters must survive
 * redelivery and concurrent drains, so every update is guarded by the event ids it applies: the session keeps the
 * ids of its last RECENT_IDS events and an update only matches if none of its ids is among them. A guarded upsert
 * that collides (duplicate _id) means some ids were applied already; the remainder is applied in a second round.
 */
import Bowser from "bowser";
import { MongoServerError, type AnyBulkWriteOperation, type Db } from "mongodb";
import type { Attribution } from "#contracts";
import type { EventDocument } from "./events.ts";
import { COLLECTIONS, DUPLICATE_KEY, writeErrorsOf } from "./mongo.ts";

/** How many recent event ids a session remembers for idempotency; redeliveries arrive far sooner than this. */
export const RECENT_IDS = 1000;

export interface SessionDocument {
  _id: string;
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

/** The update for one session from a group of its events (all ids in `events` are applied together). */
function sessionUpdate(events: EventDocument[], now: Date, timezone: string | undefined): { filter: Record<string, unknown>; update: Record<string, unknown>; upsert: true } {
  const first = events[0]!;
  const ids = events.map((e) => e.eventId);
  const ts = events.map((e) => e.ts.getTime());
  const pages = events.filter((e) => e.type === "page_view" && e.page?.url).map((e) => ({ url: e.page!.url, at: e.ts }));
  const start = events.find((e) => e.type === "session_start" && e.attribution);
  const expireAt = new Date(Math.max(...events.map((e) => e.expireAt.getTime())));
  return {
    filter: { _id: sessionKey(first.siteId, first.sessionId), recentEventIds: { $nin: ids } },
    update: {
      $setOnInsert: {
        siteId: first.siteId,
        sessionId: first.sessionId,
        visitorId: first.visitorId,
        userAgent: first.ua,
        ...parseUserAgent(first.ua),
        geo: first.geo,
        createdAt: now,
        ...(timezone ? { timezone } : {}),
      },
      $min: { startedAt: new Date(Math.min(...ts)) },
      $max: { endedAt: new Date(Math.max(...ts)), expireAt },
      $inc: {
        eventCount: events.length,
        pageViews: events.filter((e) => e.type === "page_view").length,
        formSubmissions: events.filter((e) => e.type === "form_submission").length,
      },
      $push: {
        recentEventIds: { $each: ids, $slice: -RECENT_IDS },
        ...(pages.length ? { pages: { $each: pages, $slice: -100 } } : {}),
      },
      $set: {
        updatedAt: now,
        ...(start
          ? { attribution: start.attribution, landingPage: start.attribution!.landingPage, referrer: start.attribution!.referrer }
          : {}),
      },
    },
    upsert: true,
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
  const sessions = db.collection<SessionDocument>(COLLECTIONS.sessions);
  let groups = groupBySession(events);
  for (let round = 0; round < 5 && groups.size > 0; round++) {
    const ops = [...groups.values()].map((g) => ({ updateOne: sessionUpdate(g, now, timezones.get(g[0]!.siteId)) }));
    const collided = new Set<string>();
    try {
      await sessions.bulkWrite(ops as AnyBulkWriteOperation<SessionDocument>[], { ordered: false });
    } catch (err) {
      const list = writeErrorsOf(err);
      if (list.length === 0 || list.some((w) => w.code !== DUPLICATE_KEY)) throw err;
      for (const w of list) collided.add([...groups.keys()][w.index]!);
    }
    if (collided.size === 0) break;
    // Some ids of these groups were applied already: apply only the rest.
    const docs = await sessions.find({ _id: { $in: [...collided] } }, { projection: { recentEventIds: 1 } }).toArray();
    const applied = new Map(docs.map((d) => [d._id, new Set(d.recentEventIds)]));
    const next = new Map<string, EventDocument[]>();
    for (const key of collided) {
      const rest = groups.get(key)!.filter((e) => !applied.get(key)?.has(e.eventId));
      if (rest.length) next.set(key, rest);
    }
    groups = next;
    if (round === 4 && groups.size) throw new MongoServerError({ message: "session update kept colliding", code: DUPLICATE_KEY });
  }
  await refreshDurations(db, [...new Set(events.map((e) => sessionKey(e.siteId, e.sessionId)))]);
}

/** durationMs = endedAt − startedAt, recomputed from the stored bounds (idempotent). */
async function refreshDurations(db: Db, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const sessions = db.collection<SessionDocument>(COLLECTIONS.sessions);
  const docs = await sessions.find({ _id: { $in: keys } }, { projection: { startedAt: 1, endedAt: 1, durationMs: 1 } }).toArray();
  const ops = docs
    .filter((d) => d.endedAt.getTime() - d.startedAt.getTime() !== d.durationMs)
    .map((d) => ({
      updateOne: {
        // Only if the bounds are still those read: a concurrent drain that moved them recomputes for itself.
        filter: { _id: d._id, startedAt: d.startedAt, endedAt: d.endedAt },
        update: { $set: { durationMs: d.endedAt.getTime() - d.startedAt.getTime() } },
      },
    }));
  if (ops.length) await sessions.bulkWrite(ops, { ordered: false });
}
