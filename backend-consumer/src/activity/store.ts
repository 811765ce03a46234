/**
 * Storage of team activity (MongoDB), written by the drain:
 * - `activity_events`: one document per event, `_id` = `${userId}:${eventId}` (a redelivered event is a duplicate-key
 *   no-op); the message that stored it first owns it and alone counts it in the rollups.
 * - `activity_days`: per (tenant, user, local day): counters per (location, page), sessions, and the day's views (the
 *   user page's timeline). The source of truth of the rollups: each message's events are applied once, guarded by
 *   its id, in a write conditioned on the version read (store/versioned.ts), like the website rollups.
 * - `activity_team` / `activity_team_pages`: per (tenant, local day), each user's day as one compact JSON string (per
 *   location / per page), with the version of the `activity_days` document it was copied from. Written after the
 *   day documents, a copy only replaces an older one, so redelivery and concurrent drains converge on the latest.
 *   Team queries read one document per day: the MongoDB-compatible test server answers `_id: { $in }` in time
 *   quadratic in the list's length, so reading hundreds of user-day documents would not do.
 */
import type { Db } from "mongodb";
import type { ActivityQueueMessage } from "#contracts";
import { GUARD_KEEP, guardKey } from "../rollups/store.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { applyVersioned, type Step } from "../store/versioned.ts";
import { refusalsOf, type ErrorKind } from "../drain/errors.ts";
import { insertUnordered } from "../store/events.ts";
import {
  applyEvents,
  briefEntry,
  dayContributions,
  locationEntry,
  pageEntry,
  teamDocId,
  toActivityDocuments,
  userKey,
  type ActivityEventDocument,
  type Cell,
  type DayEvent,
  type TeamEntry,
  type View,
} from "./days.ts";

export interface ActivityDayDocument {
  _id: string;
  v?: number;
  tenantId: string;
  userId: string;
  day: string;
  role: "agency" | "location";
  cells: Cell[];
  views: View[];
  /** Guard ids applied (message ids, hashed), comma-separated, the latest GUARD_KEEP. */
  g: string;
  expireAt: Date;
}

export interface ActivityTeamDocument {
  _id: string;
  v?: number;
  tenantId: string;
  day: string;
  /** userKey → version of the user's `activity_days` document copied. */
  vs: Record<string, number>;
  /** userKey → JSON of the user's TeamEntry. */
  u: Record<string, string>;
  /**
   * Per-location documents: every user's entry without session keys (briefEntry), one per line, in one string: what
   * questions not counting sessions read (the server reads one field of a document much faster than 500 keys).
   */
  b?: string;
  expireAt: Date;
}

/** A delivered activity message: the delivery id (its guard) and the validated message. */
export interface ActivityItem {
  id: string;
  message: ActivityQueueMessage;
}

/** `_id: { $in }` lists are cut to this length (the test server's cost grows with the square of it). */
const IN_CHUNK = 200;

export async function findByIds<D>(db: Db, collection: string, ids: string[], projection?: Record<string, 0 | 1>): Promise<D[]> {
  const out: D[] = [];
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const part = await db.collection(collection).find({ _id: { $in: ids.slice(i, i + IN_CHUNK) } } as never, projection ? { projection } : {}).toArray();
    out.push(...(part as D[]));
  }
  return out;
}

/**
 * Stores activity messages: their events, then the rollups. Returns the messages whose event documents the server
 * refused (attributed, with their kind); throws for anything else (the caller classifies and splits).
 */
export async function storeActivity(db: Db, items: ActivityItem[]): Promise<Map<string, { kind: ErrorKind; error: string }>> {
  const docs: ActivityEventDocument[] = [];
  for (const { id, message } of items) docs.push(...toActivityDocuments(message.actor, message.receivedAt, message.events, id));
  const result = await insertUnordered(db, COLLECTIONS.activityEvents, docs);
  const refused = refusalsOf(result.failed, (i) => docs[i]!.msg);
  const owned = await ownedEvents(db, docs, result.duplicateIndexes, refused);
  await applyActivityRollups(db, owned);
  return refused;
}

