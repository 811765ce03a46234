/**
 * Pure rules of the activity rollups: where an event lands (its trusted time, the actor's local day), what it adds to
 * its user-day document (counters per location and page, sessions, the views of the timeline), and the compact
 * per-user entries the team documents hold. No I/O here: store.ts reads and writes, query.ts and user-page.ts fold.
 */
import { createHash } from "node:crypto";
import type { Actor, ActivityEvent } from "#contracts";
import { localDay } from "../rollups/keys.ts";

/** Browser clocks are trusted within this window around the edge's receipt (older: it was queued offline). */
export const MAX_PAST_MS = 7 * 86_400_000;
export const MAX_FUTURE_MS = 60_000;
/** Views kept per user-day for the timeline (beyond it they still count in the totals). */
export const MAX_VIEWS_PER_DAY = 2000;
/** The location value of activity on agency-level CRM pages. */
export const AGENCY = "agency";

/** The browser's clock clamped into [receivedAt − 7 days, receivedAt + 60 s]. */
export function trustedTs(ts: number, receivedAt: number): number {
  return Math.min(Math.max(ts, receivedAt - MAX_PAST_MS), receivedAt + MAX_FUTURE_MS);
}

/** A session id as the rollups count it: 8 characters of a hash (48 bits, no collision within a user's day). */
export const sessionKey = (session: string): string => createHash("sha1").update(session).digest("base64url").slice(0, 8);

/** Counters of one (location, page) of a user's day. `s`: session keys; `z`: epoch ms of the latest event. */
export interface Cell {
  loc: string;
  page: string;
  pv: number;
  ms: number;
  s: string[];
  z: number;
}

/** One page view of the timeline: session, view id, location, page, path, start (ms), latest event (ms), active ms. */
export interface View {
  s: string;
  w: string;
  loc: string;
  page: string;
  path: string;
  at: number;
  z: number;
  ms: number;
  /** 1 when its `view` event was seen (a view known only from time events is not a page view). */
  pv: 0 | 1;
}

/** The state of a user-day document that contributions change. */
export interface DayState {
  cells: Cell[];
  views: View[];
}

/** What one message's events add to one user-day document. */
export interface DayContribution {
  tenantId: string;
  userId: string;
  day: string;
  role: Actor["role"];
  expireAt: Date;
  events: DayEvent[];
}

/** An event as the rollups see it: its trusted time and the location it happened in (AGENCY for none). */
export interface DayEvent {
  type: ActivityEvent["type"];
  ts: number;
  loc: string;
  session: string;
  view: string;
  path: string;
  page: string;
  ms: number;
}

export const dayDocId = (tenantId: string, userId: string, day: string): string => `${tenantId}|${userId}|${day}`;
export const teamDocId = (tenantId: string, day: string): string => `${tenantId}|${day}`;

/** The raw event document as stored in `activity_events`. */
export interface ActivityEventDocument {
  _id: string;
  tenantId: string;
  locationId: string | null;
  userId: string;
  role: Actor["role"];
  session: string;
  view: string;
  type: ActivityEvent["type"];
  path: string;
  page: string;
  ms?: number;
  ts: Date;
  day: string;
  /** The queue message that stored it first (it alone counts it in the rollups). */
  msg: string;
  expireAt: Date;
}

/** The documents of a message's events (no IP, no user agent: the actor and what the CRM page was). */
export function toActivityDocuments(actor: Actor, receivedAt: number, events: ActivityEvent[], msg: string): ActivityEventDocument[] {
  return events.map((e) => {
    const ts = trustedTs(e.ts, receivedAt);
    return {
      _id: `${actor.userId}:${e.id}`,
      tenantId: actor.tenantId,
      locationId: actor.locationId,
      userId: actor.userId,
      role: actor.role,
      session: e.session,
      view: e.view,
      type: e.type,
      path: e.path,
      page: e.page,
      ...(e.type === "time" ? { ms: e.ms } : {}),
      ts: new Date(ts),
      day: localDay(ts, actor.timezone),
      msg,
      expireAt: new Date(ts + actor.retentionDays * 86_400_000),
    };
  });
}

