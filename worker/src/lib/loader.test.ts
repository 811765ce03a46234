import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { SiteConfig } from "#contracts";
import { embedJson, renderLoader, renderNoopLoader } from "./loader.ts";

const HOSTILE = [
  "</script><script>globalThis.pwned=1</script>",
  '";globalThis.pwned=1;"',
  "'-(globalThis.pwned=1)-'",
  "\\\";globalThis.pwned=1;//",
  "line\u2028sep\u2029para",
  "<!--<script>",
  "${globalThis.pwned=1}",
  "]});globalThis.pwned=1;({a:[",
];

function hostileConfig(): SiteConfig {
  return {
    siteId: HOSTILE[0]!,
    siteKey: "k",
    version: 3,
    features: { [HOSTILE[1]!]: true },
    consent: { mode: "opt-in", respectDoNotTrack: true },
    retentionDays: 90,
    debug: false,
    allowedOrigins: HOSTILE,
    forms: [
      {
        id: "f",
        name: HOSTILE[2]!,
        selector: HOSTILE[3]!,
        alternativeSelectors: HOSTILE,
        pageUrlPattern: HOSTILE[4]!,
        fields: [{ selector: HOSTILE[5]!, name: HOSTILE[6]!, type: HOSTILE[7]!, required: false, sensitive: true }],
      },
    ],
  };
}

/** Runs loader JS in a bare context with just enough of window/document to see what it does. */
function run(js: string) {
  const appended: { async?: boolean; src?: string }[] = [];
  const win: Record<string, unknown> = {};
  const document = {
    createElement: () => ({}) as { async?: boolean; src?: string },
    head: { appendChild: (el: { src?: string }) => appended.push(el) },
  };
  const logs: unknown[] = [];
  const context = { window: win, document, console: { info: (...a: unknown[]) => logs.push(a.join(" ")) }, globalThis: {} as Record<string, unknown> };
  context.globalThis = context as unknown as Record<string, unknown>;
  runInNewContext(js, context);
  return { win, appended, logs, context: context as unknown as Record<string, unknown> };
}

describe("loader", () => {
  it("inlines the config, installs the call queue and appends the SDK script", () => {
    const config = hostileConfig();
    const { win, appended, context } = run(renderLoader(config, "https://edge.test/sdk/abc.js", "https://edge.test"));
    const lt = win.LeadTracker as { (...a: unknown[]): void; c: unknown; e: string; q?: unknown[] };
    expect(lt.c).toEqual(config);
    expect(lt.e).toBe("https://edge.test");
    expect(appended).toEqual([{ async: true, src: "https://edge.test/sdk/abc.js" }]);
    lt("track", "early");
    expect(lt.q).toHaveLength(1);
    expect(context.pwned).toBeUndefined();
  });

  it("cannot be broken out of when embedded in an HTML page", () => {
    const js = renderLoader(hostileConfig(), "https://edge.test/sdk/abc.js", "https://edge.test");
    expect(js).not.toMatch(/<\/script/i);
    expect(js).not.toContain("<!--");
    expect(js).not.toMatch(/[\u2028\u2029]/);
  });

  it("keeps a stub installed by the page before the loader ran", () => {
    const js = renderLoader(hostileConfig(), "https://edge.test/sdk/abc.js", "https://edge.test");
    const pre = Object.assign(() => {}, { q: [["identify", "a@b.c"]] });
    const appended: unknown[] = [];
    runInNewContext(js, {
      window: { LeadTracker: pre },
      document: { createElement: () => ({}), head: { appendChild: (e: unknown) => appended.push(e) } },
    });
    expect(pre.q).toEqual([["identify", "a@b.c"]]);
    expect((pre as unknown as { c: SiteConfig }).c.siteKey).toBe("k");
  });

  it("the no-op loader for an unknown site is valid JavaScript that only logs", () => {
    const { logs, appended, win } = run(renderNoopLoader("nope"));
    expect(logs[0]).toContain('site key "nope" is unknown or inactive');
    expect(appended).toEqual([]);
    expect(win).toEqual({});
  });

  it("embedJson round-trips every hostile string", () => {
    for (const s of HOSTILE) expect(runInNewContext(`(${embedJson(s)})`)).toBe(s);
  });
});