/** Each message's own events: those it stored now, and those it stored on an earlier delivery. */
async function ownedEvents(db: Db, docs: ActivityEventDocument[], duplicates: number[], refused: Map<string, unknown>): Promise<Map<string, ActivityEventDocument[]>> {
  const dup = new Set(duplicates);
  const owners = new Map<string, string>();
  if (dup.size) {
    const found = await findByIds<{ _id: string; msg: string }>(db, COLLECTIONS.activityEvents, [...new Set(duplicates.map((i) => docs[i]!._id))], { msg: 1 });
    for (const f of found) owners.set(f._id, f.msg);
  }
  const byMessage = new Map<string, ActivityEventDocument[]>();
  // an event twice in one message, or one message twice in a batch, counts once
  const seen = new Set<string>();
  docs.forEach((doc, i) => {
    if (refused.has(doc.msg)) return;
    if (dup.has(i) && owners.get(doc._id) !== doc.msg) return;
    if (seen.has(doc._id)) return;
    seen.add(doc._id);
    let list = byMessage.get(doc.msg);
    if (!list) byMessage.set(doc.msg, (list = []));
    list.push(doc);
  });
  return byMessage;
}

type Incoming = { guard: string; events: DayEvent[]; meta: Omit<ActivityDayDocument, "_id" | "v" | "cells" | "views" | "g"> }[];

function dayStep(id: string, current: ActivityDayDocument | null, incoming: Incoming): Step<ActivityDayDocument> {
  const applied = current?.g ? current.g.split(",") : [];
  const rest = incoming.filter((p) => !applied.includes(p.guard));
  if (rest.length === 0) return null;
  const state = applyEvents(current ?? { cells: [], views: [] }, rest.flatMap((p) => p.events));
  const g = [...applied, ...rest.map((p) => p.guard)].slice(-GUARD_KEEP).join(",");
  const expireAt = new Date(Math.max(current?.expireAt.getTime() ?? 0, ...rest.map((p) => p.meta.expireAt.getTime())));
  if (!current) return { insert: { _id: id, ...rest[0]!.meta, expireAt, cells: state.cells, views: state.views, g } };
  return { update: { $set: { cells: state.cells, views: state.views, g, expireAt } } };
}

/**
 * Applies each message's own events to the user-day documents exactly once (guarded by the message id), then copies
 * every user-day document the messages touched into the team documents. Used by the drain, and by benchmarks to
 * seed rollups in bulk (`byMessage`: message id → its events' documents, e.g. from toActivityDocuments).
 */
export async function applyActivityRollups(db: Db, byMessage: Map<string, ActivityEventDocument[]>): Promise<void> {
  const byDoc = new Map<string, Incoming>();
  for (const [msg, events] of byMessage) {
    const guard = guardKey(msg);
    for (const [docId, c] of dayContributions(events)) {
      let list = byDoc.get(docId);
      if (!list) byDoc.set(docId, (list = []));
      list.push({ guard, events: c.events, meta: { tenantId: c.tenantId, userId: c.userId, day: c.day, role: c.role, expireAt: c.expireAt } });
    }
  }
  if (byDoc.size === 0) return;
  await applyVersioned(db.collection<ActivityDayDocument>(COLLECTIONS.activityDays), byDoc, (current, incoming, id) => dayStep(id, current, incoming));
  // copied on every delivery, applied or not: a crash between the two writes is mended by the redelivery
  await copyToTeam(db, [...byDoc.keys()]);
}

type TeamCopy = { key: string; v: number; json: string; brief?: string; expireAt: Date; tenantId: string; day: string }[];

