/**
 * The dashboard end to end, as its users meet it: headless Chromium opens the CRM stand-in (`<demoUrl>crm`), which
 * frames `/app` and answers its REQUEST_USER_DATA handshake; the dashboard signs in through
 * `POST /v1/auth/highlevel` and shows three weeks of demo traffic that went through the real queue, drain, rollups
 * and visit finalizer. What the page shows is compared with what the API answers for the same question (formatted
 * with the dashboard's own formatter), as the agency admin and as a location user; the location user cannot reach
 * the other location through the page or the API; the CSV export, the lead page, accessibility (axe) and the
 * absence of console errors and failed requests are checked; the docs' screenshots are taken last.
 *
 * `UPDATE_SCREENSHOTS=1` writes the screenshots to docs/; otherwise they go to a temporary directory.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMetric } from "../dashboard/src/format.ts";
import type { Metric } from "../dashboard/src/stats-meta.ts";
import { DEFAULT_RANGE } from "../dashboard/src/state.ts";
import { mintToken } from "../src/api/auth.ts";
import { connectMongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { appParams, expectAccessible, openCrmBrowser, screenshot, settled, stopStackAndDrop, withScreenshotDir, type CrmBrowser, type Session } from "../../scripts/testing/crm-browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

interface StatsAnswer {
  results: { dimensions: string[]; metrics: (number | null)[] }[];
  meta: { date_range: [string, string]; timezone: string; total_rows?: number };
}

const KPI_METRICS: Metric[] = ["visitors", "visits", "pageviews", "leads", "conversion_rate", "time_on_page"];

let stack: Stack;
let crm: CrmBrowser;
let agencyToken: string;
let mongoDb: string;
let mariadbDb: string;
let agency: Session;

// ---- the API, as the agency user (or another token) ---------------------------------------------------------

async function call(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
  return fetch(`${stack.backend.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${init.token ?? agencyToken}`,
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
}

async function json<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const res = await call(path, init);
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const stats = (query: Record<string, unknown>, token?: string): Promise<StatsAnswer> =>
  json<StatsAnswer>("/v1/stats/query", { method: "POST", body: query, ...(token ? { token } : {}) });

/** A totals answer's value of `metric` (the answer has one row when anything happened). */
function total(answer: StatsAnswer, metrics: Metric[], metric: Metric): number | null {
  const row = answer.results[0];
  if (!row) throw new Error(`no totals row in ${JSON.stringify(answer)}`);
  return row.metrics[metrics.indexOf(metric)] ?? null;
}

// ---- the browser ---------------------------------------------------------------------------------------------

const kpiText = (s: Session, metric: Metric): Promise<string> => s.app.getByTestId(`kpi-${metric}`).getByTestId("kpi-value").innerText();

/** Polls until `read` gives `expected` (what the page shows once its request has been answered). */
async function shows(read: () => Promise<string | null>, expected: string, what: string): Promise<void> {
  await expect.poll(read, { timeout: 15_000, message: what }).toBe(expected);
}

/** A minimal RFC 4180 reader (quoted cells with "" escapes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else if (ch !== "\r") cell += ch;
  }
  if (cell !== "" || row.length) rows.push([...row, cell]);
  return rows;
}

/** The CSV as records keyed by its header. */
function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error("empty CSV");
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

// ---- the stack -----------------------------------------------------------------------------------------------

