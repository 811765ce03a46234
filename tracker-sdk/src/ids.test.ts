import { describe, expect, it } from "vitest";
import { SESSION_TIMEOUT_MS, sessionId, uuid, visitorId } from "./ids.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("ids (storage unavailable: memory fallback)", () => {
  it("makes v4 uuids, also without crypto.randomUUID", () => {
    expect(uuid()).toMatch(UUID_V4);
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, "randomUUID", { value: undefined, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 100 }, uuid));
      expect(ids.size).toBe(100);
      for (const id of ids) expect(id).toMatch(UUID_V4);
    } finally {
      Object.defineProperty(crypto, "randomUUID", { value: original, configurable: true });
    }
  });

  it("keeps one visitor id", () => {
    expect(visitorId()).toBe(visitorId());
  });

  it("keeps the session while active and starts a new one after 30 minutes of inactivity", () => {
    const t0 = 1_000_000;
    const first = sessionId(t0);
    const later = sessionId(t0 + SESSION_TIMEOUT_MS - 1);
    expect(later).toEqual({ id: first.id, isNew: false });
    const afterGap = sessionId(t0 + 2 * SESSION_TIMEOUT_MS);
    expect(afterGap.isNew).toBe(true);
    expect(afterGap.id).not.toBe(first.id);
  });
});
