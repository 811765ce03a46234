import { describe, expect, it } from "vitest";
import { queueMessageSchema } from "#contracts";
import { demoHistory } from "./demo-history.ts";

describe("demo history", () => {
  const sites = [
    { siteId: "a", origin: "https://a.example", timezone: "UTC", formId: "contact", pages: ["/", "/pricing", "/contact"], visitsPerDay: 30 },
    { siteId: "b", origin: "https://b.example", timezone: "America/New_York", formId: "book", pages: ["/", "/team"], visitsPerDay: 10 },
  ];
  const now = Date.UTC(2026, 10, 29, 12);
  const messages = demoHistory(sites, { days: 21, now });

  it("makes messages the drain accepts as they are, one visit each, all in the past", () => {
    expect(messages.length).toBeGreaterThan(21 * 30);
    for (const m of messages) {
      expect(queueMessageSchema.safeParse(m).error?.issues).toBeUndefined();
      expect(new Set(m.events.map((e) => e.sessionId)).size).toBe(1);
      expect(m.receivedAt).toBeLessThan(now);
      for (const e of m.events) expect(e.ts).toBeLessThanOrEqual(m.receivedAt);
    }
  });

  it("covers both sites, and has leads, partial leads, campaigns, countries and devices to show", () => {
    const events = messages.flatMap((m) => m.events);
    expect(new Set(messages.map((m) => m.siteId))).toEqual(new Set(["a", "b"]));
    expect(events.filter((e) => e.type === "form_submission").length).toBeGreaterThan(20);
    expect(events.filter((e) => e.type === "form_interaction").length).toBeGreaterThan(events.filter((e) => e.type === "form_submission").length);
    expect(new Set(events.flatMap((e) => (e.attribution?.utm?.source ? [e.attribution.utm.source] : []))).size).toBeGreaterThanOrEqual(3);
    expect(new Set(messages.map((m) => m.geo.country)).size).toBeGreaterThanOrEqual(5);
    expect(new Set(messages.map((m) => m.ua)).size).toBeGreaterThanOrEqual(5);
  });

  it("is the same for the same seed", () => {
    const again = demoHistory(sites, { days: 21, now });
    expect(again.map((m) => [m.siteId, m.receivedAt, m.events.length])).toEqual(messages.map((m) => [m.siteId, m.receivedAt, m.events.length]));
  });
});
