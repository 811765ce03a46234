/**
 * Suppression: after a person is erased (and their location keeps suppression on), a keyed hash of their email and
 * of each of their visitor ids is kept per site, and the drain checks new events against it: an event of a
 * suppressed visitor is not stored at all, and an event carrying a suppressed email is stored without its form
 * values, traits or user id, so no lead is made again. Entries hold hashes only and can be removed.
 */
import type { Db } from "mongodb";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { leadTouchOf } from "../leads/rules.ts";
import { subjectHash } from "./subject.ts";

export const SUPPRESSIONS = "suppressions";

export interface SuppressionDocument {
  /** `<siteId>|<subject hash>` */
  _id: string;
  siteId: string;
  locationId: string;
  hash: string;
  /** The erase that made it. */
  receiptId: string;
  at: Date;
}

export const suppressionId = (siteId: string, hash: string): string => `${siteId}|${hash}`;

export async function addSuppressions(db: Db, docs: SuppressionDocument[]): Promise<void> {
  if (docs.length === 0) return;
  await db.collection<SuppressionDocument>(SUPPRESSIONS).bulkWrite(
    docs.map((d) => ({ updateOne: { filter: { _id: d._id }, update: { $setOnInsert: d }, upsert: true } })),
    { ordered: false },
  );
}

/**
 * The drain's check. `emptyForMs`: an empty collection is remembered this long, so a tracker without
 * suppressions pays one count per interval, not a query per batch (an erase re-sweeps after twice this).
 */
export class SuppressionFilter {
  readonly #db: Db;
  readonly #key: Buffer;
  readonly #emptyForMs: number;
  #emptyUntil = 0;

  constructor(db: Db, key: Buffer, emptyForMs = 1_000) {
    this.#db = db;
    this.#key = key;
    this.#emptyForMs = emptyForMs;
  }

  get settleMs(): number {
    return this.#emptyForMs * 2;
  }

  /**
   * The messages with suppressed people's events removed or stripped; a message left with no event is null.
   * Throws if MongoDB cannot answer (the batch is then retried, never stored unchecked).
   */
  async apply(messages: QueueMessage[]): Promise<(QueueMessage | null)[]> {
    if (Date.now() < this.#emptyUntil) return messages;
    const col = this.#db.collection<SuppressionDocument>(SUPPRESSIONS);
    const hashOf = new Map<string, string>();
    const idOf = (siteId: string, kind: "email" | "visitor", value: string): string => {
      const memo = `${siteId}\u0000${kind}\u0000${value}`;
      let id = hashOf.get(memo);
      if (!id) hashOf.set(memo, (id = suppressionId(siteId, subjectHash(this.#key, { kind, value }))));
      return id;
    };
    const candidates = new Set<string>();
    for (const m of messages) {
      for (const e of m.events) {
        candidates.add(idOf(m.siteId, "visitor", e.visitorId));
        const touch = leadTouchOf(e);
        if (touch) candidates.add(idOf(m.siteId, "email", touch.email));
      }
    }
    if (candidates.size === 0) return messages;
    const found = await col.find({ _id: { $in: [...candidates] } }, { projection: { _id: 1 } }).toArray();
    if (found.length === 0) {
      if ((await col.estimatedDocumentCount()) === 0) this.#emptyUntil = Date.now() + this.#emptyForMs;
      return messages;
    }
    const suppressed = new Set(found.map((d) => d._id));
    return messages.map((m) => {
      const events: TrackerEvent[] = [];
      for (const e of m.events) {
        if (suppressed.has(idOf(m.siteId, "visitor", e.visitorId))) continue;
        const touch = leadTouchOf(e);
        events.push(touch && suppressed.has(idOf(m.siteId, "email", touch.email)) ? stripPersonal(e) : e);
      }
      return events.length ? { ...m, events } : null;
    });
  }
}

/** The event without what identifies a person: form values, traits, user id. */
function stripPersonal(e: TrackerEvent): TrackerEvent {
  const { traits: _traits, userId: _userId, ...rest } = e;
  return rest.form ? { ...rest, form: { ...rest.form, fields: {} } } : rest;
}
