/**
 * Helpers for the end-to-end tests that drive the dashboard in headless Chromium through the CRM stand-in
 * (`<demoUrl>crm`, which frames `/app` and signs the user in): browser contexts opened as a given CRM user with what
 * each one did recorded (console errors, uncaught errors, failed requests, HTTP ≥ 400, API calls, the session token
 * the dashboard got), waiting until the dashboard has finished loading, the dashboard frame's URL, an axe check,
 * screenshots for the docs, and stopping the stack and dropping the test's databases afterwards.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import type { Browser, BrowserContext, Frame, FrameLocator, Page, Request } from "playwright-core";
import { expect, inject } from "vitest";
import { connectMongo } from "../../backend-consumer/src/store/mongo.ts";
import { ROOT } from "../lib/paths.ts";
import type { Stack } from "../lib/stack.ts";
import { launchBrowser } from "./browser.ts";
import { eventually } from "./mongo.ts";

/** What a browser context did: problems (console errors, uncaught errors, failed requests), API calls, requests in flight. */
export interface Watch {
  label: string;
  problems: string[];
  inflight: Set<Request>;
  /** The backend's /v1/ answers, in order. */
  api: { method: string; url: string; body: string | null; status: number }[];
  /** The session token the dashboard got from POST /v1/auth/highlevel (the latest). */
  token: Promise<string> | null;
}

/** A CRM stand-in tab with the dashboard framed in it (`app`). */
export interface Session {
  context: BrowserContext;
  page: Page;
  app: FrameLocator;
  watch: Watch;
  /** The dashboard's URL (`<backend>/app`): its frame is the one whose URL starts with it. */
  appUrl: string;
}

export interface CrmBrowserOptions {
  /** The test id that shows the dashboard is signed in and rendered (default: the overview tab). */
  readyTestId?: string;
  /**
   * Answer the edge with an empty script (and 204 for anything else): the stand-in runs the app's Custom JS, which
   * would otherwise report the test's own page views as the signed-in user's activity.
   */
  stubCustomJs?: boolean;
}

export interface OpenOptions {
  /** What the dashboard opens at: a query string of /app (the stand-in's `path`). */
  path?: string;
  viewport?: { width: number; height: number };
  /** For axe, whose script the dashboard's CSP would refuse. */
  bypassCSP?: boolean;
}

export interface CrmBrowser {
  stack: Stack;
  browser: Browser;
  /** Every context's Watch, in the order they were opened. */
  watches: Watch[];
  /** The CRM stand-in's URL, signed in as `as`, the dashboard at `path`. */
  url(as: string, path?: string): string;
  /** A new browser context with the CRM stand-in open as `as`, the dashboard framed and signed in. */
  open(as: string, opts?: OpenOptions): Promise<Session>;
  /** Another tab of `s`'s context (same cookies, same Watch) with the stand-in open as `as` at `path`, not waited for. */
  tab(s: Session, as: string, path: string): Promise<Session>;
  /** Closes every context opened and the browser. */
  close(): Promise<void>;
}