/** The brief lines of a team document after `newer`: the current ones (or, for a document from before briefs, all of its entries), the newer replacing theirs. */
function briefs(current: ActivityTeamDocument | null, newer: TeamCopy): string {
  const lines = new Map<string, string>();
  if (current?.b) for (const line of current.b.split("\n")) lines.set(line.slice(0, line.indexOf("|")), line);
  else if (current) for (const json of Object.values(current.u)) {
    const line = briefEntry(JSON.parse(json) as TeamEntry);
    lines.set(line.slice(0, line.indexOf("|")), line);
  }
  for (const c of newer) if (c.brief !== undefined) lines.set(c.brief.slice(0, c.brief.indexOf("|")), c.brief);
  return [...lines.values()].join("\n");
}

function teamStep(id: string, current: ActivityTeamDocument | null, incoming: TeamCopy): Step<ActivityTeamDocument> {
  const newer = incoming.filter((c) => (current?.vs[c.key] ?? 0) < c.v);
  if (newer.length === 0) return null;
  const expireAt = new Date(Math.max(current?.expireAt.getTime() ?? 0, ...newer.map((c) => c.expireAt.getTime())));
  const withBriefs = newer.some((c) => c.brief !== undefined);
  if (!current) {
    const first = newer[0]!;
    return {
      insert: {
        _id: id,
        tenantId: first.tenantId,
        day: first.day,
        vs: Object.fromEntries(newer.map((c) => [c.key, c.v])),
        u: Object.fromEntries(newer.map((c) => [c.key, c.json])),
        ...(withBriefs ? { b: briefs(null, newer) } : {}),
        expireAt,
      },
    };
  }
  const set: Record<string, unknown> = { expireAt };
  for (const c of newer) {
    set[`vs.${c.key}`] = c.v;
    set[`u.${c.key}`] = c.json;
  }
  if (withBriefs) set.b = briefs(current, newer);
  return { update: { $set: set } };
}

/** Copies user-day documents into the team documents (per location, and per page), each only over an older copy. */
export async function copyToTeam(db: Db, dayIds: string[]): Promise<void> {
  const days = await findByIds<ActivityDayDocument>(db, COLLECTIONS.activityDays, dayIds, { views: 0, g: 0 });
  const perLocation = new Map<string, TeamCopy>();
  const perPage = new Map<string, TeamCopy>();
  for (const d of days) {
    const id = teamDocId(d.tenantId, d.day);
    const base = { key: userKey(d.userId), v: d.v ?? 0, expireAt: d.expireAt, tenantId: d.tenantId, day: d.day };
    const add = (into: Map<string, TeamCopy>, json: string, brief?: string) => {
      let list = into.get(id);
      if (!list) into.set(id, (list = []));
      list.push({ ...base, json, ...(brief === undefined ? {} : { brief }) });
    };
    const entry = locationEntry(d.userId, d.role, d.cells);
    add(perLocation, JSON.stringify(entry), briefEntry(entry));
    add(perPage, JSON.stringify(pageEntry(d.userId, d.role, d.cells)));
  }
  const plan = (current: ActivityTeamDocument | null, incoming: TeamCopy, id: string) => teamStep(id, current, incoming);
  await Promise.all([
    applyVersioned(db.collection<ActivityTeamDocument>(COLLECTIONS.activityTeam), perLocation, plan),
    applyVersioned(db.collection<ActivityTeamDocument>(COLLECTIONS.activityTeamPages), perPage, plan),
  ]);
}

/**
 * Seeds rollups straight from activity queue messages (benchmarks, demo data): the events are turned into documents
 * as the drain would and applied under each message's id, without storing the raw events.
 */
export async function seedActivityRollups(db: Db, messages: { id: string; message: ActivityQueueMessage }[]): Promise<void> {
  const byMessage = new Map(messages.map(({ id, message }) => [id, toActivityDocuments(message.actor, message.receivedAt, message.events, id)]));
  await applyActivityRollups(db, byMessage);
}
