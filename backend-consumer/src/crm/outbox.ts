/**
 * The delivery outbox: one entry per lead with changes not yet delivered everywhere (`want`: the lead version to
 * deliver, coalescing every version still pending). The drain writes it for every lead its events touched, after
 * the lead writes and before the queue message is acked, on every delivery of the message: a crash between the
 * two writes leaves the message unacked, so its redelivery writes the entry (the lead write itself is then a
 * no-op). Delivery workers (worker.ts) lease entries by `_id` and version (`v`), so several backends may run.
 */
import { EventEmitter } from "node:events";
import type { Db } from "mongodb";
import { DUPLICATE_KEY, writeErrorsOf } from "../store/mongo.ts";
import type { LeadDocument } from "../store/leads.ts";
import { COLLECTIONS } from "../store/mongo.ts";

export const LEAD_OUTBOX = "lead_outbox";

/** In-process signal that entries were written: a delivery worker in the same process wakes at once. */
export const outboxSignal = new EventEmitter();

export interface OutboxEntry {
  _id: string;
  siteId: string;
  /** The lead version to deliver (the highest seen). */
  want: number;
  /** Set when the lead was deleted: what a lead.deleted event carries. */
  deleted?: { email: string; at: Date };
  /** Not before: the earliest retry among its destinations, or now. */
  nextAt: Date;
  leaseUntil: Date;
  owner?: string;
  since: Date;
  /** Write version (unique index {_id, v}). */
  v: number;
}

async function upsertEntries(db: Db, entries: { id: string; siteId: string; want: number; deleted?: OutboxEntry["deleted"] }[]): Promise<void> {
  if (entries.length === 0) return;
  const now = new Date();
  const write = () =>
    db.collection<OutboxEntry>(LEAD_OUTBOX).bulkWrite(
      entries.map((e) => ({
        updateOne: {
          filter: { _id: e.id },
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
  try {
    await write();
  } catch (err) {
    // two writers inserting one lead's entry at once: the loser's update applies to the winner's document
    const errors = writeErrorsOf(err);
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    await write();
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