function watch(stack: Stack, context: BrowserContext, label: string): Watch {
  const w: Watch = { label, problems: [], inflight: new Set(), api: [], token: null };
  context.on("console", (m) => {
    if (m.type() === "error") w.problems.push(`console error: ${m.text()} at ${m.location().url}`);
  });
  context.on("weberror", (e) => w.problems.push(`uncaught: ${e.error().message}`));
  context.on("request", (r) => w.inflight.add(r));
  context.on("requestfailed", (r) => {
    w.inflight.delete(r);
    w.problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`);
  });
  context.on("requestfinished", (r) => w.inflight.delete(r));
  context.on("response", (res) => {
    const req = res.request();
    if (res.status() >= 400) w.problems.push(`HTTP ${res.status()}: ${req.method()} ${res.url()}`);
    if (res.url().startsWith(`${stack.backend.url}/v1/`)) w.api.push({ method: req.method(), url: res.url(), body: req.postData(), status: res.status() });
    if (res.url() === `${stack.backend.url}/v1/auth/highlevel` && res.ok()) w.token = res.json().then((b: { token: string }) => b.token);
  });
  return w;
}

/** Launches Chromium for `stack`'s CRM stand-in. */
export async function openCrmBrowser(stack: Stack, options: CrmBrowserOptions = {}): Promise<CrmBrowser> {
  const browser = await launchBrowser();
  const contexts: BrowserContext[] = [];
  const watches: Watch[] = [];
  const readyTestId = options.readyTestId ?? "tab-overview";
  const crm: CrmBrowser = {
    stack,
    browser,
    watches,
    url(as, path) {
      const url = new URL("crm", stack.demoUrl);
      url.searchParams.set("as", as);
      if (path) url.searchParams.set("path", path);
      return url.toString();
    },
    async open(as, opts = {}) {
      const context = await browser.newContext({
        viewport: opts.viewport ?? { width: 1280, height: 900 },
        ...(opts.bypassCSP ? { bypassCSP: true } : {}),
      });
      contexts.push(context);
      if (options.stubCustomJs) {
        await context.route(`${stack.edge.url}/**`, (route) =>
          route.fulfill(route.request().resourceType() === "script" ? { body: "", contentType: "text/javascript" } : { status: 204, body: "" }),
        );
      }
      const w = watch(stack, context, as);
      watches.push(w);
      const page = await context.newPage();
      await page.goto(crm.url(as, opts.path));
      const app = page.frameLocator("#app");
      // signed in: the header with its tabs is there
      await app.getByTestId(readyTestId).waitFor({ timeout: 20_000 });
      return { context, page, app, watch: w, appUrl: stack.appUrl };
    },
    async tab(s, as, path) {
      const page = await s.context.newPage();
      await page.goto(crm.url(as, path));
      return { ...s, page, app: page.frameLocator("#app") };
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
  return crm;
}

/** The dashboard's frame (its URL holds the page's state). */
export function appFrame(s: Session): Frame {
  const frame = s.page.frames().find((f) => f.url().startsWith(s.appUrl));
  if (!frame) throw new Error(`no dashboard frame in ${s.page.frames().map((f) => f.url()).join(", ")}`);
  return frame;
}

export const appParams = (s: Session): URLSearchParams => new URL(appFrame(s).url()).searchParams;

/**
 * Waits until the dashboard has nothing loading: no request in flight, no busy panel, no skeleton or spinner,
 * three checks in a row (a click's re-render and its requests start a moment after the click).
 */
export async function settled(s: Session, timeoutMs = 20_000): Promise<void> {
  let quiet = 0;
  await eventually(
    async () => {
      const busy = s.watch.inflight.size > 0 || (await s.app.locator('[aria-busy="true"], .skeleton, .spinner').count()) > 0;
      quiet = busy ? 0 : quiet + 1;
      return quiet >= 3 ? true : undefined;
    },
    timeoutMs,
    `the dashboard (${s.watch.label}) to finish loading`,
  );
}

/**
 * Once settled, axe on the dashboard's frame (the session opened with `bypassCSP`): it looked at the page (over ten
 * rules passed) and found no serious or critical violation on `where`.
 */
export async function expectAccessible(s: Session, where: string): Promise<void> {
  await settled(s);
  const frame = appFrame(s);
  if (!(await frame.evaluate(() => "axe" in window))) await frame.addScriptTag({ path: join(ROOT, "node_modules/axe-core/axe.min.js") });
  const { violations, passes } = await frame.evaluate(async () => {
    type Result = { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] };
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Result[]; passes: Result[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${JSON.stringify(n.target)}: ${n.failureSummary ?? ""}`) })),
    };
  });
  // axe looked at the page (rules that apply and pass), not at an empty document
  expect(passes, `axe rules passed on ${where}`).toBeGreaterThan(10);
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) console.log(`axe on ${where}:\n${JSON.stringify(bad, null, 2)}`);
  expect(bad, `serious or critical violations on ${where}`).toEqual([]);
}

/**
 * Runs `use` with the directory for the docs' screenshots: docs/ with `UPDATE_SCREENSHOTS=1`, otherwise a temporary
 * directory (named from `prefix`) removed afterwards.
 */
export async function withScreenshotDir(prefix: string, use: (dir: string) => Promise<void>): Promise<void> {
  const update = process.env.UPDATE_SCREENSHOTS === "1";
  const dir = update ? join(ROOT, "docs") : mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  try {
    await use(dir);
  } finally {
    if (!update) rmSync(dir, { recursive: true, force: true });
  }
}

/** Once settled, a screenshot of `s`'s page as `dir`/`name`, checked to be more than an empty page (> 20 KiB). */
export async function screenshot(s: Session, dir: string, name: string): Promise<void> {
  await settled(s);
  const path = join(dir, name);
  await s.page.screenshot({ path });
  expect(statSync(path).size, name).toBeGreaterThan(20 * 1024);
}

/**
 * Stops the stack (if it started) and drops the test's MongoDB database and its MariaDB database on the server the
 * global setup started (also when the stack failed to start after creating the database).
 */
export async function stopStackAndDrop(stack: Stack | undefined, dbs: { mongoDb: string; mariadbDb: string }): Promise<void> {
  await stack?.stop();
  if (stack) {
    const mongo = await connectMongo(stack.mongo.url, dbs.mongoDb).catch(() => null);
    await mongo?.db.dropDatabase().catch(() => {});
    await mongo?.close();
  }
  const conn = await mysql.createConnection({ uri: inject("mariadbUrl") }).catch(() => null);
  await conn?.query(`DROP DATABASE IF EXISTS \`${dbs.mariadbDb}\``).catch(() => {});
  await conn?.end();
}
