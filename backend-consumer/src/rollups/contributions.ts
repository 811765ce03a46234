/**
 * What one message's events, or one finished visit, add to the rollups: counters to increment and visitor sketch
 * registers to raise, per rollup document. Pure; rollups/store.ts applies them exactly once.
 */
import type { EventDocument } from "../store/events.ts";
import type { SessionDocument } from "../store/sessions.ts";
import { hllPoint } from "./hll.ts";
import { clip, localDay, pagePath, referrerHost, rollupId, visitSource, type RollupKind } from "./keys.ts";

export interface Contribution {
  kind: RollupKind;
  siteId: string;
  day: string;
  dim: string;
  value: string;
  /** Counters to add. */
  inc: Record<string, number>;
  /** Sketch registers to raise: register index → rank. */
  hll: Record<string, number>;
  expireAt: Date;
}

/** Contributions keyed by rollup document id; adding merges counters and keeps the larger rank. */
export class Contributions extends Map<string, Contribution> {
  private readonly points = new Map<string, { index: number; rank: number }>();

  /** A visitor's sketch point, hashed once per visitor. */
  private point(visitor: string): { index: number; rank: number } {
    let p = this.points.get(visitor);
    if (!p) this.points.set(visitor, (p = hllPoint(visitor)));
    return p;
  }

  add(kind: RollupKind, siteId: string, day: string, dim: string, value: string, expireAt: Date, inc: Record<string, number>, visitor?: string): void {
    const id = rollupId(kind, siteId, day, dim, value);
    let c = this.get(id);
    if (!c) this.set(id, (c = { kind, siteId, day, dim, value, inc: {}, hll: {}, expireAt }));
    for (const [k, v] of Object.entries(inc)) if (v) c.inc[k] = (c.inc[k] ?? 0) + v;
    if (expireAt > c.expireAt) c.expireAt = expireAt;
    if (visitor !== undefined) {
      const { index, rank } = this.point(visitor);
      if ((c.hll[index] ?? 0) < rank) c.hll[index] = rank;
    }
  }
}

/** Engagement reports longer than this (a tab left open) count as this. */
const MAX_ENGAGED_MS = 30 * 60_000;
const DAY_MS = 86_400_000;

/** The value of a (form, page) pair: which pages a form is used on, for the form's views. */
export const formPageValue = (formId: string, page: string): string => JSON.stringify([clip(formId), page]);

/**
 * Event counters, per site and local day: pageviews (`pv`), engaged time (`eng`, ms), form submissions (`sub`)
 * and form interactions with an email (`int`), in total, by page and by form; visitors in total and by page.
 */
export function eventContributions(events: EventDocument[], timezone: string | undefined, into = new Contributions()): Contributions {
  for (const e of events) {
    const day = localDay(e.ts, timezone);
    // a rollup lives as long as the longest-lived event in it, plus a day for the local-day boundary
    const expireAt = new Date(e.expireAt.getTime() + DAY_MS);
    const add = (dim: string, value: string, inc: Record<string, number>, visitor?: string) => into.add("e", e.siteId, day, dim, value, expireAt, inc, visitor);
    add("", "", {}, e.visitorId);
    const page = pagePath(e.page?.url, e.page?.path);
    if (e.type === "page_view") {
      add("", "", { pv: 1 });
      add("page", page, { pv: 1 }, e.visitorId);
    } else if (e.type === "engagement") {
      const ms = Number((e.props as { engagedMs?: unknown } | undefined)?.engagedMs);
      if (Number.isFinite(ms) && ms > 0) {
        add("", "", { eng: Math.min(ms, MAX_ENGAGED_MS) });
        add("page", page, { eng: Math.min(ms, MAX_ENGAGED_MS) });
      }
    } else if (e.type === "form_submission") {
      add("", "", { sub: 1 });
      add("page", page, { sub: 1 });
      if (e.form) {
        add("form", clip(e.form.formId), { sub: 1 });
        add("form_page", formPageValue(e.form.formId, page), { sub: 1 });
      }
    } else if (e.type === "form_interaction" && e.form) {
      add("", "", { int: 1 });
      add("page", page, { int: 1 });
      add("form", clip(e.form.formId), { int: 1 });
      add("form_page", formPageValue(e.form.formId, page), { int: 1 });
    }
  }
  return into;
}

/** Visits longer than this count as this (a visit's duration is its first to its last event). */
const MAX_VISIT_MS = 4 * 3_600_000;

/**
 * A finished visit, per site and the local day it started: visits, bounces (at most one page view), duration
 * (`dur`, ms), its page views (`pv`), converted visits (`conv`, with a form submission) and its submissions
 * (`sub`), in total and by entry page, source, referrer, UTM fields, country, device and browser; visitors too.
 */
export function visitContributions(session: SessionDocument & { timezone?: string }, into = new Contributions()): Contributions {
  const day = localDay(session.startedAt, session.timezone);
  const expireAt = new Date(session.expireAt.getTime() + DAY_MS);
  const inc = {
    visits: 1,
    bounces: session.pageViews <= 1 ? 1 : 0,
    dur: Math.min(Math.max(0, session.endedAt.getTime() - session.startedAt.getTime()), MAX_VISIT_MS),
    pv: session.pageViews,
    conv: session.formSubmissions > 0 ? 1 : 0,
    sub: session.formSubmissions,
  };
  const utm = session.attribution?.utm ?? {};
  const values: [string, string | undefined][] = [
    ["", ""],
    ["entry_page", session.landingPage ? pagePath(session.landingPage) : session.pages?.[0] ? pagePath(session.pages[0].url) : undefined],
    ["source", visitSource(utm.source, session.referrer)],
    ["referrer", referrerHost(session.referrer) || undefined],
    ["utm_source", utm.source],
    ["utm_medium", utm.medium],
    ["utm_campaign", utm.campaign],
    ["country", session.geo?.country],
    ["device", session.device],
    ["browser", session.browser],
  ];
  for (const [dim, value] of values) {
    if (dim !== "" && !value) continue; // a visit without a referrer has no referrer row
    into.add("v", session.siteId, day, dim, clip(value ?? ""), expireAt, inc, session.visitorId);
  }
  return into;
}
