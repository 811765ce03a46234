import { describe, expect, it } from "vitest";
import { activityQueueMessageSchema, type Actor } from "#contracts";
import { demoActivity } from "./demo-activity.ts";

describe("demo activity", () => {
  const actor = (userId: string, locationId: string | null, role: Actor["role"] = "location"): Actor => ({ userId, tenantId: "t", locationId, role, timezone: "UTC", retentionDays: 90 });
  const actors = [
    { actor: actor("agency-1", null, "agency"), sessionsPerDay: 1 },
    { actor: actor("loc-user-1", "l1"), crmLocationId: "crmLoc1", sessionsPerDay: 3 },
    { actor: actor("loc-user-2", "l2"), crmLocationId: "crmLoc2", sessionsPerDay: 2 },
  ];
  const now = Date.UTC(2026, 10, 30, 12);
  const messages = demoActivity(actors, { days: 28, now });

  it("makes activity messages the drain accepts as they are, all in the past", () => {
    expect(messages.length).toBeGreaterThan(28 * 4);
    for (const m of messages) {
      expect(activityQueueMessageSchema.safeParse(m).error?.issues).toBeUndefined();
      expect(m.receivedAt).toBeLessThan(now);
      for (const e of m.events) expect(e.ts).toBeLessThanOrEqual(m.receivedAt);
    }
  });

  it("sends only normalised paths: no CRM location or contact id leaves as it was", () => {
    const events = messages.flatMap((m) => m.events);
    const paths = new Set(events.map((e) => e.path));
    for (const p of paths) expect(p).not.toMatch(/crmLoc|[A-Za-z0-9]{20}/);
    expect(paths).toContain("/v2/location/:locationId/contacts/detail/:id");
    expect(new Set(events.map((e) => e.page)).size).toBeGreaterThanOrEqual(6);
    // every view has its time
    const views = events.filter((e) => e.type === "view").map((e) => e.view);
    const timed = new Set(events.filter((e) => e.type === "time").map((e) => e.view));
    expect(views.every((v) => timed.has(v))).toBe(true);
  });

  it("is the same for the same seed", () => {
    const again = demoActivity(actors, { days: 28, now });
    expect(again.map((m) => [m.actor.userId, m.receivedAt, m.events.length])).toEqual(messages.map((m) => [m.actor.userId, m.receivedAt, m.events.length]));
  });
});
