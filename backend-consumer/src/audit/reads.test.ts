import { afterEach, describe, expect, it, vi } from "vitest";
import type { auditLog } from "../config/schema.ts";
import { LeadReadAudit, leadReadAudit } from "./reads.ts";
import type { AuditWriter } from "./audit.ts";

type Row = typeof auditLog.$inferInsert;

/** A stand-in for the pool: records every INSERT (one call = one statement), or fails while `fail` says so. */
function fakeDb() {
  const statements: Row[][] = [];
  const state = { fail: null as Error | null };
  const db = {
    insert: () => ({
      values: async (rows: Row[]) => {
        if (state.fail) throw state.fail;
        statements.push(rows);
      },
    }),
  } as unknown as AuditWriter;
  return { db, statements, state, rows: () => statements.flat() };
}

const T0 = Date.UTC(2025, 4, 6, 10, 59, 0); // 10:59 UTC: the next hour is a minute away
const ada = { tenantId: "t1", userId: "u-ada", role: "agency" };
const lou = { tenantId: "t1", userId: "u-lou", role: "location" };

afterEach(() => {
  vi.useRealTimers();
});

describe("lead read aggregation", () => {
  it("writes one leads.read entry per tenant, location, user and hour, with reads, distinct leads and kinds", async () => {
    let now = T0;
    const { db, statements, rows } = fakeDb();
    const audit = new LeadReadAudit(db, { now: () => now });
    audit.record(ada, "loc-1", ["l1", "l2"], "list");
    now += 1_000;
    audit.record(ada, "loc-1", ["l2", "l3"], "list");
    audit.record(ada, "loc-1", ["l3"], "detail");
    audit.record(ada, "loc-1", ["l3"], "timeline");
    audit.record(ada, "loc-2", ["l9"], "list");
    audit.record(lou, "loc-1", [], "list");
    now += 60_000; // 11:00:01: a new hour, a new entry
    audit.record(ada, "loc-1", ["l1"], "detail");
    expect(audit.size).toBe(4);

    expect(await audit.flush()).toBe(4);
    expect(statements).toHaveLength(1); // one INSERT for the whole flush
    const byKey = Object.fromEntries(rows().map((r) => [`${r.actorId}|${r.locationId}|${(r.meta as { hour: string }).hour}`, r]));
    expect(byKey["u-ada|loc-1|2025-05-06T10:00:00.000Z"]).toMatchObject({
      tenantId: "t1",
      locationId: "loc-1",
      actorId: "u-ada",
      actorRole: "agency",
      action: "leads.read",
      targetType: "lead",
      targetId: null,
      changes: null,
      meta: { reads: 4, leads: 3, kinds: { list: 2, detail: 1, timeline: 1 }, from: new Date(T0).toISOString(), to: new Date(T0 + 1_000).toISOString() },
    });
    expect(byKey["u-ada|loc-2|2025-05-06T10:00:00.000Z"]?.meta).toMatchObject({ reads: 1, leads: 1 });
    expect(byKey["u-lou|loc-1|2025-05-06T10:00:00.000Z"]?.meta).toMatchObject({ reads: 1, leads: 0, kinds: { list: 1, detail: 0, timeline: 0 } });
    expect(byKey["u-ada|loc-1|2025-05-06T11:00:00.000Z"]?.meta).toMatchObject({ reads: 1, leads: 1, kinds: { detail: 1 } });
    // no lead ids in the trail, only counts
    expect(JSON.stringify(rows())).not.toMatch(/"l[0-9]"/);

    // flushed counts are gone; the next flush writes only what came since
    expect(await audit.flush()).toBe(0);
    audit.record(ada, "loc-1", ["l1"], "detail");
    expect(await audit.flush()).toBe(1);
    expect(rows().at(-1)?.meta).toMatchObject({ reads: 1 });
    await audit.stop();
  });

  it("keeps the counts of a failed write and adds them to the next one", async () => {
    let now = T0;
    const { db, rows, state } = fakeDb();
    const audit = new LeadReadAudit(db, { now: () => now, log: () => {} });
    audit.record(ada, "loc-1", ["l1", "l2"], "list");
    state.fail = new Error("Lost connection to the server");
    await expect(audit.flush()).rejects.toThrow(/Lost connection/);
    expect(rows()).toEqual([]);
    now += 5_000;
    audit.record(ada, "loc-1", ["l2", "l3"], "list");
    state.fail = null;
    expect(await audit.flush()).toBe(1);
    expect(rows()).toHaveLength(1);
    expect(rows()[0]?.meta).toMatchObject({ reads: 2, leads: 3, from: new Date(T0).toISOString(), to: new Date(T0 + 5_000).toISOString() });
    await audit.stop();
  });

  it("flushes every interval by itself, and on stop; reads after stop are not counted", async () => {
    vi.useFakeTimers({ now: T0 });
    const { db, rows } = fakeDb();
    const audit = new LeadReadAudit(db, { intervalMs: 60_000 });
    audit.record(ada, "loc-1", ["l1"], "list");
    await vi.advanceTimersByTimeAsync(59_000);
    expect(rows()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rows()).toHaveLength(1);
    audit.record(ada, "loc-1", ["l2"], "list");
    await audit.stop();
    expect(rows()).toHaveLength(2);
    audit.record(ada, "loc-1", ["l3"], "list");
    expect(audit.size).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(rows()).toHaveLength(2);
  });

  it("loses at most one interval of counts when the database never comes back, and stop does not throw", async () => {
    const logged: string[] = [];
    const { db, state } = fakeDb();
    const audit = new LeadReadAudit(db, { now: () => T0, log: (msg) => logged.push(msg) });
    audit.record(ada, "loc-1", ["l1"], "list");
    state.fail = new Error("connect ECONNREFUSED");
    await expect(audit.stop()).resolves.toBeUndefined();
    expect(logged.join("\n")).toMatch(/lost at shutdown/);
  });

  it("bounds memory: distinct leads per entry (a lower bound beyond it) and pending entries", async () => {
    const { db, rows } = fakeDb();
    const audit = new LeadReadAudit(db, { now: () => T0, maxLeadsPerEntry: 3, maxPending: 2 });
    audit.record(ada, "loc-1", ["a", "b", "c", "d", "e"], "list");
    audit.record(ada, "loc-2", [], "list");
    audit.record(ada, "loc-3", [], "list"); // a third pending entry: dropped
    expect(audit.dropped).toBe(1);
    await audit.flush();
    expect(rows().find((r) => r.locationId === "loc-1")?.meta).toMatchObject({ leads: 3, leadsCapped: true, reads: 1 });
    expect(rows()).toHaveLength(2);
    await audit.stop();
  });

  it("drops (and says so) what a closed pool cannot take, instead of retrying forever", async () => {
    const logged: string[] = [];
    const { db, state } = fakeDb();
    const audit = new LeadReadAudit(db, { now: () => T0, log: (msg) => logged.push(msg) });
    audit.record(ada, "loc-1", ["l1"], "list");
    state.fail = Object.assign(new Error("Pool is closed."), { code: "POOL_CLOSED" });
    expect(await audit.flush()).toBe(0);
    expect(audit.size).toBe(0);
    expect(audit.dropped).toBe(1);
    expect(logged.join("\n")).toMatch(/pool is closed/);
  });

  it("gives one aggregator per database handle", () => {
    const a = fakeDb().db;
    const b = fakeDb().db;
    expect(leadReadAudit(a)).toBe(leadReadAudit(a));
    expect(leadReadAudit(a)).not.toBe(leadReadAudit(b));
  });
});
