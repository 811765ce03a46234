import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { privacyKey, subjectHash, subjectOf, subjectQuerySchema } from "./subject.ts";

const key = randomBytes(32);

describe("privacy subjects", () => {
  it("names a person by exactly one of email or visitor id", () => {
    expect(subjectQuerySchema.safeParse({ email: "a@b.co" }).success).toBe(true);
    expect(subjectQuerySchema.safeParse({ visitorId: "v-1" }).success).toBe(true);
    expect(subjectQuerySchema.safeParse({}).success).toBe(false);
    expect(subjectQuerySchema.safeParse({ email: "a@b.co", visitorId: "v-1" }).success).toBe(false);
    expect(subjectQuerySchema.safeParse({ email: "not an email" }).success).toBe(false);
  });

  it("hashes the normalised email, so case and spaces do not make another person", () => {
    const a = subjectHash(key, subjectOf({ email: "  Ada@Example.COM " }));
    expect(a).toBe(subjectHash(key, subjectOf({ email: "ada@example.com" })));
    expect(a).toMatch(/^email:[0-9a-f]{64}$/);
    expect(a).not.toContain("ada");
  });

  it("depends on the key and on the kind", () => {
    const s = subjectOf({ email: "ada@example.com" });
    expect(subjectHash(key, s)).not.toBe(subjectHash(randomBytes(32), s));
    expect(subjectHash(key, { kind: "visitor", value: "ada@example.com" })).not.toBe(subjectHash(key, s).replace("email:", "visitor:"));
  });

  it("refuses a short key", () => {
    expect(() => privacyKey(randomBytes(16).toString("base64"))).toThrow(/32 bytes/);
    expect(privacyKey(randomBytes(32).toString("base64"))).toHaveLength(32);
  });
});
