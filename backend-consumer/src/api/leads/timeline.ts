/**
 * A lead's timeline: the events of its visitors and sessions on its site, oldest first (page views with the time
 * spent on them, form interactions, submissions, identify), paginated by a keyset cursor on (time, event id).
 */
import type { Collection, Db, Filter } from "mongodb";
import { z } from "zod";
import type { EventDocument } from "../../store/events.ts";
import type { LeadDocument } from "../../store/leads.ts";
import { COLLECTIONS } from "../../store/mongo.ts";

const SHOWN = ["page_view", "form_interaction", "form_submission", "identify", "track"] as const;

export const timelineItemSchema = z.object({
  id: z.string(),
  type: z.string(),
  at: z.iso.datetime(),
  sessionId: z.string(),
  page: z.object({ url: z.string(), title: z.string().optional() }).nullable(),
  timeOnPageMs: z.number().optional().describe("page_view only: the visible time spent on the page (sum of its engagement reports), ms."),
  form: z.object({ formId: z.string(), name: z.string().optional(), fields: z.record(z.string(), z.string()) }).optional(),
  name: z.string().optional(),
});
export type TimelineItem = z.infer<typeof timelineItemSchema>;

/** The page of the timeline after `cursor`; null when the cursor is not one of this lead's. */
export async function leadTimeline(db: Db, lead: LeadDocument, opts: { cursor?: string; limit: number }): Promise<{ items: TimelineItem[]; nextCursor: string | null } | null> {
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const who: Filter<EventDocument> = { siteId: lead.siteId, $or: [{ visitorId: { $in: lead.visitorIds ?? [] } }, { sessionId: { $in: lead.sessionIds ?? [] } }] };
  let filter: Filter<EventDocument> = { ...who, type: { $in: [...SHOWN] } };
  if (opts.cursor) {
    const at = decode(opts.cursor, lead._id);
    if (!at) return null;
    filter = { $and: [filter, { $or: [{ ts: { $gt: at.ts } }, { ts: at.ts, eventId: { $gt: at.id } }] }] };
  }
  const rows = await events.find(filter).sort({ ts: 1, eventId: 1 }).limit(opts.limit + 1).toArray();
  const page = rows.slice(0, opts.limit);
  const views = page.filter((e) => e.type === "page_view");
  const spent = views.length ? await timeOnPage(events, who, views) : new Map<string, number>();
  const items = page.map((e): TimelineItem => ({
    id: e.eventId,
    type: e.type,
    at: e.ts.toISOString(),
    sessionId: e.sessionId,
    page: e.page ? { url: e.page.url, ...(e.page.title ? { title: e.page.title } : {}) } : null,
    ...(e.type === "page_view" ? { timeOnPageMs: spent.get(e.eventId) ?? 0 } : {}),
    ...(e.form ? { form: { formId: e.form.formId, ...(e.form.name ? { name: e.form.name } : {}), fields: e.form.fields } } : {}),
    ...(e.name ? { name: e.name } : {}),
  }));
  const last = page.at(-1);
  return { items, nextCursor: rows.length > opts.limit && last ? encode(lead._id, last) : null };
}

/**
 * Engagement reports carry the visible time since the previous report on the same page, so a page view's time
 * on page is the sum of the reports for its URL in its session until the session's next page view.
 */
async function timeOnPage(events: Collection<EventDocument>, who: Filter<EventDocument>, views: EventDocument[]): Promise<Map<string, number>> {
  const sessions = [...new Set(views.map((v) => v.sessionId))];
  const from = views[0]!.ts;
  const [allViews, reports] = await Promise.all([
    events.find({ $and: [who, { sessionId: { $in: sessions }, type: "page_view", ts: { $gte: from } }] }).sort({ ts: 1 }).toArray(),
    events.find({ $and: [who, { sessionId: { $in: sessions }, type: "engagement", ts: { $gte: from } }] }).toArray(),
  ]);
  const spent = new Map<string, number>();
  for (const r of reports) {
    const ms = Number((r.props as { engagedMs?: unknown } | undefined)?.engagedMs);
    if (!Number.isFinite(ms) || ms <= 0) continue;
    // the latest view of the same URL in the session at or before the report
    let owner: EventDocument | undefined;
    for (const v of allViews) {
      if (v.sessionId !== r.sessionId || v.ts > r.ts) continue;
      if (v.page?.url === r.page?.url) owner = v;
    }
    if (owner) spent.set(owner.eventId, (spent.get(owner.eventId) ?? 0) + Math.min(ms, 3_600_000));
  }
  return spent;
}

function encode(leadId: string, last: EventDocument): string {
  return Buffer.from(JSON.stringify({ l: leadId, t: last.ts.getTime(), i: last.eventId })).toString("base64url");
}

function decode(cursor: string, leadId: string): { ts: Date; id: string } | null {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { l: string; t: number; i: string };
    return c.l === leadId && typeof c.t === "number" && typeof c.i === "string" ? { ts: new Date(c.t), id: c.i } : null;
  } catch {
    return null;
  }
}
