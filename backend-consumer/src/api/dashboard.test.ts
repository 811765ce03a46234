import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDashboard } from "../../../scripts/build-dashboard.ts";
import { DIMENSION_KINDS, METRIC_SOURCES, metricAnswers, type Dimension, type Metric } from "../../dashboard/src/stats-meta.ts";
import { contentSecurityPolicy, dashboardRoutes } from "./dashboard.ts";
import { addDays, bucketsOf, dayStartIso, previousRange, resolveRange as resolveRangeInBrowser, RANGES } from "../../dashboard/src/dates.ts";
import { parseState, serializeState, type UrlState } from "../../dashboard/src/state.ts";
import { bucketOf as apiBucketOf } from "./stats/run.ts";
import { DATE_RANGES, DIMENSIONS, METRICS, planQuery, resolveRange, statsQuerySchema } from "./stats/schema.ts";

const CRM = ["https://app.gohighlevel.com", "https://*.leadconnectorhq.com"];
const INDEX = '<!doctype html><html><head><script type="module" src="/app/assets/app.0123456789ab.js"></script></head><body><div id="app"></div></body></html>';
const JS = "console.log('dashboard');";

let dir: string;
let dist: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dashboard-test-"));
  dist = join(dir, "dist");
  await mkdir(join(dist, "assets"), { recursive: true });
  await writeFile(join(dist, "index.html"), INDEX);
  await writeFile(join(dist, "assets", "app.0123456789ab.js"), JS);
  await writeFile(join(dist, "assets", "app.0123456789ab.css"), "body{margin:0}");
  // something outside the assets directory that must never be served through it
  await writeFile(join(dir, "secret.json"), '{"secret":true}');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("dashboard routes", () => {
  it("serves index.html at /app with a strict CSP, nosniff, no referrer and no-cache", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: CRM });
    const res = await app.request("/app");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get("content-security-policy")).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'self' https://app.gohighlevel.com https://*.leadconnectorhq.com; base-uri 'none'; form-action 'self'",
    );
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-frame-options")).toBeNull();
  });

  it("answers deep links under /app with index.html, so bookmarked views load", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: [] });
    for (const path of ["/app/", "/app/leads", "/app/lead/123/anything?view=lead/123&range=7d", "/app/install?loc=x"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe(INDEX);
      expect(res.headers.get("content-security-policy"), path).toContain("frame-ancestors 'self'; ");
    }
  });

  it("revalidates index.html with its ETag", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: [] });
    const first = await app.request("/app");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^".+"$/);
    const again = await app.request("/app", { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  it("serves hashed assets as immutable, with their content type", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: [] });
    const js = await app.request("/app/assets/app.0123456789ab.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await js.text()).toBe(JS);
    const css = await app.request("/app/assets/app.0123456789ab.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("answers an unknown asset with a JSON 404, not the app", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: [] });
    for (const path of ["/app/assets/app.ffffffffffff.js", "/app/assets/", "/app/assets/nested/app.js", "/app/assets"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: "not_found", message: expect.any(String) });
    }
  });

  it("refuses paths that try to climb out of the assets directory", async () => {
    const app = dashboardRoutes({ distDir: dist, frameAncestors: [] });
    for (const path of [
      "/app/assets/..%2f..%2fpackage.json",
      "/app/assets/..%2fsecret.json",
      "/app/assets/..%2f..%2fsecret.json",
      "/app/assets/%2e%2e%2f%2e%2e%2fsecret.json",
      "/app/assets/..%5c..%5csecret.json",
      "/app/assets/%2fetc%2fpasswd",
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      const text = await res.text();
      expect(text, path).not.toContain("secret");
      expect(text, path).not.toContain('"name"');
      expect(text, path).not.toContain("<html");
    }
  });

  it("says 503 dashboard_not_built while there is no build", async () => {
    const app = dashboardRoutes({ distDir: join(dir, "nowhere"), frameAncestors: [] });
    for (const path of ["/app", "/app/leads", "/app/assets/app.0123456789ab.js"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(503);
      expect(await res.json(), path).toEqual({ error: "dashboard_not_built", message: expect.stringContaining("build-dashboard") });
    }
  });

  it("reads the files at request time: a rebuild shows without a restart", async () => {
    const other = join(dir, "rebuilt");
    await mkdir(join(other, "assets"), { recursive: true });
    await writeFile(join(other, "index.html"), "<p>one</p>");
    const app = dashboardRoutes({ distDir: other, frameAncestors: [] });
    expect(await (await app.request("/app")).text()).toBe("<p>one</p>");
    await writeFile(join(other, "index.html"), "<p>two</p>");
    await writeFile(join(other, "assets", "app.aaaaaaaaaaaa.js"), "2");
    expect(await (await app.request("/app")).text()).toBe("<p>two</p>");
    expect((await app.request("/app/assets/app.aaaaaaaaaaaa.js")).status).toBe(200);
  });

  it("refuses a frame ancestor that is not a CSP source", () => {
    expect(() => contentSecurityPolicy(["https://a.example; script-src *"])).toThrow(/frame ancestor/);
    expect(() => contentSecurityPolicy(["'unsafe-inline'"])).toThrow(/frame ancestor/);
  });
});

