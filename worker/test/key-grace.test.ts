/**
 * A rotated-out site key at the edge: its KV entry carries `validUntil`; before it the loader, the config route and
 * ingest serve the key as any other, from it on they answer exactly as they do for an unknown key, even while KV
 * and the isolate cache still hold the entry (the backend may be down).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { QueueMessage } from "#contracts";
import { call, makeEvent, postEvents, putSites, siteConfig, spyOnQueue } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const answers = async (siteKey: string) => {
  const loader = await call(`/s/${siteKey}.js`);
  const config = await call(`/v1/config/${siteKey}`);
  const events = await postEvents({ siteKey, events: [makeEvent()] });
  return {
    loader: { status: loader.status, cache: loader.headers.get("cache-control"), body: (await loader.text()).replaceAll(siteKey, "<key>") },
    config: { status: config.status, body: await config.json() },
    events: { status: events.status, body: await events.json() },
  };
};

describe("a rotated-out key in its grace period", () => {
  it("works for loader, config and ingest before validUntil, under the same site id", async () => {
    await putSites(siteConfig("old-key", { siteId: "site-9", validUntil: Date.now() + 60_000 }));
    const send = spyOnQueue();
    const loader = await call("/s/old-key.js");
    expect(loader.status).toBe(200);
    expect(loader.headers.get("cache-control")).toBe("public, max-age=5");
    expect(await loader.text()).toContain('"siteKey":"old-key"');
    expect((await call("/v1/config/old-key")).status).toBe(200);
    expect((await postEvents({ siteKey: "old-key", events: [makeEvent()] })).status).toBe(202);
    expect((send.mock.calls[0]![0] as QueueMessage).siteId).toBe("site-9");
  });

  it("caches its loader no longer than the grace period has left", async () => {
    await putSites(siteConfig("short-key", { validUntil: Date.now() + 2_500 }));
    const cache = (await call("/s/short-key.js")).headers.get("cache-control");
    expect(cache).toMatch(/^public, max-age=[12]$/);
  });

  it("answers after validUntil exactly as for an unknown key", async () => {
    await putSites(siteConfig("expired-key", { validUntil: Date.now() - 1 }));
    const send = spyOnQueue();
    const expired = await answers("expired-key");
    const unknown = await answers("never-issued");
    expect(expired).toEqual(unknown);
    expect(expired.loader.body).toMatch(/^console\.info\(".*unknown or inactive.*"\);$/);
    expect(expired.config.status).toBe(404);
    expect(expired.events.status).toBe(401);
    expect(send).not.toHaveBeenCalled();
  });

  it("stops on time by the edge's clock even while the isolate cache holds the entry", async () => {
    await putSites(siteConfig("ending-key", { validUntil: Date.now() + 300 }));
    expect((await postEvents({ siteKey: "ending-key", events: [makeEvent()] })).status).toBe(202);
    await new Promise((r) => setTimeout(r, 350)); // still within the 0.5 s isolate cache
    expect((await postEvents({ siteKey: "ending-key", events: [makeEvent()] })).status).toBe(401);
    expect((await call("/v1/config/ending-key")).status).toBe(404);
  });
});
