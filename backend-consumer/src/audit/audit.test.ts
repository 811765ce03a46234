import { describe, expect, it } from "vitest";
import { decodeAuditCursor, encodeAuditCursor } from "../api/admin/audit-log.ts";
import { createdFields, deletedFields, diffFields, MASK, maskDeep, maskFields } from "./audit.ts";

describe("audit values", () => {
  it("diffs only the fields named, compares objects whatever their key order, dates by time", () => {
    const before = { name: "A", settings: { debug: false, consentMode: "none" }, at: new Date("2025-01-01T00:00:00Z"), kept: 1 };
    expect(diffFields(before, { name: "A", settings: { consentMode: "none", debug: false }, at: new Date("2025-01-01T00:00:00.000Z") })).toEqual({});
    expect(diffFields(before, { name: "B", settings: { debug: true, consentMode: "none" } })).toEqual({
      name: { before: "A", after: "B" },
      settings: { before: { debug: false, consentMode: "none" }, after: { debug: true, consentMode: "none" } },
    });
  });

  it("never keeps the value of a secret-looking field, created, changed or deleted", () => {
    const secret = "sks_very-secret-value";
    const all = JSON.stringify([
      diffFields({ secret: "old" }, { secret }),
      createdFields({ secretEnc: secret, apiKey: secret, accessToken: secret, password: secret }),
      deletedFields({ refresh_token_enc: secret }),
    ]);
    expect(all).not.toContain(secret);
    expect(all).toContain(MASK);
  });

  it("masks named personal fields, and secrets and URL credentials at any depth", () => {
    expect(maskFields({ email: { before: "a@x.test", after: "b@x.test" }, role: { before: "agency", after: "location" } }, ["email"])).toEqual({
      email: { before: MASK, after: MASK },
      role: { before: "agency", after: "location" },
    });
    expect(maskDeep({ url: "https://user:pw@hooks.example/x", nested: { token: "t", ok: 1 }, list: [{ password: "p" }] })).toEqual({
      url: "https://hooks.example/x",
      nested: { token: MASK, ok: 1 },
      list: [{ password: MASK }],
    });
  });

  it("records creates with before null and deletes with after null", () => {
    expect(createdFields({ name: "Shop", active: true })).toEqual({ name: { before: null, after: "Shop" }, active: { before: null, after: true } });
    expect(deletedFields({ name: "Shop" })).toEqual({ name: { before: "Shop", after: null } });
  });

  it("round-trips the list's cursor and refuses anything else", () => {
    expect(decodeAuditCursor(encodeAuditCursor(12345))).toBe(12345);
    for (const bad of ["", "12345", Buffer.from("a1.-3").toString("base64url"), Buffer.from("a1.x").toString("base64url"), Buffer.from("zz.5").toString("base64url")]) {
      expect(decodeAuditCursor(bad), bad).toBeNull();
    }
  });
});
