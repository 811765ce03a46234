/**
 * One user's activity (`GET /v1/activity/users/:userId`): totals, top pages by time, and the sessions timeline, read
 * from that user's day documents (activity/store.ts; one per local day, found by exact `_id`). The caller's scope
 * applies as in the query: a location user sees only itself, a session narrowed to a location only that location's
 * activity; anyone else's user is a 404, never an empty page that would confirm it exists.
 */
import { and, eq } from "drizzle-orm";
import { users } from "../config/schema.ts";
import type { Principal } from "../api/scope.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { dayDocId, type Cell, type View } from "./days.ts";
import { daysBetween, names, visible, type ActivityReadDeps } from "./query.ts";
import { findByIds, type ActivityDayDocument } from "./store.ts";

export const TOP_PAGES = 20;
export const MAX_SESSIONS = 50;

export interface UserActivity {
  user: { id: string; name: string | null; email: string; role: "agency" | "location" };
  totals: { sessions: number; page_views: number; time_spent: number; active_days: number; last_seen: string | null };
  pages: { page: string; views: number; time_spent: number }[];
  sessions: {
    id: string;
    start: string;
    end: string;
    location: { id: string; name: string };
    page_views: number;
    time_spent: number;
    pages: { page: string; path: string; at: string; time_spent: number }[];
  }[];
}

/** The user is not one the caller may see. */
export class UserNotVisible extends Error {
  override readonly name = "UserNotVisible";
}

/** Whether `principal` may see `userId` at all: itself, or (agency) a user of its tenant. */
async function mayView(deps: ActivityReadDeps, p: Principal, userId: string): Promise<{ name: string | null; email: string; role: "agency" | "location" } | null> {
  if (p.role === "location" && userId !== p.userId) return null;
  if (!deps.configDb) return { name: null, email: p.userId === userId ? p.email : "", role: p.userId === userId ? p.role : "location" };
  const [row] = await deps.configDb.select({ name: users.name, email: users.email, role: users.role }).from(users).where(and(eq(users.id, userId), eq(users.tenantId, p.tenantId))).limit(1);
  return row ? { name: row.name ?? null, email: row.email, role: row.role } : null;
}

const seconds = (ms: number): number => Math.round(ms / 1000);

/** The activity of `userId` from `from` to `to` (local days) as `principal` may see it; UserNotVisible otherwise. */
export async function userActivity(deps: ActivityReadDeps, principal: Principal, userId: string, range: { from: string; to: string }): Promise<UserActivity> {
  const who = await mayView(deps, principal, userId);
  if (!who) throw new UserNotVisible(userId);
  const ids = daysBetween(range.from, range.to).map((d) => dayDocId(principal.tenantId, userId, d));
  const docs = await findByIds<ActivityDayDocument>(deps.db, COLLECTIONS.activityDays, ids, { day: 1, cells: 1, views: 1 });
  const cells: (Cell & { day: string })[] = [];
  const views: View[] = [];
  for (const d of docs) {
    for (const c of d.cells) if (visible(principal, { user: userId, loc: c.loc })) cells.push({ ...c, day: d.day });
    for (const v of d.views) if (visible(principal, { user: userId, loc: v.loc })) views.push(v);
  }
  const sessions = new Set(cells.flatMap((c) => c.s));
  const days = new Set(cells.map((c) => c.day));
  const last = Math.max(0, ...cells.map((c) => c.z));
  const byPage = new Map<string, { views: number; ms: number }>();
  for (const c of cells) {
    const p = byPage.get(c.page) ?? { views: 0, ms: 0 };
    byPage.set(c.page, { views: p.views + c.pv, ms: p.ms + c.ms });
  }
  const pages = [...byPage]
    .sort((a, b) => b[1].ms - a[1].ms || b[1].views - a[1].views || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_PAGES)
    .map(([page, p]) => ({ page, views: p.views, time_spent: seconds(p.ms) }));
  const timeline = timelineOf(views);
  const meta = await names(deps, principal.tenantId, [], timeline.map((s) => s.loc));
  return {
    user: { id: userId, ...who },
    totals: {
      sessions: sessions.size,
      page_views: cells.reduce((n, c) => n + c.pv, 0),
      time_spent: seconds(cells.reduce((n, c) => n + c.ms, 0)),
      active_days: days.size,
      last_seen: last ? new Date(last).toISOString() : null,
    },
    pages,
    sessions: timeline.map((s) => ({ ...s.out, location: { id: s.loc, name: meta.locations[s.loc]?.name ?? s.loc } })),
  };
}

/** Views grouped by session (a session may span two local days), newest first, at most MAX_SESSIONS. */
function timelineOf(views: View[]): { loc: string; out: Omit<UserActivity["sessions"][number], "location"> }[] {
  const bySession = new Map<string, View[]>();
  for (const v of views) {
    const list = bySession.get(v.s) ?? [];
    list.push(v);
    bySession.set(v.s, list);
  }
  const out = [...bySession].map(([id, vs]) => {
    vs.sort((a, b) => a.at - b.at || (a.w < b.w ? -1 : 1));
    const start = vs[0]!.at;
    const end = Math.max(...vs.map((v) => v.z));
    return {
      loc: vs[0]!.loc,
      out: {
        id,
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
        page_views: vs.reduce((n, v) => n + v.pv, 0),
        time_spent: seconds(vs.reduce((n, v) => n + v.ms, 0)),
        pages: vs.map((v) => ({ page: v.page, path: v.path, at: new Date(v.at).toISOString(), time_spent: seconds(v.ms) })),
      },
    };
  });
  return out.sort((a, b) => (a.out.start < b.out.start ? 1 : a.out.start > b.out.start ? -1 : 0)).slice(0, MAX_SESSIONS);
}
