/**
 * Leads: one per (site, normalised email) within the dedupe window of the incoming event (24 h for submissions,
 * 7 days for partials). Which lead an event belongs to is decided by compare-and-swap on a `lead_keys` document
 * per (site, email), so two drains handling the same email at once never create two leads. Every lead write is
 * idempotent ($set, $max, $min, $addToSet and a conditional status upgrade), so redelivered events change nothing.
 */
import { randomUUID } from "node:crypto";
import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Db } from "mongodb";
import { DEDUPE_WINDOW_MS, leadTouchOf, QUALITY_OF, STATUS_RANK, type LeadStatus, type LeadTouch } from "../leads/index.ts";
import type { EventDocument } from "./events.ts";
import { COLLECTIONS, DUPLICATE_KEY, writeErrorsOf } from "./mongo.ts";
import { applyVersioned, type Step } from "./versioned.ts";
import { sessionKey, type SessionDocument } from "./sessions.ts";


interface LeadKey {
  _id: string;
  leadId: string;
  lastAt: Date;
}

export interface LeadDocument {
  _id: string;
  v?: number;
  /** The visitor whose event created the lead: the one whose later touches may update its values. */
  ownerVisitorId?: string;
  /** Ids of the events merged already (the latest 200): a redelivered event changes nothing. */
  seenEventIds?: string[];
  /** Every submission, with its values (the latest 50). */
  submissions?: { at: Date; eventId: string; visitorId: string; formId: string | null; fields: Record<string, string> }[];
  /** Values a later touch from another visitor wanted to change: the owner accepts or dismisses them. */
  conflicts?: LeadConflict[];
  siteId: string;
  email: string;
  status: LeadStatus;
  statusRank: number;
  quality: string;
  fields: Record<string, string>;
  traits?: Record<string, unknown>;
  firstName?: string;
  lastName?: string;
  phone?: string;
  company?: string;
  formIds: string[];
  visitorIds: string[];
  sessionIds: string[];
  utm?: Record<string, string>;
  clickIds?: Record<string, string>;
  referrer?: string;
  landingPage?: string;
  submittedAt?: Date;
  lastInteractionAt: Date;
  createdAt: Date;
  updatedAt: Date;
  /** Set by the owner through the API; it wins over the captured `status`, which the drain keeps upgrading. */
  statusOverride?: { status: string; reason: string; by: string; at: Date };
  notes?: string | null;
  tags?: string[];
  /** Owner edits: who, when, what changed (the latest 500). */
  history?: { at: Date; by: { userId: string; email: string }; changes: { field: string; from: unknown; to: unknown }[]; reason?: string }[];
  userId?: string;
}

/**
 * A dotted update path for a user-chosen name: `.` and `$` would address or operate instead of naming, and an
 * empty name would leave `fields.`, which MongoDB refuses. (The edge refuses such names; this holds without it.)
 */
const fieldPath = (prefix: string, name: string): string => `${prefix}.${name.replace(/[.$]/g, "_").replaceAll("\u0000", "_") || "_"}`;

/**
 * The lead id for (site, email) at time `at`: the current one if seen within the window, else a new one (`created`:
 * no lead document can have that id yet). `read`: the key as read for the whole batch (null: absent), used for the
 * first attempt instead of reading it again. Every write here is conditioned on the key as read, and one that
 * finds the key changed reads it afresh, so a stale `read` costs an attempt, never a wrong lead.
 */
