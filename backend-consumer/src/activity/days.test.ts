/** The pure rollup rules of team activity: trusted times, what events add to a user's day, and the team copies. */
import { describe, expect, it } from "vitest";
import { applyEvents, briefEntry, locationEntry, MAX_FUTURE_MS, MAX_PAST_MS, parseBrief, sessionKey, trustedTs, userKey, type DayEvent } from "./days.ts";

const T = Date.UTC(2025, 4, 1, 12);
const ev = (over: Partial<DayEvent>): DayEvent => ({ type: "view", ts: T, loc: "L1", session: "s1", view: "v1", path: "/contacts", page: "Contacts", ms: 0, ...over });

describe("trustedTs", () => {
  it.each([
    ["a time within the window", T - 1000, T - 1000],
    ["a clock far in the future", T + 3_600_000, T + MAX_FUTURE_MS],
    ["an event queued offline for weeks", T - 30 * 86_400_000, T - MAX_PAST_MS],
  ])("keeps or clamps %s", (_name, ts, expected) => {
    expect(trustedTs(ts, T)).toBe(expected);
  });
});

describe("applyEvents", () => {
  const events = [
    ev({ type: "view" }),
    ev({ type: "time", ts: T + 30_000, ms: 30_000 }),
    ev({ type: "view", ts: T + 40_000, view: "v2", page: "Opportunities", path: "/opportunities" }),
    ev({ type: "time", ts: T + 50_000, ms: 10_000, view: "v2", page: "Opportunities", path: "/opportunities" }),
    ev({ type: "view", ts: T + 60_000, view: "v3", session: "s2", loc: "agency", page: "Dashboard", path: "/" }),
  ];

  it("counts page views and active time per location and page, with sessions and the latest event", () => {
    const { cells, views } = applyEvents({ cells: [], views: [] }, events);
    expect(cells).toEqual([
      { loc: "L1", page: "Contacts", pv: 1, ms: 30_000, s: [sessionKey("s1")], z: T + 30_000 },
      { loc: "L1", page: "Opportunities", pv: 1, ms: 10_000, s: [sessionKey("s1")], z: T + 50_000 },
      { loc: "agency", page: "Dashboard", pv: 1, ms: 0, s: [sessionKey("s2")], z: T + 60_000 },
    ]);
    expect(views.map((v) => [v.w, v.at, v.ms, v.pv])).toEqual([
      ["v1", T, 30_000, 1],
      ["v2", T + 40_000, 10_000, 1],
      ["v3", T + 60_000, 0, 1],
    ]);
    expect(locationEntry("u1", "agency", cells)).toEqual({ id: "u1", role: "agency", c: [["L1", 2, 40_000, [sessionKey("s1")], T + 50_000], ["agency", 1, 0, [sessionKey("s2")], T + 60_000]] });
  });

  it("gives the same day whatever order and grouping the events come in", () => {
    const once = applyEvents({ cells: [], views: [] }, events);
    const reversed = applyEvents({ cells: [], views: [] }, [...events].reverse());
    const inTwo = applyEvents(applyEvents({ cells: [], views: [] }, events.slice(3)), events.slice(0, 3));
    const norm = (d: typeof once) => JSON.stringify([[...d.cells].sort((a, b) => (a.page < b.page ? -1 : 1)), [...d.views].sort((a, b) => (a.w < b.w ? -1 : 1))]);
    expect(norm(reversed)).toBe(norm(once));
    expect(norm(inTwo)).toBe(norm(once));
  });

  it("starts a view known only from its time events at the earliest of them, and does not count it as a page view", () => {
    const { cells, views } = applyEvents({ cells: [], views: [] }, [ev({ type: "time", ts: T + 20_000, ms: 5_000 }), ev({ type: "time", ts: T + 10_000, ms: 8_000 })]);
    expect(views[0]).toMatchObject({ at: T + 2_000, ms: 13_000, pv: 0 });
    expect(cells[0]).toMatchObject({ pv: 0, ms: 13_000 });
  });
});

describe("userKey", () => {
  it("keeps UUIDs and encodes ids MongoDB could not take as a key", () => {
    expect(userKey("0b8e3c1e-0c2a-4a51-9f57-3c6a1e0f2d11")).toBe("0b8e3c1e-0c2a-4a51-9f57-3c6a1e0f2d11");
    expect(userKey("a.b")).not.toContain(".");
    expect(userKey("$x")).not.toMatch(/^\$/);
    expect(userKey("a.b")).not.toBe(userKey("a_b"));
  });
});

describe("briefEntry", () => {
  it("keeps a location entry's numbers without its session keys, and reads back", () => {
    const entry = locationEntry("user-1", "agency", [
      { loc: "L1", page: "Contacts", pv: 2, ms: 30_000, s: [sessionKey("s1")], z: T },
      { loc: "agency", page: "Dashboard", pv: 1, ms: 5_000, s: [sessionKey("s2")], z: T + 1 },
    ]);
    const brief = briefEntry(entry);
    expect(brief).toBe(`user-1|agency|L1,2,30000,${T};agency,1,5000,${T + 1}`);
    expect(parseBrief(brief)).toEqual({ id: "user-1", role: "agency", c: [["L1", 2, 30_000, [], T], ["agency", 1, 5_000, [], T + 1]] });
    expect(parseBrief("user-2|location|")).toEqual({ id: "user-2", role: "location", c: [] });
  });
});
