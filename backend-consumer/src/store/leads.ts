/**
 * Leads: one per (site, normalised email) within the dedupe window of the incoming event (24 h for submissions,
 * 7 days for partials). Which lead an event belongs to is decided by compare-and-swap on a `lead_keys` document
 * per (site, email), so two drains handling the same email at once never create two leads. Every lead write is
 * idempotent ($set, $max, $min, $addToSet and a conditional status upgrade), so redelivered events change nothing.
 */
import { randomUUID } from "node:crypto";
import { MongoServerError, type Db } from "mongodb";
import { DEDUPE_WINDOW_MS, leadTouchOf, QUALITY_OF, STATUS_RANK, type LeadStatus, type LeadTouch } from "../leads/index.ts";
import type { EventDocument } from "./events.ts";
import { COLLECTIONS, DUPLICATE_KEY } from "./mongo.ts";
import { sessionKey, type SessionDocument } from "./sessions.ts";


interface LeadKey {
  _id: string;
  leadId: string;
  lastAt: Date;
}

export interface LeadDocument {
  _id: string;
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

/** The lead id for (site, email) at time `at`: the current one if seen within the window, else a new one. */
async function resolveLeadId(db: Db, siteId: string, email: string, at: Date, windowMs: number): Promise<string> {
  const keys = db.collection<LeadKey>(COLLECTIONS.leadKeys);
  const _id = `${siteId}|${email}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await keys.findOne({ _id });
    if (!current) {
      const leadId = randomUUID();
      try {
        await keys.insertOne({ _id, leadId, lastAt: at });
        return leadId;
      } catch (err) {
        if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) continue; // another drain created it
        throw err;
      }
    }
    if (current.lastAt.getTime() >= at.getTime() - windowMs) {
      await keys.updateOne({ _id, leadId: current.leadId }, { $max: { lastAt: at } });
      return current.leadId;
    }
    // The window has passed: start a new lead, unless another drain already moved the key on.
    const leadId = randomUUID();
    const swapped = await keys.updateOne({ _id, leadId: current.leadId, lastAt: current.lastAt }, { $set: { leadId, lastAt: at } });
    if (swapped.modifiedCount === 1) return leadId;
  }
  throw new MongoServerError({ message: `lead key ${_id} kept changing`, code: 112 });
}

async function mergeIntoLead(db: Db, leadId: string, touch: LeadTouch, event: EventDocument, session: SessionDocument | null): Promise<void> {
  const leads = db.collection<LeadDocument>(COLLECTIONS.leads);
  const at = event.receivedAt;
  const set: Record<string, unknown> = { updatedAt: new Date() };
  for (const [name, value] of Object.entries(touch.fields)) if (value !== "") set[fieldPath("fields", name)] = value;
  for (const [name, value] of Object.entries(touch.traits ?? {})) set[fieldPath("traits", name)] = value;
  for (const key of ["firstName", "lastName", "phone", "company"] as const) if (touch[key]) set[key] = touch[key];
  const attribution = session?.attribution;
  await leads.updateOne(
    { _id: leadId },
    {
      $setOnInsert: {
        siteId: event.siteId,
        email: touch.email,
        status: touch.status,
        statusRank: STATUS_RANK[touch.status],
        quality: QUALITY_OF[touch.status],
        createdAt: at,
        ...(attribution?.utm ? { utm: attribution.utm } : {}),
        ...(attribution?.clickIds ? { clickIds: attribution.clickIds } : {}),
        ...(session?.referrer ? { referrer: session.referrer } : {}),
        ...(session?.landingPage ? { landingPage: session.landingPage } : {}),
      },
      $set: set,
      $max: { lastInteractionAt: at },
      ...(touch.status === "submitted" ? { $min: { submittedAt: at } } : {}),
      $addToSet: {
        visitorIds: event.visitorId,
        sessionIds: event.sessionId,
        ...(touch.formId ? { formIds: touch.formId } : {}),
      },
    },
    { upsert: true },
  );
  // Upgrade only: a partial after a submission leaves the lead submitted. Compare-and-set on the rank read, so a
  // concurrent downgrade can never win (and the filter names exactly the keys of a unique index).
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await leads.findOne({ _id: leadId }, { projection: { statusRank: 1 } });
    if (!current || current.statusRank >= STATUS_RANK[touch.status]) return;
    const res = await leads.updateOne(
      { _id: leadId, statusRank: current.statusRank },
      { $set: { status: touch.status, statusRank: STATUS_RANK[touch.status], quality: QUALITY_OF[touch.status] } },
    );
    if (res.modifiedCount === 1) return;
  }
}

/** `identify` without an email links traits to the leads this visitor already has. */
async function linkVisitor(db: Db, event: EventDocument): Promise<void> {
  if (!event.traits && !event.userId) return;
  const set: Record<string, unknown> = { updatedAt: new Date() };
  if (event.userId) set.userId = event.userId;
  for (const [name, value] of Object.entries(event.traits ?? {})) set[fieldPath("traits", name)] = value;
  await db.collection<LeadDocument>(COLLECTIONS.leads).updateMany({ siteId: event.siteId, visitorIds: event.visitorId }, { $set: set });
}

/** How many leads are written at once: each lead's events stay in order, different leads need not wait. */
const LEAD_CONCURRENCY = 16;

/**
 * Applies every lead-relevant event to its lead. Safe to repeat. The events of one (site, email) go in time
 * order; different emails go side by side. Identify events without an email (which link traits to a visitor's
 * leads) go last, in time order, once the leads they may touch exist.
 */
export async function applyLeads(db: Db, events: EventDocument[]): Promise<void> {
  const relevant = events
    .filter((e) => e.type === "form_submission" || e.type === "form_interaction" || e.type === "identify")
    .sort((a, b) => a.ts.getTime() - b.ts.getTime());
  if (relevant.length === 0) return;
  const sessions = db.collection<SessionDocument>(COLLECTIONS.sessions);
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
  const groups = [...byLead.values()];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      for (const { event, touch } of groups[next++]!) {
        const leadId = await resolveLeadId(db, event.siteId, touch.email, event.receivedAt, DEDUPE_WINDOW_MS[touch.status]);
        const session = await sessions.findOne({ _id: sessionKey(event.siteId, event.sessionId) });
        await mergeIntoLead(db, leadId, touch, event, session);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LEAD_CONCURRENCY, groups.length) }, worker));
  for (const event of links) await linkVisitor(db, event);
}
