/**
 * The delivery outbox: one entry per lead with changes not yet delivered everywhere (`want`: the lead version to
 * deliver, coalescing every version still pending). The drain writes it for every lead its events touched, after
 * the lead writes and before the queue message is acked, on every delivery of the message: a crash between the
 * two writes leaves the message unacked, so its redelivery writes the entry (the lead write itself is then a
 * no-op). Delivery workers (worker.ts) lease entries by `_id` and version (`v`), so several backends may run.
 *
 * Deletions: a plain delete (DELETE /v1/leads/:id) keeps the email on the entry for the lead.deleted that the
 * destinations taking deletions get. An erasure (privacy) keeps nothing about the person: `deleted: { erased: true }`;
 * the worker erases the person from every destination that holds the lead (delivery_status) and then removes the
 * lead's delivery_status documents and the entry. An erasure is never turned back into a plain delete.
 */
import { EventEmitter } from "node:events";
import type { Db } from "mongodb";
import { DUPLICATE_KEY, writeErrorsOf } from "../store/mongo.ts";
import type { LeadDocument } from "../store/leads.ts";
import { COLLECTIONS } from "../store/mongo.ts";

export const LEAD_OUTBOX = "lead_outbox";
/** Per lead and destination: what was delivered (worker.ts owns it; here for the erasure's scrub). */
export const DELIVERY_STATUS = "delivery_status";

/** In-process signal that entries were written: a delivery worker in the same process wakes at once. */
export const outboxSignal = new EventEmitter();

export interface OutboxEntry {
  _id: string;
  siteId: string;
  /** The lead version to deliver (the highest seen). */
  want: number;
  /**
   * Set when the lead was deleted: what a lead.deleted event carries. A plain delete keeps the email; an erasure
   * (`erased: true`) keeps no personal data at all.
   */
  deleted?: { email?: string; erased?: true; at: Date };
  /** Not before: the earliest retry among its destinations, or now. */
  nextAt: Date;
  leaseUntil: Date;
  owner?: string;
  since: Date;
  /** Write version (unique index {_id, v}). */
  v: number;
}

/** Whether an entry is an erasure. */
export const isErasure = (entry: Pick<OutboxEntry, "deleted">): boolean => entry.deleted?.erased === true;

async function upsertEntries(db: Db, entries: { id: string; siteId: string; want: number; deleted?: OutboxEntry["deleted"] }[]): Promise<void> {
  if (entries.length === 0) return;
  const now = new Date();
  // a plain delete must not put an email back on an erased lead's entry: it matches only entries not erased, and
  // on an erased one its upsert fails as a duplicate key (below), which leaves the erasure as it is
  const plainDelete = (e: (typeof entries)[number]) => Boolean(e.deleted && !e.deleted.erased);
  const write = () =>
    db.collection<OutboxEntry>(LEAD_OUTBOX).bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: plainDelete(e) ? { _id: e.id, "deleted.erased": { $ne: true } } : { _id: e.id },
          update: {
            $max: { want: e.want },
            $min: { nextAt: now },
            $inc: { v: 1 },
            $setOnInsert: { siteId: e.siteId, since: now, leaseUntil: new Date(0) },
            ...(e.deleted ? { $set: { deleted: e.deleted } } : {}),
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  const onlyErased = async (err: unknown): Promise<boolean> => {
    const errors = writeErrorsOf(err);
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY || !plainDelete(entries[e.index]!))) return false;
    const ids = errors.map((e) => entries[e.index]!.id);
    return (await db.collection<OutboxEntry>(LEAD_OUTBOX).countDocuments({ _id: { $in: ids }, "deleted.erased": true })) === ids.length;
  };
  try {
    await write();
  } catch (err) {
    // two writers inserting one lead's entry at once: the loser's update applies to the winner's document
    const errors = writeErrorsOf(err);
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    if (!(await onlyErased(err))) {
      try {
        await write();
      } catch (again) {
        if (!(await onlyErased(again))) throw again;
      }
    }
  }
  outboxSignal.emit("queued");
}

/** Puts these leads' current versions into the outbox (idempotent; called by the drain after its lead writes). */
export async function enqueueLeads(db: Db, leadIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(leadIds)];
  if (ids.length === 0) return;
  const leads = await db
    .collection<LeadDocument>(COLLECTIONS.leads)
    .find({ _id: { $in: ids } }, { projection: { _id: 1, siteId: 1, v: 1 } })
    .toArray();
  await upsertEntries(db, leads.map((l) => ({ id: l._id, siteId: l.siteId, want: (l as { v?: number }).v ?? 1 })));
}

/** A deleted lead: destinations that take deletions get lead.deleted. */
export async function enqueueDeletedLead(db: Db, lead: Pick<LeadDocument, "_id" | "siteId" | "email"> & { v?: number }): Promise<void> {
  await upsertEntries(db, [{ id: lead._id, siteId: lead.siteId, want: (lead.v ?? 1) + 1, deleted: { email: lead.email, at: new Date() } }]);
}

/**
 * An erased lead (privacy): the worker erases the person from every destination of the site that holds the lead
 * (HubSpot GDPR delete, HighLevel contact delete, a webhook's lead.deleted with `erased: true`) and, once the lead
 * document is gone too, removes the lead's delivery_status documents and this entry. Until then the entry stays an
 * erasure: changes the drain makes to the lead meanwhile are not delivered (so it may be called before the lead is
 * removed, and must be followed by its removal).
 * Nothing about the person is stored on the entry (no email: the destinations are addressed by the contact ids in
 * delivery_status), and the error texts already on the lead's delivery_status documents, which a CRM may have
 * filled with the contact's values, are blanked now. Idempotent: calling it again changes nothing but the time, and
 * it overrides a plain delete pending for the same lead (its email is dropped).
 */
export async function enqueueErasedLead(db: Db, lead: { _id: string; siteId: string; v?: number }): Promise<void> {
  await db.collection(DELIVERY_STATUS).updateMany({ leadId: lead._id, lastError: { $ne: null } }, { $set: { lastError: null } });
  await upsertEntries(db, [{ id: lead._id, siteId: lead.siteId, want: (lead.v ?? 1) + 1, deleted: { erased: true, at: new Date() } }]);
}

/** The leads among `leadIds` whose erasure has not settled yet (their outbox entry is still there). */
export async function pendingErasures(db: Db, leadIds: Iterable<string>): Promise<string[]> {
  const ids = [...new Set(leadIds)];
  if (ids.length === 0) return [];
  const left = await db.collection<OutboxEntry>(LEAD_OUTBOX).find({ _id: { $in: ids }, "deleted.erased": true }, { projection: { _id: 1 } }).toArray();
  return left.map((e) => e._id);
}
