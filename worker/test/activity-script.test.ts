import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_PAGE_NAMES, type ActivityScriptConfig } from "#contracts";
import { ACTIVITY_SOURCE, ACTIVITY_VERSION } from "../src/generated/activity.ts";
import worker from "../src/index.ts";
import { ORIGIN } from "./helpers.ts";

const PREFIX = "(function(LT_ACTIVITY_CONFIG){";

/** The test env with an app id and `vars` changed, as a deployment with them would see it. */
const withVars = (vars: Record<string, string>): Env => ({ ...env, HIGHLEVEL_APP_ID: "app-1", ...vars }) as unknown as Env;

/** GET /crm/activity.js under `vars`. */
async function script(vars: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const request = new Request(`${ORIGIN}/crm/activity.js`, { headers });
  return worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, withVars(vars), ctx);
}

/** The config inlined into the script (the JSON between the wrapper and its call). */
function inlined(js: string): ActivityScriptConfig {
  expect(js.startsWith(PREFIX + ACTIVITY_SOURCE + "})(")).toBe(true);
  expect(js.endsWith(");")).toBe(true);
  return JSON.parse(js.slice(PREFIX.length + ACTIVITY_SOURCE.length + 3, -2));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("GET /crm/activity.js", () => {
  it("serves the activity build with its config from the Worker's vars", async () => {
    const res = await script();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("etag")).toMatch(new RegExp(`^"${ACTIVITY_VERSION}-[0-9a-f]{16}"$`));
    expect(inlined(await res.text())).toEqual({
      appId: "app-1",
      tokenUrl: env.ACTIVITY_TOKEN_URL,
      endpoint: `${env.EDGE_PUBLIC_URL}/v1/activity`,
      idleMs: 60_000,
      pages: DEFAULT_PAGE_NAMES,
    });
  });

  it("takes the endpoint from EDGE_PUBLIC_URL, never from the request's Host", async () => {
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const forged = new Request("https://evil.example/crm/activity.js", { headers: { host: "evil.example", "x-forwarded-host": "evil.example" } });
    const res = await worker.fetch(forged as Request<unknown, IncomingRequestCfProperties>, withVars({ EDGE_PUBLIC_URL: "https://edge.test/" }), ctx);
    const js = await res.text();
    expect(js).not.toContain("evil.example");
    expect(inlined(js).endpoint).toBe("https://edge.test/v1/activity");
  });

  it("answers 304 to its ETag, and has another ETag when the config changes", async () => {
    const etag = (await script()).headers.get("etag")!;
    const again = await script({}, { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const other = await script({ ACTIVITY_IDLE_SECONDS: "90" }, { "if-none-match": etag });
    expect(other.status).toBe(200);
    expect(other.headers.get("etag")).not.toBe(etag);
    expect(inlined(await other.text()).idleMs).toBe(90_000);
  });

  it.each([["abc"], ["0"], ["-5"], [""]])("falls back to 60 s for an idle timeout of %j", async (value) => {
    expect(inlined(await (await script({ ACTIVITY_IDLE_SECONDS: value })).text()).idleMs).toBe(60_000);
  });

  it("merges ACTIVITY_PAGE_NAMES over the default names", async () => {
    const pages = JSON.stringify({ contacts: "People", "custom-page-link/:id": "Our app" });
    const config = inlined(await (await script({ ACTIVITY_PAGE_NAMES: pages })).text());
    expect(config.pages).toEqual({ ...DEFAULT_PAGE_NAMES, contacts: "People", "custom-page-link/:id": "Our app" });
  });

  it.each([["not json"], ['["contacts"]'], ['{"contacts": 5}'], [JSON.stringify({ contacts: "x".repeat(65) })]])(
    "ignores an invalid ACTIVITY_PAGE_NAMES (%s) with a warning, keeping the defaults",
    async (value) => {
      const log = vi.spyOn(console, "log").mockImplementation(() => {});
      const config = inlined(await (await script({ ACTIVITY_PAGE_NAMES: value })).text());
      expect(config.pages).toEqual(DEFAULT_PAGE_NAMES);
      const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)));
      expect(lines).toContainEqual(expect.objectContaining({ level: "warn", msg: expect.stringContaining("ACTIVITY_PAGE_NAMES ignored") }));
    },
  );

  it("embeds configured values so that they cannot end the script", async () => {
    const evil = { contacts: "</script><script>alert(1)</script>", "a\u2028b": "<!--" };
    const res = await script({ ACTIVITY_PAGE_NAMES: JSON.stringify(evil) });
    const js = await res.text();
    const config = js.slice(PREFIX.length + ACTIVITY_SOURCE.length);
    expect(config).not.toMatch(/<\/script|<!--|\u2028/i);
    expect(inlined(js).pages).toMatchObject(evil);
  });

  it.each([["HIGHLEVEL_APP_ID"], ["ACTIVITY_TOKEN_URL"]])("without %s, serves a script that only says tracking is off", async (name) => {
    const res = await script({ [name]: "" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await res.text()).toMatch(/^console\.debug\("\[LeadTracker activity\] off: no app id[^"]*"\);$/);
  });
});
