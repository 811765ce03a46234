// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from "vitest";
import type * as IdsModule from "./ids.ts";
import type * as StorageModule from "./storage.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const THIRTY_MINUTES = 30 * 60 * 1000;

let ids: typeof IdsModule;
let storage: typeof StorageModule;

beforeEach(async () => {
  localStorage.clear();
  vi.resetModules();
  storage = await import("./storage.ts");
  ids = await import("./ids.ts");
});

describe("ids", () => {
  it("makes distinct v4 uuids", () => {
    const made = new Set(Array.from({ length: 500 }, ids.uuid));
    expect(made.size).toBe(500);
    for (const id of made) expect(id).toMatch(UUID_V4);
  });

  it("keeps one visitor id, in localStorage once storage is allowed", () => {
    storage.persist(true);
    const id = ids.visitorId();
    expect(ids.visitorId()).toBe(id);
    expect(localStorage.getItem("lt_vid")).toBe(id);
  });

  it("keeps ids in memory only while storage is not allowed", () => {
    const id = ids.visitorId();
    expect(ids.visitorId()).toBe(id);
    expect(localStorage.length).toBe(0);
  });

  it("keeps the session while active and starts a new one after 30 minutes of inactivity", () => {
    const t0 = 1_000_000;
    const first = ids.session(t0);
    expect(first.isNew).toBe(true);
    expect(ids.session(t0 + THIRTY_MINUTES - 1)).toEqual({ id: first.id, isNew: false });
    // activity moved the deadline: 59 minutes after the start is still the same session
    expect(ids.session(t0 + 2 * THIRTY_MINUTES - 2)).toEqual({ id: first.id, isNew: false });
    const afterGap = ids.session(t0 + 4 * THIRTY_MINUTES);
    expect(afterGap.isNew).toBe(true);
    expect(afterGap.id).not.toBe(first.id);
  });

  it("shares the session with other tabs through storage", () => {
    storage.persist(true);
    const t0 = 5_000_000;
    localStorage.setItem("lt_sid", `other-tab-session|${t0 - 1000}`);
    expect(ids.session(t0)).toEqual({ id: "other-tab-session", isNew: false });
  });

  it("starts a new session when the stored one is unreadable", () => {
    storage.persist(true);
    localStorage.setItem("lt_sid", "garbage");
    expect(ids.session(Date.now()).isNew).toBe(true);
  });
});