beforeAll(async () => {
  mongoDb = uniqueDbName("dash");
  mariadbDb = uniqueDbName("dash");
  stack = await startStack({
    dataDir: TEST_DATA_DIR,
    ports: TEST_PORTS,
    mongoDb,
    mariadbDb,
    demoHistoryDays: 21,
    backendEnv: { VISIT_FINALIZE_INTERVAL_MS: "1000" },
  });
  crm = await openCrmBrowser(stack);
  agencyToken = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });

  // How many visits the demo history put on the queue (one queue message per visit; stack.ts records the count).
  const mongo = await connectMongo(stack.mongo.url, mongoDb);
  const marker = await mongo.db.collection<{ _id: string; messages: number }>("demo_meta").findOne({ _id: "history" });
  await mongo.close();
  expect(marker?.messages).toBeGreaterThan(0);

  // The demo traffic drained and its visits finalized: two answers 3 s apart alike and not empty, and (the history's
  // 21 days lie inside 30d, each visit idle for over 30 minutes) every enqueued visit counted.
  let previous = "";
  await eventually(
    async () => {
      const a = await stats({ scope: "all", metrics: ["visits", "pageviews", "leads"], date_range: "30d" });
      const [visits, pageviews] = a.results[0]?.metrics ?? [];
      const now = JSON.stringify(a.results[0]?.metrics ?? null);
      if ((visits ?? 0) > 0 && (pageviews ?? 0) > 0 && now === previous && visits === marker!.messages) return true;
      previous = now;
      await new Promise((r) => setTimeout(r, 3_000));
      return undefined;
    },
    120_000,
    `the demo history (${marker!.messages} visits) to be drained and its visits finalized`,
  );

  agency = await crm.open("agency");
}, 200_000);

afterAll(async () => {
  await crm?.close();
  await stopStackAndDrop(stack, { mongoDb, mariadbDb });
}, 60_000);

// ---- the tests -----------------------------------------------------------------------------------------------

