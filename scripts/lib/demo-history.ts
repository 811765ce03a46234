/**
 * Weeks of believable traffic for the demo tenant's two sites, so a newcomer's dashboard has something to show:
 * visits from search, ads, social, a newsletter and direct, several pages each with engaged time, partial leads
 * and form submissions, across countries, devices and browsers, growing a little week on week with quieter
 * weekends. Generated deterministically (seeded PRNG) as queue messages, one per visit, which `npm start` puts on
 * the local queue: they go through the same drain, rollups and visit finalizer as live traffic.
 */
import type { QueueMessage, TrackerEvent } from "#contracts";
import { pick, prng } from "../testing/prng.ts";

export interface HistorySite {
  siteId: string;
  origin: string;
  timezone: string;
  formId: string;
  pages: string[];
  /** Visits on an average weekday at the start of the period. */
  visitsPerDay: number;
}

const SOURCES: { weight: number; utm?: Record<string, string>; referrer?: string }[] = [
  { weight: 30, referrer: "https://www.google.com/" },
  { weight: 18, utm: { source: "google", medium: "cpc", campaign: "spring-promo" }, referrer: "https://www.google.com/" },
  { weight: 12, utm: { source: "facebook", medium: "social", campaign: "spring-promo" }, referrer: "https://m.facebook.com/" },
  { weight: 8, utm: { source: "newsletter", medium: "email", campaign: "monthly" } },
  { weight: 6, referrer: "https://www.bing.com/" },
  { weight: 4, referrer: "https://www.yelp.com/" },
  { weight: 22 },
];
const COUNTRIES: [string, number][] = [["US", 46], ["GB", 14], ["CA", 10], ["DE", 8], ["AU", 7], ["FR", 5], ["IN", 5], ["BR", 5]];
const AGENTS: [string, number][] = [
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 34],
  ["Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 24],
  ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", 16],
  ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", 12],
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 7],
  ["Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", 4],
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 3],
];
const FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Mia", "Lucas", "Amelia", "Mateo", "Priya", "Kenji", "Fatima", "Jonas"];
const LAST = ["Smith", "Garcia", "Johnson", "Brown", "Nguyen", "Müller", "Patel", "Kowalski", "Silva", "Okafor", "Rossi", "Tanaka", "Dubois", "Khan"];

/** One message per visit over the `days` days before `now` (visits of today only up to an hour ago). */
export function demoHistory(sites: HistorySite[], opts: { days: number; now: number; seed?: number }): QueueMessage[] {
  const rand = prng(opts.seed ?? 20261129);
  const out: QueueMessage[] = [];
  const dayMs = 86_400_000;
  const start = Math.floor(opts.now / dayMs) * dayMs - opts.days * dayMs;
  let person = 0;
  for (const site of sites) {
    const visitors: string[] = [];
    for (let d = 0; d <= opts.days; d++) {
      const dayStart = start + d * dayMs;
      const weekday = new Date(dayStart).getUTCDay();
      const trend = 1 + (0.5 * d) / opts.days;
      const weekend = weekday === 0 || weekday === 6 ? 0.55 : 1;
      const visits = Math.round(site.visitsPerDay * trend * weekend * (0.8 + 0.4 * rand()));
      for (let v = 0; v < visits; v++) {
        // most visits in the local daytime: a bell around 15:00 UTC
        const at = dayStart + Math.round(Math.min(dayMs - 1, Math.max(0, (15 + (rand() + rand() + rand() - 1.5) * 6) * 3_600_000)));
        if (at > opts.now - 3_600_000) continue;
        const returning = visitors.length > 0 && rand() < 0.25;
        const visitorId = returning ? visitors[Math.floor(rand() * visitors.length)]! : `demo-v-${crypto.randomUUID()}`;
        if (!returning) visitors.push(visitorId);
        out.push(visit(site, visitorId, at, rand, () => person++));
      }
    }
  }
  return out;
}

function visit(site: HistorySite, visitorId: string, at: number, rand: () => number, nextPerson: () => number): QueueMessage {
  const sessionId = `demo-s-${crypto.randomUUID()}`;
  const source = pick(rand, SOURCES.map((s) => [s, s.weight]));
  const landing = source.utm ? site.pages[1 % site.pages.length]! : site.pages[rand() < 0.6 ? 0 : Math.floor(rand() * site.pages.length)]!;
  const query = source.utm ? `?${new URLSearchParams(Object.entries(source.utm).map(([k, v]) => [`utm_${k}`, v]))}` : "";
  const events: TrackerEvent[] = [];
  let t = at;
  const ev = (e: Omit<TrackerEvent, "id" | "ts" | "sessionId" | "visitorId">) => events.push({ id: crypto.randomUUID(), ts: t, sessionId, visitorId, ...e });
  const page = (path: string) => ({ url: `${site.origin}${path}${path === landing ? query : ""}`, path, title: path === "/" ? "Home" : path.slice(1) });
  ev({
    type: "session_start",
    page: page(landing),
    attribution: { ...(source.utm ? { utm: source.utm } : {}), ...(source.referrer ? { referrer: source.referrer } : {}), landingPage: `${site.origin}${landing}${query}` },
  });
  const pages = rand() < 0.42 ? 1 : 1 + Math.ceil(rand() * 4);
  let path = landing;
  for (let p = 0; p < pages; p++) {
    ev({ type: "page_view", page: { ...page(path), ...(p === 0 && source.referrer ? { referrer: source.referrer } : {}) } });
    const engaged = Math.round(4_000 + rand() * rand() * 150_000);
    t += engaged + 1_000;
    ev({ type: "engagement", page: page(path), props: { engagedMs: engaged } });
    path = site.pages[Math.floor(rand() * site.pages.length)]!;
  }
  // the contact page converts; campaign traffic a little better
  const intent = rand() * (source.utm ? 1.4 : 1);
  if (intent > 0.88) {
    const n = nextPerson();
    const first = FIRST[n % FIRST.length]!;
    const last = LAST[(n * 7) % LAST.length]!;
    const email = `${first}.${last}.${n}@example.com`.toLowerCase().replace("ü", "u");
    const contact = page("/contact");
    t += 20_000;
    ev({ type: "page_view", page: contact });
    t += 15_000;
    ev({ type: "form_interaction", page: contact, form: { formId: site.formId, name: "Contact", fields: { email }, trigger: "input", progress: { completed: ["email"], total: 4, percent: 25 } } });
    if (intent > 0.94) {
      t += 25_000;
      ev({
        type: "form_submission",
        page: contact,
        form: { formId: site.formId, name: "Contact", trigger: "submit", fields: { name: `${first} ${last}`, email, phone: `+1 555 01${String(n % 100).padStart(2, "0")}`, message: "Please call me back." } },
      });
    }
  }
  return {
    v: 1,
    siteId: site.siteId,
    timezone: site.timezone,
    retentionDays: 400,
    receivedAt: t + 500,
    geo: { country: pick(rand, COUNTRIES) },
    ip: null,
    ua: pick(rand, AGENTS),
    events,
  };
}
