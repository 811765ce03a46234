/**
 * Weeks of team activity for the demo tenant, so the dashboard's "Team activity" has people to show: agency staff
 * working across both locations and each location's own users, on weekdays mostly, in sessions of a few CRM pages
 * each with believable dwell times. Generated deterministically (seeded PRNG) as activity queue messages, one per
 * session, for actors that the caller got from the backend's real token exchange (so users are provisioned as a
 * real sign-in would): `npm start` puts them on the local queue, and the drain and rollups handle them as live
 * activity. Paths go through the same normalisation and page names as the Custom JS.
 */
import type { ActivityEvent, ActivityQueueMessage, Actor } from "#contracts";
import { normalisePath, pageName } from "../../contracts/activity-path.ts";
import { pick, prng } from "../testing/prng.ts";

/** A CRM user as the CRM's session details describe them (what exposeSessionDetails would answer). */
export interface CrmUser {
  userId: string;
  companyId: string;
  role: "admin" | "user";
  type: "agency" | "location";
  userName: string;
  email: string;
  activeLocation?: string;
  /** Sessions on an average weekday. */
  sessionsPerDay: number;
}

/** Raw CRM URLs (as the browser has them, ids and all) a user of a location opens, with how often. */
const LOCATION_ROUTES: [string, number][] = [
  ["/v2/location/{loc}/dashboard", 10],
  ["/v2/location/{loc}/conversations/conversations/{id}", 26],
  ["/v2/location/{loc}/contacts/smart_list/All", 12],
  ["/v2/location/{loc}/contacts/detail/{id}", 22],
  ["/v2/location/{loc}/opportunities/list", 12],
  ["/v2/location/{loc}/calendars/view", 8],
  ["/v2/location/{loc}/settings/company", 3],
  ["/v2/location/{loc}/marketing/social-planner", 4],
  ["/v2/location/{loc}/automation/workflows", 3],
];
const AGENCY_ROUTES: [string, number][] = [
  ["/agency_dashboard", 10],
  ["/accounts", 6],
  ["/settings/team", 2],
];

const opaque = (rand: () => number): string =>
  Array.from({ length: 20 }, () => "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"[Math.floor(rand() * 58)]).join("");

export interface DemoActor {
  actor: Actor;
  /** The CRM's location id, for the URLs (absent: agency-level pages). */
  crmLocationId?: string;
  sessionsPerDay: number;
}

/** One message per session over the `days` days before `now` (sessions of today only up to an hour ago). */
export function demoActivity(actors: DemoActor[], opts: { days: number; now: number; seed?: number }): ActivityQueueMessage[] {
  const rand = prng(opts.seed ?? 20261130);
  const out: ActivityQueueMessage[] = [];
  const dayMs = 86_400_000;
  const start = Math.floor(opts.now / dayMs) * dayMs - opts.days * dayMs;
  let n = 0;
  const id = (): string => `demo-${(++n).toString(36)}-${opaque(rand).slice(0, 10)}`;
  for (const { actor, crmLocationId, sessionsPerDay } of actors) {
    for (let d = 0; d <= opts.days; d++) {
      const dayStart = start + d * dayMs;
      const weekday = new Date(dayStart).getUTCDay();
      const rate = weekday === 0 || weekday === 6 ? sessionsPerDay * 0.15 : sessionsPerDay;
      const sessions = Math.floor(rate + rand());
      for (let s = 0; s < sessions; s++) {
        // working hours, 8:00-18:00 UTC-ish
        let t = dayStart + (8 + rand() * 10) * 3_600_000;
        if (t > opts.now - 3_600_000) continue;
        const session = id();
        const events: ActivityEvent[] = [];
        const views = 3 + Math.floor(rand() * 9);
        for (let v = 0; v < views; v++) {
          const raw = crmLocationId ? pick(rand, LOCATION_ROUTES).replace("{loc}", crmLocationId).replace("{id}", opaque(rand)) : pick(rand, AGENCY_ROUTES);
          const path = normalisePath(raw);
          const page = pageName(path);
          const view = id();
          events.push({ type: "view", id: id(), ts: Math.round(t), session, view, path, page });
          // dwell: mostly short, sometimes long; active time a share of it
          const dwell = 15_000 + rand() ** 2 * 600_000;
          const active = Math.max(1000, Math.round(dwell * (0.6 + rand() * 0.4)));
          t += dwell;
          events.push({ type: "time", id: id(), ts: Math.round(t), session, view, path, page, ms: Math.min(active, 3_600_000) });
          t += 1000 + rand() * 4000;
        }
        for (let i = 0; i < events.length; i += 50) {
          const chunk = events.slice(i, i + 50);
          out.push({ v: 1, kind: "activity", receivedAt: chunk.at(-1)!.ts + 1500, actor, events: chunk });
        }
      }
    }
  }
  return out;
}

/** The demo tenant's CRM users beyond the stand-in's two (their CRM ids and names as the CRM would send them). */
export function demoCrmUsers(ids: { companyId: string; location1: string; location2: string; agencyEmail: string; locationEmail: string }): CrmUser[] {
  const { companyId, location1, location2 } = ids;
  return [
    { userId: "crm-demo-agency-admin", companyId, role: "admin", type: "agency", userName: "Avery Agency", email: ids.agencyEmail, sessionsPerDay: 1.2 },
    { userId: "crm-demo-agency-admin", companyId, role: "admin", type: "agency", userName: "Avery Agency", email: ids.agencyEmail, activeLocation: location1, sessionsPerDay: 0.8 },
    { userId: "crm-demo-agency-ops", companyId, role: "user", type: "agency", userName: "Morgan Ops", email: "morgan.ops@demo.test", activeLocation: location2, sessionsPerDay: 1.5 },
    { userId: "crm-demo-location-user", companyId, role: "user", type: "location", userName: "Lee Location", email: ids.locationEmail, activeLocation: location1, sessionsPerDay: 2.5 },
    { userId: "crm-demo-acme-dispatch", companyId, role: "user", type: "location", userName: "Sam Dispatch", email: "sam.dispatch@demo.test", activeLocation: location1, sessionsPerDay: 3 },
    { userId: "crm-demo-dental-front", companyId, role: "user", type: "location", userName: "Dana Frontdesk", email: "dana.frontdesk@demo.test", activeLocation: location2, sessionsPerDay: 3.5 },
    { userId: "crm-demo-dental-owner", companyId, role: "admin", type: "location", userName: "Riley Owner", email: "riley.owner@demo.test", activeLocation: location2, sessionsPerDay: 0.7 },
  ];
}