describe("the real build", () => {
  it("builds hashed JS and CSS, an index.html naming them, and a manifest within the size budget", { timeout: 60_000 }, async () => {
    const out = join(dir, "built");
    const manifest = await buildDashboard({ outDir: out });
    expect(manifest.js.file).toMatch(/^app\.[0-9a-f]{12}\.js$/);
    expect(manifest.css.file).toMatch(/^app\.[0-9a-f]{12}\.css$/);
    expect(JSON.parse(await readFile(join(out, "manifest.json"), "utf8"))).toEqual(manifest);
    // the whole first load: at most 150 KB of gzip JavaScript
    expect(manifest.js.gzip).toBeLessThan(150 * 1024);
    expect(manifest.js.gzip).toBeLessThan(manifest.js.bytes);

    const app = dashboardRoutes({ distDir: out, frameAncestors: [] });
    const html = await (await app.request("/app")).text();
    const refs = [...html.matchAll(/(?:src|href)="(\/app\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual([`/app/assets/${manifest.css.file}`, `/app/assets/${manifest.js.file}`].sort());
    for (const ref of refs) {
      const res = await app.request(ref);
      expect(res.status, ref).toBe(200);
      expect((await res.arrayBuffer()).byteLength, ref).toBe(ref.endsWith(".js") ? manifest.js.bytes : manifest.css.bytes);
    }
    // no inline script or style for the CSP to refuse
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="/);
  });
});

describe("the dashboard's copy of the stats API's rules", () => {
  it("knows every metric and dimension the API has, from the same rollups", () => {
    expect(Object.keys(METRIC_SOURCES).sort()).toEqual(Object.keys(METRICS).sort());
    for (const [metric, def] of Object.entries(METRICS)) expect(METRIC_SOURCES[metric as Metric], metric).toEqual(def.from);
    expect(Object.keys(DIMENSION_KINDS).sort()).toEqual(Object.keys(DIMENSIONS).sort());
    for (const [dim, def] of Object.entries(DIMENSIONS)) expect(DIMENSION_KINDS[dim as Dimension], dim).toEqual({ kind: def.kind, leads: def.leads !== null });
  });

  it("says a metric can be asked for by a dimension (or in totals) exactly when the API answers it", () => {
    for (const metric of Object.keys(METRICS) as Metric[]) {
      for (const dim of [null, ...(Object.keys(DIMENSIONS) as Dimension[])]) {
        const q = statsQuerySchema.parse({ metrics: [metric], dimensions: dim ? [dim] : [], date_range: "7d" });
        let answered = true;
        try {
          planQuery(q, "UTC");
        } catch {
          answered = false;
        }
        expect(metricAnswers(metric, dim), `${metric} by ${dim ?? "totals"}`).toBe(answered);
        // a filter on the dimension is held to the same rule as a breakdown by it
        if (dim) {
          const filtered = statsQuerySchema.parse({ metrics: [metric], filters: [["is", dim, ["x"]]], date_range: "7d" });
          let ok = true;
          try {
            planQuery(filtered, "UTC");
          } catch {
            ok = false;
          }
          expect(metricAnswers(metric, dim), `${metric} filtered on ${dim}`).toBe(ok);
        }
      }
    }
  });
});

describe("the dashboard's dates", () => {
  it("resolve every shortcut to the days the stats API resolves it to, in any time zone", () => {
    const instants = ["2026-11-29T23:30:00Z", "2026-03-01T04:59:00Z", "2026-12-31T12:00:00Z", "2024-02-29T00:00:00Z"];
    for (const at of instants) {
      for (const tz of ["UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"]) {
        for (const range of DATE_RANGES) {
          const api = resolveRange(range, tz, new Date(at));
          expect(resolveRangeInBrowser(range, null, tz, new Date(at)), `${range} ${tz} ${at}`).toEqual([api.from, api.to]);
        }
      }
    }
    expect(RANGES).toEqual([...DATE_RANGES, "custom"]);
  });

  it("bucket days as the API does, with every bucket of the range", () => {
    for (const interval of ["day", "week", "month"] as const) {
      const buckets = bucketsOf("2026-01-27", "2026-03-03", interval);
      for (let d = "2026-01-27"; d <= "2026-03-03"; d = addDays(d, 1)) expect(buckets).toContain(apiBucketOf(d, `time:${interval}`));
      expect(new Set(buckets).size).toBe(buckets.length);
    }
    expect(bucketsOf("2026-11-01", "2026-11-30", "week")).toEqual(["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]);
  });

  it("compare with the period of the same length just before", () => {
    expect(previousRange(["2026-10-31", "2026-11-29"])).toEqual(["2026-10-01", "2026-10-30"]);
    expect(previousRange(["2026-11-29", "2026-11-29"])).toEqual(["2026-11-28", "2026-11-28"]);
    expect(previousRange(["2026-03-01", "2026-03-31"])).toEqual(["2026-01-29", "2026-02-28"]);
  });

  it("start a local day at the right instant, across daylight saving changes", () => {
    expect(dayStartIso("2026-11-29", "UTC")).toBe("2026-11-29T00:00:00.000Z");
    expect(dayStartIso("2026-07-01", "America/New_York")).toBe("2026-07-01T04:00:00.000Z");
    expect(dayStartIso("2026-03-08", "America/New_York")).toBe("2026-03-08T05:00:00.000Z");
    expect(dayStartIso("2026-03-09", "America/New_York")).toBe("2026-03-09T04:00:00.000Z");
    expect(dayStartIso("2026-10-25", "Europe/London")).toBe("2026-10-24T23:00:00.000Z");
    expect(dayStartIso("2026-10-26", "Europe/London")).toBe("2026-10-26T00:00:00.000Z");
  });
});

describe("the dashboard's URL state", () => {
  it("round-trips through the query string, readable and without defaults", () => {
    const state: UrlState = {
      ...parseState(""),
      loc: "loc-1",
      site: "site-1",
      range: "custom",
      from: "2026-11-01",
      to: "2026-11-14",
      interval: "week",
      filter: { dim: "visit:source", value: "google: ads/1" },
      view: { name: "lead", id: "abc-123" },
    };
    const search = serializeState(state);
    expect(search).toContain("view=lead/abc-123");
    expect(search).toContain("filter=visit:source:google");
    expect(parseState(search)).toEqual(state);
    expect(serializeState(parseState(""))).toBe("");
    expect(serializeState(parseState("?range=6mo"))).toBe("?range=6mo");
    expect(parseState("?range=6mo").interval).toBe("month");
  });

  it("falls back to defaults on values it does not know", () => {
    const s = parseState("?range=forever&interval=hour&filter=event:nope:x&view=settings&created_from=2026-02-30");
    expect(s.range).toBe("30d");
    expect(s.interval).toBe("day");
    expect(s.filter).toBeNull();
    expect(s.view).toEqual({ name: "overview" });
    expect(s.leads.createdFrom).toBeNull();
    expect(parseState("?range=custom&from=2026-11-14&to=2026-11-01").range).toBe("30d");
  });
});