describe("dashboard through the CRM stand-in", () => {
  it("shows the agency admin the stats API's numbers: the six KPIs and both locations' visits", async () => {
    await settled(agency);
    // the page's default range is what the header shows and what the API is asked
    expect(await agency.app.getByTestId("range-select").inputValue()).toBe(DEFAULT_RANGE);
    const answer = await stats({ scope: "all", metrics: KPI_METRICS, date_range: DEFAULT_RANGE });
    for (const m of KPI_METRICS) {
      const expected = formatMetric(m, total(answer, KPI_METRICS, m));
      expect(expected, m).not.toBe("—");
      await shows(() => kpiText(agency, m), expected, `KPI ${m}`);
    }

    const rows = agency.app.getByTestId("locations-table").getByTestId("location-row");
    expect(await rows.count()).toBe(2);
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-location-id")));
    expect(ids.sort()).toEqual([DEMO.locationId, DEMO.location2Id].sort());
    const names: Record<string, string> = { [DEMO.locationId]: "Acme Plumbing", [DEMO.location2Id]: "Bright Smile Dental" };
    const visitsOf: Record<string, number | null> = {};
    for (const id of [DEMO.locationId, DEMO.location2Id]) {
      visitsOf[id] = total(await stats({ scope: { locationIds: [id] }, metrics: ["visits"], date_range: DEFAULT_RANGE }), ["visits"], "visits");
      const row = agency.app.locator(`[data-testid="location-row"][data-location-id="${id}"]`);
      expect(await row.locator("th").innerText()).toContain(names[id]);
      // columns: visitors, visits, leads, conversion rate
      await shows(() => row.locator("td").nth(1).innerText(), formatMetric("visits", visitsOf[id]), `visits of ${names[id]}`);
    }
    // the two locations are the whole: what the table shows adds up to the total
    expect(visitsOf[DEMO.locationId]! + visitsOf[DEMO.location2Id]!).toBe(total(answer, KPI_METRICS, "visits"));
  });

  it("switches the chart between days, weeks and months, each bucket as the API answers", async () => {
    const counts: Record<string, number> = {};
    for (const interval of ["week", "month", "day"] as const) {
      await agency.app.getByTestId(`interval-${interval}`).click();
      const api = await stats({ scope: "all", metrics: ["visitors", "pageviews"], dimensions: [`time:${interval}`], date_range: DEFAULT_RANGE, pagination: { limit: 1000 } });
      counts[interval] = api.results.length;
      const chart = agency.app.getByTestId("chart");
      await shows(() => chart.getAttribute("data-buckets"), String(api.results.length), `buckets by ${interval}`);
      for (const other of ["day", "week", "month"]) {
        expect(await agency.app.getByTestId(`interval-${other}`).getAttribute("aria-pressed"), `${other} pressed while ${interval}`).toBe(String(other === interval));
      }
      // day is the 30d range's default interval, left out of the URL
      expect(appParams(agency).get("interval")).toBe(interval === "day" ? null : interval);
      // the chart's table (for screen readers) holds every bucket's numbers: the API's, in order
      const shown = await chart.locator(".sr-only tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => Number(td.textContent))));
      expect(shown).toEqual(api.results.map((r) => r.metrics.map((v) => v ?? 0)));
    }
    expect(counts.day).toBe(30);
    expect(counts.week).toBeLessThan(counts.day!);
    expect(counts.month).toBeLessThan(counts.week!);
    await settled(agency);
  });

  it("filters the page by a source clicked in the Sources panel, and the chip removes it", async () => {
    await settled(agency);
    const filterable: Metric[] = ["visitors", "visits", "pageviews", "leads", "conversion_rate"];
    const unfiltered = await stats({ scope: "all", metrics: filterable, date_range: DEFAULT_RANGE });

    const top = agency.app.getByTestId("row-visit:source").first();
    const value = (await top.getAttribute("data-value"))!;
    const bySource = await stats({ scope: "all", metrics: ["visits"], dimensions: ["visit:source"], date_range: DEFAULT_RANGE, order_by: [["visits", "desc"]], pagination: { limit: 1 } });
    expect(value).toBe(bySource.results[0]!.dimensions[0]);
    const filtered = await stats({ scope: "all", metrics: filterable, date_range: DEFAULT_RANGE, filters: [["is", "visit:source", [value]]] });
    expect(total(filtered, filterable, "visits")).toBeLessThan(total(unfiltered, filterable, "visits")!);

    await top.locator("a").click();
    await agency.app.getByTestId("filter-chip").waitFor();
    expect(await agency.app.getByTestId("filter-chip").innerText()).toContain(value);
    expect(appParams(agency).get("filter")).toBe(`visit:source:${value}`);
    for (const m of filterable) await shows(() => kpiText(agency, m), formatMetric(m, total(filtered, filterable, m)), `filtered KPI ${m}`);
    // time on page comes from event rollups, which are not kept by source
    expect(await kpiText(agency, "time_on_page")).toBe("—");
    expect(await agency.app.getByTestId("panel-event:page").getByTestId("not-filterable").count()).toBe(1);
    await settled(agency);

    await agency.app.getByTestId("filter-remove").click();
    await agency.app.getByTestId("filter-chip").waitFor({ state: "detached" });
    expect(appParams(agency).get("filter")).toBeNull();
    for (const m of filterable) await shows(() => kpiText(agency, m), formatMetric(m, total(unfiltered, filterable, m)), `unfiltered KPI ${m}`);
    expect(await agency.app.getByTestId("not-filterable").count()).toBe(0);
    await settled(agency);
  });

  it("shows a location user only its location, through the page and through the API", async () => {
    const acme = await stats({ scope: { locationIds: [DEMO.locationId] }, metrics: ["visits"], date_range: DEFAULT_RANGE });
    const dental = await stats({ scope: { locationIds: [DEMO.location2Id] }, metrics: ["visits"], date_range: DEFAULT_RANGE });
    expect(total(acme, ["visits"], "visits")).not.toBe(total(dental, ["visits"], "visits"));
    const acmeVisits = formatMetric("visits", total(acme, ["visits"], "visits"));

    const loc = await crm.open("location");
    await settled(loc);
    expect(await loc.app.getByTestId("location-switcher").count()).toBe(0);
    expect(await loc.app.getByTestId("locations-table").count()).toBe(0);
    const sites = await loc.app.getByTestId("site-select").locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(sites).toEqual(["", DEMO.siteId]);
    await shows(() => kpiText(loc, "visits"), acmeVisits, "the location user's visits (Acme's)");
    expect(await loc.app.locator("body").innerText()).not.toContain("Bright Smile");

    // a deep link to the other location: the dashboard drops it and shows nothing of it
    const deepSession = await crm.tab(loc, "location", `?loc=${DEMO.location2Id}`);
    await deepSession.app.getByTestId("tab-overview").waitFor();
    await settled(deepSession);
    // context.ts normalise(): a location the user cannot see is dropped from the URL (the session's own one kept)
    expect([null, DEMO.locationId]).toContain(appParams(deepSession).get("loc"));
    expect(await deepSession.app.getByTestId("error-banner").count()).toBe(0);
    await shows(() => kpiText(deepSession, "visits"), acmeVisits, "visits after the deep link (still Acme's)");
    expect(await deepSession.app.locator("body").innerText()).not.toContain("Bright Smile");
    const stranger = loc.watch.api.filter((c) => c.body?.includes(DEMO.location2Id) || c.body?.includes(DEMO.site2Id) || c.url.includes(DEMO.location2Id) || c.url.includes(DEMO.site2Id));
    expect(stranger.filter((c) => c.status < 400), "requests for the other location that succeeded").toEqual([]);
    expect(loc.watch.api.some((c) => c.url.endsWith("/v1/stats/query") && c.status === 200), "the page asked for stats").toBe(true);
    await deepSession.page.close();

    // the session token the dashboard got: the other location's site, leads and stats are 404, its own are not
    expect(loc.watch.token).not.toBeNull();
    const token = await loc.watch.token!;
    expect((await call(`/v1/sites/${DEMO.site2Id}`, { token })).status).toBe(404);
    expect((await call(`/v1/leads?locationId=${DEMO.location2Id}`, { token })).status).toBe(404);
    expect((await call("/v1/stats/query", { token, body: { scope: { locationIds: [DEMO.location2Id] }, metrics: ["visits"], date_range: "30d" } })).status).toBe(404);
    expect((await call(`/v1/sites/${DEMO.siteId}`, { token })).status).toBe(200);
    expect((await call(`/v1/leads?locationId=${DEMO.locationId}`, { token })).status).toBe(200);
    expect((await call("/v1/stats/query", { token, body: { scope: { locationIds: [DEMO.locationId] }, metrics: ["visits"], date_range: "30d" } })).status).toBe(200);
  });

  it("exports the filtered leads as CSV: the file is the API's export for the same filters", async () => {
    await settled(agency);
    await agency.app.getByTestId("tab-leads").click();
    await agency.app.getByTestId("lead-row").first().waitFor();
    await settled(agency);
    await agency.app.locator("#lead-status").selectOption("submitted");
    expect(appParams(agency).get("status")).toBe("submitted");
    const rows = agency.app.getByTestId("lead-row");
    // the unfiltered first page has partial leads too: wait for the list to hold only submitted ones
    await expect
      .poll(async () => {
        const n = await rows.count();
        return n > 0 && n === (await rows.locator(".badge-status-submitted").count());
      }, { timeout: 15_000, message: "the list to show only submitted leads" })
      .toBe(true);
    await settled(agency);
    const listed = (await rows.locator("td:nth-child(2)").allInnerTexts()).map((t) => t.trim());

    const [download] = await Promise.all([agency.page.waitForEvent("download"), agency.app.getByTestId("export-csv").click()]);
    expect(download.suggestedFilename()).toMatch(/^leads-\d{4}-\d{2}-\d{2}\.csv$/);
    const file = readFileSync(await download.path(), "utf8");
    await settled(agency);

    // the same filters, worked out here: status, and created within the page's range (the API's own days, in UTC
    // for two time zones; createdTo is exclusive)
    const range = (await stats({ scope: "all", metrics: ["visits"], date_range: DEFAULT_RANGE })).meta;
    expect(range.timezone).toBe("UTC");
    const params = new URLSearchParams({ status: "submitted", createdFrom: `${range.date_range[0]}T00:00:00.000Z`, createdTo: `${nextDay(range.date_range[1])}T00:00:00.000Z`, format: "csv" });
    const res = await call(`/v1/leads/export?${params}`);
    expect(res.status).toBe(200);
    const expected = csvRecords(await res.text());
    const got = csvRecords(file);

    expect(got.length).toBeGreaterThan(0);
    expect(got.map((r) => r.email)).toEqual(expected.map((r) => r.email));
    expect(got).toEqual(expected);
    expect(new Set(got.map((r) => r.status))).toEqual(new Set(["submitted"]));
    // the list's first page is the export's beginning (same filters, same order)
    expect(listed).toEqual(got.slice(0, listed.length).map((r) => r.email));
    // the filter mattered: without it there are more leads
    const all = csvRecords(await (await call(`/v1/leads/export?${new URLSearchParams({ createdFrom: params.get("createdFrom")!, createdTo: params.get("createdTo")!, format: "csv" })}`)).text());
    expect(all.length).toBeGreaterThan(got.length);
  });

  it("opens a lead: its fields and its journey as the API has them", async () => {
    await settled(agency);
    await agency.app.getByTestId("tab-leads").click();
    const row = agency.app.getByTestId("lead-row").first();
    await row.waitFor();
    await settled(agency);
    const id = (await row.getAttribute("data-lead-id"))!;
    await row.locator("a").click();
    expect(appParams(agency).get("view")).toBe(`lead/${id}`);

    const lead = await json<{ email: string; timeline: { items: { id: string; type: string }[]; nextCursor: string | null } }>(`/v1/leads/${id}?limit=50`);
    await agency.app.getByTestId("lead-fields").waitFor();
    await settled(agency);
    expect(await agency.app.getByTestId("lead-fields").innerText()).toContain(lead.email);
    expect(lead.timeline.items.length).toBeGreaterThan(0);
    expect(await agency.app.getByTestId("timeline-item").count()).toBe(lead.timeline.items.length);
    const types = await agency.app.getByTestId("timeline-item").evaluateAll((lis) => lis.map((li) => [...li.classList].find((c) => c.startsWith("tl-") && c !== "tl-session")?.slice(3)));
    expect(types).toEqual(lead.timeline.items.map((i) => i.type));
    expect(await agency.app.getByTestId("lead-attribution").count()).toBe(1);
  });

  it("had no console errors and no failed requests in the agency and location sessions", () => {
    const seen = crm.watches.filter((w) => w.label === "agency" || w.label === "location");
    expect(seen.map((w) => w.label).sort()).toEqual(["agency", "location"]);
    for (const w of seen) expect(w.problems, `${w.label} session`).toEqual([]);
  });

  it("has no serious or critical accessibility violations (axe) on the overview, the leads and a lead", async () => {
    const s = await crm.open("agency", { bypassCSP: true });
    await s.app.getByTestId("kpi-value").first().waitFor();
    await expectAccessible(s, "the overview");
    await s.app.getByTestId("tab-leads").click();
    await s.app.getByTestId("lead-row").first().waitFor();
    await expectAccessible(s, "the leads");
    await s.app.getByTestId("lead-row").first().locator("a").click();
    await s.app.getByTestId("timeline-item").first().waitFor();
    await expectAccessible(s, "a lead's page");
  });

  it("takes the docs' screenshots: overview, leads, a lead's journey, the install tab after a key rotation", async () => {
    await withScreenshotDir("dashboard-shots-", async (dir) => {
      const s = await crm.open("agency", { viewport: { width: 1440, height: 1000 } });
      await s.app.getByTestId("kpi-value").first().waitFor();
      await screenshot(s, dir, "dashboard-overview.png");
      await s.app.getByTestId("tab-leads").click();
      await s.app.getByTestId("lead-row").first().waitFor();
      await screenshot(s, dir, "dashboard-leads.png");
      // a lead that submitted a form, its journey in view
      await s.app.locator('[data-testid="lead-row"]:has(.badge-status-submitted)').first().locator("a").click();
      await s.app.getByTestId("timeline-item").first().waitFor();
      await settled(s);
      await s.app.getByTestId("lead-timeline").scrollIntoViewIfNeeded();
      await screenshot(s, dir, "dashboard-lead-journey.png");
      // the dental site's key rotated with the default grace period: the install tab shows the new snippet and
      // until when the old one works
      const rotated = await json<{ siteKey: string; oldSiteKey: string }>(`/v1/sites/${DEMO.site2Id}/rotate-key`, { method: "POST", body: {} });
      await s.app.getByTestId("tab-install").click();
      await s.app.getByTestId(`key-grace-${DEMO.site2Id}`).waitFor();
      expect(await s.app.getByTestId(`snippet-${DEMO.site2Id}`).textContent()).toContain(rotated.siteKey);
      expect(await s.app.getByTestId(`key-grace-${DEMO.site2Id}`).textContent()).toContain(rotated.oldSiteKey);
      await s.app.getByTestId(`install-${DEMO.site2Id}`).scrollIntoViewIfNeeded();
      await screenshot(s, dir, "dashboard-install-rotated.png");
      expect(s.watch.problems).toEqual([]);
    });
  });
});
