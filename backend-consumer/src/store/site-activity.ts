/**
 * When each site last sent events, for the dashboard's "check installation": one small document per site, with
 * the latest receipt time and the event counts of its most recent batches. An installation check, not a metric:
 * a redelivered batch counts again, which only ever says "yes, events arrive".
 */
import type { Db } from "mongodb";
import type { EventDocument } from "./events.ts";
import { DUPLICATE_KEY, writeErrorsOf } from "./mongo.ts";

export const SITE_ACTIVITY = "site_activity";
/** Recent batches kept per site: enough to count a busy site's last 15 minutes roughly, a quiet one's exactly. */
const RECENT_KEPT = 200;

export interface SiteActivityDocument {
  _id: string;
  lastEventAt: Date;
  recent: { at: Date; n: number }[];
}

export async function recordSiteActivity(db: Db, stored: EventDocument[]): Promise<void> {
  const bySite = new Map<string, { at: Date; n: number }>();
  for (const e of stored) {
    const seen = bySite.get(e.siteId);
    if (!seen) bySite.set(e.siteId, { at: e.receivedAt, n: 1 });
    else {
      seen.n++;
      if (e.receivedAt > seen.at) seen.at = e.receivedAt;
    }
  }
  if (bySite.size === 0) return;
  const write = () =>
    db.collection<SiteActivityDocument>(SITE_ACTIVITY).bulkWrite(
      [...bySite].map(([siteId, { at, n }]) => ({
        updateOne: {
          filter: { _id: siteId },
          update: { $max: { lastEventAt: at }, $push: { recent: { $each: [{ at, n }], $slice: -RECENT_KEPT } } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  try {
    await write();
  } catch (err) {
    // two drains creating a site's document at once: the loser updates the winner's. Anything else is not worth
    // failing a batch of stored events for: this is a signal, not data.
    const errors = writeErrorsOf(err);
    if (errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY)) await write().catch(() => undefined);
  }
}

/** Whether a site's events arrived lately: the last receipt time and the events received in the last `windowMs`. */
export async function siteActivity(db: Db, siteId: string, windowMs = 15 * 60_000, now = Date.now()): Promise<{ lastEventAt: Date | null; recentEvents: number }> {
  const doc = await db.collection<SiteActivityDocument>(SITE_ACTIVITY).findOne({ _id: siteId });
  if (!doc) return { lastEventAt: null, recentEvents: 0 };
  const since = now - windowMs;
  return { lastEventAt: doc.lastEventAt, recentEvents: doc.recent.filter((r) => r.at.getTime() >= since).reduce((a, r) => a + r.n, 0) };
}