async function resolveLeadId(db: Db, siteId: string, email: string, at: Date, windowMs: number, read?: LeadKey | null): Promise<{ leadId: string; created: boolean }> {
  const keys = db.collection<LeadKey>(COLLECTIONS.leadKeys);
  const _id = `${siteId}|${email}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = attempt === 0 && read !== undefined ? read : await keys.findOne({ _id });
    if (!current) {
      const leadId = randomUUID();
      try {
        await keys.insertOne({ _id, leadId, lastAt: at });
        return { leadId, created: true };
      } catch (err) {
        if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) continue; // another drain created it
        throw err;
      }
    }
    if (current.lastAt.getTime() >= at.getTime() - windowMs) {
      const kept = await keys.updateOne({ _id, leadId: current.leadId }, { $max: { lastAt: at } });
      if (kept.matchedCount === 1) return { leadId: current.leadId, created: false };
      continue; // another drain moved the key on to a new lead since it was read
    }
    // The window has passed: start a new lead, unless another drain already moved the key on.
    const leadId = randomUUID();
    const swapped = await keys.updateOne({ _id, leadId: current.leadId, lastAt: current.lastAt }, { $set: { leadId, lastAt: at } });
    if (swapped.modifiedCount === 1) return { leadId, created: true };
  }
  throw new MongoServerError({ message: `lead key ${_id} kept changing`, code: 112 });
}

/** A lead's first touch in a batch, for `resolveFirstTouches`. */
interface FirstTouch {
  key: string;
  siteId: string;
  email: string;
  at: Date;
  windowMs: number;
}

/**
 * `resolveLeadId` for the first touch of many leads at once, from the keys as read for the batch: the keys to
 * create in one insert, those to keep in one bulk write, those to move on to a new lead in another, each write
 * conditioned as in `resolveLeadId`. A key whose write finds it changed (or, for the conditional updates, any key
 * of a write that did not match them all) is resolved again on its own by `resolveLeadId`, which reads afresh;
 * repeating a kept key's `$max`, or reading a key this batch moved on, is harmless.
 */
async function resolveFirstTouches(db: Db, firsts: FirstTouch[], read: Map<string, LeadKey>): Promise<Map<string, { leadId: string; created: boolean }>> {
  const keys = db.collection<LeadKey>(COLLECTIONS.leadKeys);
  const resolved = new Map<string, { leadId: string; created: boolean }>();
  const again: FirstTouch[] = [];
  const create: { first: FirstTouch; doc: LeadKey }[] = [];
  const keep: { first: FirstTouch; leadId: string }[] = [];
  const move: { first: FirstTouch; current: LeadKey; leadId: string }[] = [];
  for (const first of firsts) {
    const current = read.get(first.key);
    if (!current) create.push({ first, doc: { _id: first.key, leadId: randomUUID(), lastAt: first.at } });
    else if (current.lastAt.getTime() >= first.at.getTime() - first.windowMs) keep.push({ first, leadId: current.leadId });
    else move.push({ first, current, leadId: randomUUID() });
  }
  const writes: Promise<void>[] = [];
  if (create.length) {
    writes.push(
      (async () => {
        let duplicate = new Set<number>();
        try {
          await keys.insertMany(create.map((c) => ({ ...c.doc })), { ordered: false });
        } catch (err) {
          const errors = err instanceof MongoBulkWriteError ? writeErrorsOf(err) : [];
          if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
          duplicate = new Set(errors.map((e) => e.index)); // another drain created those keys
        }
        create.forEach((c, i) => (duplicate.has(i) ? again.push(c.first) : resolved.set(c.first.key, { leadId: c.doc.leadId, created: true })));
      })(),
    );
  }
  const conditional = async <T extends { first: FirstTouch }>(list: T[], op: (t: T) => AnyBulkWriteOperation<LeadKey>, done: (t: T) => void, count: "matchedCount" | "modifiedCount") => {
    if (!list.length) return;
    const result = await keys.bulkWrite(list.map(op), { ordered: false });
    if (result[count] === list.length) list.forEach(done);
    else again.push(...list.map((t) => t.first));
  };
  writes.push(
    conditional(keep, (k) => ({ updateOne: { filter: { _id: k.first.key, leadId: k.leadId }, update: { $max: { lastAt: k.first.at } } } }), (k) => resolved.set(k.first.key, { leadId: k.leadId, created: false }), "matchedCount"),
    conditional(move, (m) => ({ updateOne: { filter: { _id: m.first.key, leadId: m.current.leadId, lastAt: m.current.lastAt }, update: { $set: { leadId: m.leadId, lastAt: m.first.at } } } }), (m) => resolved.set(m.first.key, { leadId: m.leadId, created: true }), "modifiedCount"),
  );
  const settled = await Promise.allSettled(writes);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  for (const first of again) resolved.set(first.key, await resolveLeadId(db, first.siteId, first.email, first.at, first.windowMs));
  return resolved;
}

/** What a later, untrusted touch wanted to change on a lead: kept for the owner to accept or dismiss. */
export interface LeadConflict {
  id: string;
  field: string;
  value: unknown;
  /** The value the lead kept. */
  current: unknown;
  at: Date;
  eventId: string;
  visitorId: string;
}

/** The lead's values a touch may set: its contact fields, and every form field and trait by name. */
function touchValues(touch: LeadTouch): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const key of ["firstName", "lastName", "phone", "company"] as const) if (touch[key]) out.push([key, touch[key]]);
  for (const [name, value] of Object.entries(touch.fields)) if (value !== "") out.push([fieldPath("fields", name), value]);
  for (const [name, value] of Object.entries(touch.traits ?? {})) if (value !== null && value !== "") out.push([fieldPath("traits", name), value]);
  return out;
}

/** Values that differ only in case or surrounding spaces are the same value ("ADA@b.co", " Ada "). */
const sameValue = (a: unknown, b: unknown): boolean =>
  typeof a === "string" && typeof b === "string" ? a.trim().toLowerCase() === b.trim().toLowerCase() : JSON.stringify(a) === JSON.stringify(b);

const valueAt = (doc: Record<string, unknown>, path: string): unknown =>
  path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), doc);

/**
 * What merging one touch into its lead writes (nothing: the event is merged already). The merge rules (README, "Security"): the lead keeps its first values. The visitor whose event created the lead
 * may update them (a person correcting their own form); anyone else only fills what is empty, and a different value
 * becomes a conflict the owner can accept. Every submission is kept in the lead's history with its values.
 */
function leadStep(leadId: string, current: LeadDocument | null, { touch, event, session }: LeadTouchOf): Step<LeadDocument> {
  const at = event.receivedAt;
  const attribution = session?.attribution;
  if (current?.seenEventIds?.includes(event.eventId)) return null; // this event is merged already
  const submission = touch.status === "submitted" ? [{ at, eventId: event.eventId, visitorId: event.visitorId, formId: touch.formId ?? null, fields: touch.fields }] : [];
  if (!current) {
    const doc: Record<string, unknown> = {
      _id: leadId,
      siteId: event.siteId,
      email: touch.email,
      status: touch.status,
      statusRank: STATUS_RANK[touch.status],
      quality: QUALITY_OF[touch.status],
      createdAt: at,
      updatedAt: new Date(),
      lastInteractionAt: at,
      ...(touch.status === "submitted" ? { submittedAt: at } : {}),
      ownerVisitorId: event.visitorId,
      fields: {},
      visitorIds: [event.visitorId],
      sessionIds: [event.sessionId],
      formIds: touch.formId ? [touch.formId] : [],
      seenEventIds: [event.eventId],
      submissions: submission,
      conflicts: [],
      ...(attribution?.utm ? { utm: attribution.utm } : {}),
      ...(attribution?.clickIds ? { clickIds: attribution.clickIds } : {}),
      ...(session?.referrer ? { referrer: session.referrer } : {}),
      ...(session?.landingPage ? { landingPage: session.landingPage } : {}),
    };
    for (const [path, value] of touchValues(touch)) {
      const [head, ...rest] = path.split(".");
      if (rest.length) ((doc[head!] ??= {}) as Record<string, unknown>)[rest.join(".")] = value;
      else doc[head!] = value;
    }
    return { insert: doc as unknown as LeadDocument };
  }
  const trusted = (current.ownerVisitorId ?? current.visitorIds?.[0]) === event.visitorId;
  const set: Record<string, unknown> = { updatedAt: new Date() };
  const conflicts: LeadConflict[] = [];
  for (const [path, value] of touchValues(touch)) {
    const kept = valueAt(current as unknown as Record<string, unknown>, path);
    if (kept === undefined || kept === null || kept === "" || trusted) set[path] = value;
    else if (!sameValue(kept, value)) {
      conflicts.push({ id: randomUUID(), field: path, value, current: kept, at, eventId: event.eventId, visitorId: event.visitorId });
    }
  }
  const upgrade = current.statusRank < STATUS_RANK[touch.status] ? { status: touch.status, statusRank: STATUS_RANK[touch.status], quality: QUALITY_OF[touch.status] } : {};
  return {
    update: {
      $set: { ...set, ...upgrade },
      $max: { lastInteractionAt: at },
      ...(touch.status === "submitted" ? { $min: { submittedAt: at } } : {}),
      $addToSet: { visitorIds: event.visitorId, sessionIds: event.sessionId, ...(touch.formId ? { formIds: touch.formId } : {}) },
      $push: {
        seenEventIds: { $each: [event.eventId], $slice: -200 },
        ...(submission.length ? { submissions: { $each: submission, $slice: -50 } } : {}),
        ...(conflicts.length ? { conflicts: { $each: conflicts, $slice: -100 } } : {}),
      },
    } as never,
  };
}

/** One touch of a lead, with the event it came from and that event's session (for the attribution). */
interface LeadTouchOf {
  touch: LeadTouch;
  event: EventDocument;
  session: SessionDocument | null;
}

/**
 * Merges touches into their leads, one touch per lead (read, decide, write conditioned on the version read; see
 * store/versioned.ts), all in one round of reads and writes. `known`: leads read already (null: known not to exist).
 */
async function mergeIntoLeads(db: Db, touches: Map<string, LeadTouchOf>, known?: Map<string, LeadDocument | null>): Promise<void> {
  await applyVersioned(db.collection<LeadDocument>(COLLECTIONS.leads), touches, (current, t, leadId) => leadStep(leadId, current, t), known);
}

/**
 * `identify` without an email: its traits and user id fill what is empty on the leads this visitor is linked to,
 * and never overwrite (a visitor linked by someone else's submission cannot rewrite a lead this way).
 */
async function linkVisitor(db: Db, event: EventDocument): Promise<string[]> {
  if (!event.traits && !event.userId) return [];
  const leads = db.collection<LeadDocument>(COLLECTIONS.leads);
  const linked = await leads.find({ siteId: event.siteId, visitorIds: event.visitorId }, { projection: { _id: 1 } }).toArray();
  for (const { _id } of linked) {
    await applyVersioned(leads, new Map([[_id, event]]), (current) => {
      if (!current) return null;
      const set: Record<string, unknown> = {};
      if (event.userId && !current.userId) set.userId = event.userId;
      for (const [name, value] of Object.entries(event.traits ?? {})) {
        const path = fieldPath("traits", name);
        const kept = valueAt(current as unknown as Record<string, unknown>, path);
        if ((kept === undefined || kept === null || kept === "") && value !== null && value !== "") set[path] = value;
      }
      return Object.keys(set).length ? { update: { $set: { ...set, updatedAt: new Date() } } as never } : null;
    });
  }
  return linked.map((l) => l._id);
}

/** How many leads are written at once: each lead's events stay in order, different leads need not wait. */
const LEAD_CONCURRENCY = 16;

/**
 * Applies every lead-relevant event to its lead. Safe to repeat. The events of one (site, email) go in time
 * order; different emails go side by side. Identify events without an email (which link traits to a visitor's
 * leads) go last, in time order, once the leads they may touch exist.
 *
 * The first touch of every lead in the batch goes in a few batch-wide reads and writes: the lead keys and the leads
 * they name (read, and the keys resolved, while `sessionsWritten` is still in flight: neither depends on sessions),
 * then, once the sessions are written, the sessions read at once and the touches merged in one versioned round.
 * Later touches of the same lead follow one by one, as each depends on the one before.
 */
export async function applyLeads(db: Db, events: EventDocument[], sessionsWritten: Promise<unknown> = Promise.resolve()): Promise<Set<string>> {
  const touched = new Set<string>();
  const relevant = events
    .filter((e) => e.type === "form_submission" || e.type === "form_interaction" || e.type === "identify")
    .sort((a, b) => a.ts.getTime() - b.ts.getTime());
  if (relevant.length === 0) {
    await sessionsWritten;
    return touched;
  }
  const byLead = new Map<string, { event: EventDocument; touch: LeadTouch }[]>();
  const links: EventDocument[] = [];
  for (const event of relevant) {
    const touch = leadTouchOf(event);
    if (!touch) {
      if (event.type === "identify") links.push(event);
      continue;
    }
    const key = `${event.siteId}|${touch.email}`;
    let list = byLead.get(key);
    if (!list) byLead.set(key, (list = []));
    list.push({ event, touch });
  }

  if (byLead.size === 0) {
    await sessionsWritten;
    for (const event of links) for (const id of await linkVisitor(db, event)) touched.add(id);
    return touched;
  }
  const keysRead = new Map((await db.collection<LeadKey>(COLLECTIONS.leadKeys).find({ _id: { $in: [...byLead.keys()] } }).toArray()).map((k) => [k._id, k]));
  // the leads the keys name, read while the keys are written (they may change meanwhile: their writes are
  // conditioned on what was read); a key this batch moves on names a new lead, which has no document
  const leadsRead = keysRead.size ? db.collection<LeadDocument>(COLLECTIONS.leads).find({ _id: { $in: [...keysRead.values()].map((k) => k.leadId) } }).toArray() : Promise.resolve([]);
  const firsts = [...byLead].map(([key, group]): FirstTouch => {
    const { event, touch } = group[0]!;
    return { key, siteId: event.siteId, email: touch.email, at: event.receivedAt, windowMs: DEDUPE_WINDOW_MS[touch.status] };
  });
  let leadOf: Map<string, { leadId: string; created: boolean }>;
  try {
    leadOf = await resolveFirstTouches(db, firsts, keysRead);
  } finally {
    await leadsRead.catch(() => undefined); // never left running (or unhandled) when the keys fail
  }
  await sessionsWritten;
  const sessionsRead = await db.collection<SessionDocument>(COLLECTIONS.sessions).find({ _id: { $in: [...new Set(relevant.map((e) => sessionKey(e.siteId, e.sessionId)))] } }).toArray();
  const sessionOf = new Map(sessionsRead.map((s) => [s._id, s]));
  const touchOf = (event: EventDocument, touch: LeadTouch): LeadTouchOf => ({ touch, event, session: sessionOf.get(sessionKey(event.siteId, event.sessionId)) ?? null });
  const known = new Map<string, LeadDocument | null>((await leadsRead).map((l) => [l._id, l]));
  const firstTouches = new Map<string, LeadTouchOf>();
  for (const [key, group] of byLead) {
    const { event, touch } = group[0]!;
    const { leadId, created } = leadOf.get(key)!;
    touched.add(leadId);
    // a lead id made just now has no document yet
    if (created) known.set(leadId, null);
    firstTouches.set(leadId, touchOf(event, touch));
  }
  await mergeIntoLeads(db, firstTouches, known);

  const rest = [...byLead.values()].filter((g) => g.length > 1).map((g) => g.slice(1));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rest.length) {
      for (const { event, touch } of rest[next++]!) {
        const { leadId } = await resolveLeadId(db, event.siteId, touch.email, event.receivedAt, DEDUPE_WINDOW_MS[touch.status]);
        touched.add(leadId);
        await mergeIntoLeads(db, new Map([[leadId, touchOf(event, touch)]]));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LEAD_CONCURRENCY, rest.length) }, worker));
  for (const event of links) for (const id of await linkVisitor(db, event)) touched.add(id);
  return touched;
}