/** Groups stored event documents by user-day document. */
export function dayContributions(docs: ActivityEventDocument[]): Map<string, DayContribution> {
  const out = new Map<string, DayContribution>();
  for (const d of docs) {
    const id = dayDocId(d.tenantId, d.userId, d.day);
    let c = out.get(id);
    if (!c) out.set(id, (c = { tenantId: d.tenantId, userId: d.userId, day: d.day, role: d.role, expireAt: d.expireAt, events: [] }));
    if (d.expireAt > c.expireAt) c.expireAt = d.expireAt;
    c.events.push({ type: d.type, ts: d.ts.getTime(), loc: d.locationId ?? AGENCY, session: d.session, view: d.view, path: d.path, page: d.page, ms: d.type === "time" ? (d.ms ?? 0) : 0 });
  }
  return out;
}

/** `state` with `events` added (a copy; `state` is not changed). */
export function applyEvents(state: DayState, events: DayEvent[]): DayState {
  const cells = new Map(state.cells.map((c) => [`${c.loc}\u0000${c.page}`, { ...c, s: [...c.s] }]));
  const views = new Map(state.views.map((v) => [v.w, { ...v }]));
  for (const e of events) {
    const { loc, ts } = e;
    const key = `${loc}\u0000${e.page}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { loc, page: e.page, pv: 0, ms: 0, s: [], z: 0 }));
    const s = sessionKey(e.session);
    if (!cell.s.includes(s)) cell.s.push(s);
    cell.z = Math.max(cell.z, ts);
    if (e.type === "view") cell.pv += 1;
    else cell.ms += e.ms;
    let view = views.get(e.view);
    if (!view) {
      if (views.size >= MAX_VIEWS_PER_DAY) continue;
      views.set(e.view, (view = { s: e.session, w: e.view, loc, page: e.page, path: e.path, at: e.type === "view" ? ts : ts - e.ms, z: ts, ms: 0, pv: 0 }));
    }
    // the start is the view event's time; known only from time events, the earliest of them minus its time
    if (e.type === "view") {
      view.at = view.pv ? Math.min(view.at, ts) : ts;
      view.pv = 1;
    } else {
      view.ms += e.ms;
      if (!view.pv) view.at = Math.min(view.at, ts - e.ms);
    }
    view.z = Math.max(view.z, ts);
  }
  return { cells: [...cells.values()], views: [...views.values()] };
}

/** A user's day in a team document: the cells folded per location (`c`) or kept per page (`p`). */
export interface TeamEntry {
  id: string;
  role: Actor["role"];
  /** [location, page views, active ms, session keys, latest ms] */
  c?: [string, number, number, string[], number][];
  /** [location, page, page views, active ms, session keys, latest ms] */
  p?: [string, string, number, number, string[], number][];
}

/** The per-location fold of a user's cells (what team queries without pages read). */
export function locationEntry(userId: string, role: Actor["role"], cells: Cell[]): TeamEntry {
  const byLoc = new Map<string, [string, number, number, string[], number]>();
  for (const c of cells) {
    let row = byLoc.get(c.loc);
    if (!row) byLoc.set(c.loc, (row = [c.loc, 0, 0, [], 0]));
    row[1] += c.pv;
    row[2] += c.ms;
    for (const s of c.s) if (!row[3].includes(s)) row[3].push(s);
    row[4] = Math.max(row[4], c.z);
  }
  return { id: userId, role, c: [...byLoc.values()] };
}

/**
 * A location entry without its session keys, as one short line (`id|role|loc,pv,ms,latest;…`): what questions that
 * do not count sessions read, a fraction of the JSON's size and parse time. User ids (ours) hold no `|` or newline,
 * location ids are UUIDs or "agency".
 */
export function briefEntry(e: TeamEntry): string {
  return `${e.id}|${e.role}|${(e.c ?? []).map(([loc, pv, ms, , z]) => `${loc},${pv},${ms},${z}`).join(";")}`;
}

/** `briefEntry` read back, with empty session lists. */
export function parseBrief(brief: string): TeamEntry {
  const [id, role, cells] = brief.split("|") as [string, Actor["role"], string];
  const c = cells ? cells.split(";").map((x): [string, number, number, string[], number] => {
    const [loc, pv, ms, z] = x.split(",");
    return [loc!, Number(pv), Number(ms), [], Number(z)];
  }) : [];
  return { id, role, c };
}

export function pageEntry(userId: string, role: Actor["role"], cells: Cell[]): TeamEntry {
  return { id: userId, role, p: cells.map((c) => [c.loc, c.page, c.pv, c.ms, c.s, c.z]) };
}

/** A user id as a key of a team document's maps: ids with `.` or `$` (never ours, which are UUIDs) are encoded. */
export const userKey = (userId: string): string => (/^[A-Za-z0-9_-]+$/.test(userId) ? userId : `~${Buffer.from(userId).toString("base64url")}`);
