import { describe, expect, it } from "vitest";
import { erasureError, nextProgress, planErasure, summarizeErasure, type ErasureProgress, type ErasureStatus } from "./erasure.ts";

const webhook = { id: "d-hook", kind: "webhook", erasure: { needsExternalId: false, always: true } };
const hubspot = { id: "d-hs", kind: "hubspot", erasure: { needsExternalId: true, always: false } };
const highlevel = { id: "d-hl", kind: "highlevel", erasure: { needsExternalId: true, always: false } };
const legacy = { id: "d-old", kind: "legacy" }; // a kind that cannot erase

const status = (destinationId: string, kind: string, externalId: string | null, erasure?: ErasureProgress): ErasureStatus => ({ destinationId, kind, externalId, ...(erasure ? { erasure } : {}) });
const at = new Date("2026-11-29T12:00:00Z");

describe("planErasure", () => {
  it("tells the destinations that hold the lead, by their contact ids, and every webhook", () => {
    const plan = planErasure([webhook, hubspot, highlevel], [status("d-hs", "hubspot", "1001"), status("d-hl", "highlevel", "hlc-1")]);
    expect(plan.targets.map((t) => [t.dest.id, t.externalId])).toEqual([
      ["d-hook", null],
      ["d-hs", "1001"],
      ["d-hl", "hlc-1"],
    ]);
    expect(plan.settled).toEqual([]);
  });

  it("leaves out CRMs that never had the lead, and names those that hold it but cannot be told", () => {
    const plan = planErasure(
      [webhook, hubspot, highlevel, legacy],
      [status("d-hs", "hubspot", null), status("d-old", "legacy", "x"), status("d-gone", "hubspot", "1002")],
    );
    expect(plan.targets.map((t) => t.dest.id)).toEqual(["d-hook"]);
    expect(plan.settled).toEqual([
      { destinationId: "d-hs", kind: "hubspot", outcome: "no_contact_id" },
      { destinationId: "d-old", kind: "legacy", outcome: "unsupported" },
      { destinationId: "d-gone", kind: "hubspot", outcome: "unreachable" },
    ]);
  });

  it("keeps what has settled, and the progress of what is pending", () => {
    const pending: ErasureProgress = { state: "pending", attempts: 2, nextAt: at, lastError: "erasure failed: HTTP 503", updatedAt: at };
    const plan = planErasure(
      [webhook, hubspot],
      [status("d-hook", "webhook", null, { state: "settled", outcome: "erased", attempts: 1, nextAt: null, lastError: null, updatedAt: at }), status("d-hs", "hubspot", "1001", pending)],
    );
    expect(plan.settled).toEqual([{ destinationId: "d-hook", kind: "webhook", outcome: "erased" }]);
    expect(plan.targets).toEqual([{ dest: hubspot, externalId: "1001", progress: pending }]);
  });

  it("a site without destinations settles every status as unreachable", () => {
    expect(planErasure([], [status("d-hs", "hubspot", "1001")])).toEqual({ targets: [], settled: [{ destinationId: "d-hs", kind: "hubspot", outcome: "unreachable" }] });
  });
});

describe("erasureError", () => {
  it("is a status code or a reason, never the CRM's answer", () => {
    expect(erasureError({ ok: false, reason: "http", status: 503, retryable: true })).toBe("erasure failed: HTTP 503");
    expect(erasureError({ ok: false, reason: "http", status: null, retryable: true })).toBe("erasure failed: HTTP error");
    expect(erasureError({ ok: false, reason: "network", status: null, retryable: true })).toBe("erasure failed: network error");
    expect(erasureError({ ok: false, reason: "timeout", status: null, retryable: true })).toBe("erasure failed: timed out");
    expect(erasureError({ ok: false, reason: "not_connected", status: null, retryable: true })).toMatch(/not connected/);
    expect(erasureError({ ok: false, reason: "unexpected", status: null, retryable: true })).toBe("erasure failed");
    // whatever else an object carries is not read
    expect(erasureError({ ok: false, reason: "http", status: 400, retryable: false, detail: "ada@example.com" } as never)).not.toContain("ada@example.com");
  });
});

describe("nextProgress", () => {
  const opts = { maxAttempts: 3, backoffMs: (n: number) => 1000 * n };

  it("settles on success, naming a contact already gone", () => {
    expect(nextProgress(undefined, { ok: true }, at, opts)).toEqual({ state: "settled", outcome: "erased", attempts: 1, nextAt: null, lastError: null, updatedAt: at });
    expect(nextProgress(undefined, { ok: true, gone: true }, at, opts).outcome).toBe("already_gone");
  });

  it("retries with backoff or Retry-After, whichever is later, and dead-letters at the last attempt", () => {
    const first = nextProgress(undefined, { ok: false, reason: "http", status: 503, retryable: true }, at, opts);
    expect(first).toEqual({ state: "pending", attempts: 1, nextAt: new Date(at.getTime() + 1000), lastError: "erasure failed: HTTP 503", updatedAt: at });
    const second = nextProgress(first, { ok: false, reason: "http", status: 429, retryable: true, retryAfterMs: 30_000 }, at, opts);
    expect(second.nextAt).toEqual(new Date(at.getTime() + 30_000));
    const third = nextProgress(second, { ok: false, reason: "network", status: null, retryable: true }, at, opts);
    expect(third).toMatchObject({ state: "settled", outcome: "dead", attempts: 3, nextAt: null, lastError: "erasure failed: network error" });
  });

  it("settles a refusal no retry changes at once", () => {
    expect(nextProgress(undefined, { ok: false, reason: "http", status: 400, retryable: false }, at, opts)).toMatchObject({ state: "settled", outcome: "refused", attempts: 1 });
  });
});

describe("summarizeErasure", () => {
  it("counts every outcome, ids only", () => {
    const out = summarizeErasure(
      "lead-1",
      "site-1",
      at,
      [
        { destinationId: "d-hook", kind: "webhook", outcome: "erased" },
        { destinationId: "d-hs", kind: "hubspot", outcome: "already_gone" },
        { destinationId: "d-hl", kind: "highlevel", outcome: "dead" },
      ],
      at,
    );
    expect(out.counts).toEqual({ erased: 1, already_gone: 1, refused: 0, dead: 1, no_contact_id: 0, unsupported: 0, unreachable: 0 });
    expect(Object.keys(out).sort()).toEqual(["counts", "destinations", "leadId", "requestedAt", "settledAt", "siteId"]);
  });
});
