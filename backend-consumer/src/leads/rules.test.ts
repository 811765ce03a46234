import { describe, expect, it } from "vitest";
import { leadTouchOf, normaliseEmail, splitName } from "./rules.ts";
import { luhnValid, redactString, redactValue } from "./redact.ts";

describe("normaliseEmail", () => {
  it.each([
    ["  Ada@Example.COM ", "ada@example.com"],
    ["a@b.co", "a@b.co"],
    ["not an email", null],
    ["a@b", null],
    [42, null],
  ])("%s → %s", (input, expected) => expect(normaliseEmail(input)).toBe(expected));
});

describe("splitName", () => {
  it.each([
    ["Ada Lovelace", { firstName: "Ada", lastName: "Lovelace" }],
    ["  Ada  King   Lovelace ", { firstName: "Ada", lastName: "King Lovelace" }],
    ["Cher", { firstName: "Cher" }],
    ["", {}],
  ])("%s", (input, expected) => expect(splitName(input)).toEqual(expected));
});

describe("leadTouchOf", () => {
  const form = (fields: Record<string, string>) => ({ formId: "contact", fields });

  it("a submission with an email is a submitted lead, with the full name split and contact fields picked", () => {
    expect(
      leadTouchOf({ type: "form_submission", form: form({ email: "A@B.co", name: "Ada Lovelace", phone: "+1 555", company: "AE" }) }),
    ).toEqual({
      email: "a@b.co",
      status: "submitted",
      fields: { email: "A@B.co", name: "Ada Lovelace", phone: "+1 555", company: "AE" },
      formId: "contact",
      firstName: "Ada",
      lastName: "Lovelace",
      phone: "+1 555",
      company: "AE",
    });
  });

  it("separate first and last name fields win over a split full name", () => {
    const touch = leadTouchOf({ type: "form_submission", form: form({ work_email: "a@b.co", first_name: "Grace", last_name: "Hopper" }) });
    expect(touch).toMatchObject({ firstName: "Grace", lastName: "Hopper" });
  });

  it("an email interaction is a partial lead", () => {
    expect(leadTouchOf({ type: "form_interaction", form: form({ email: "a@b.co" }) })?.status).toBe("partial");
  });

  it("identify with an email (as id or trait) touches a lead; other events and forms without email do not", () => {
    expect(leadTouchOf({ type: "identify", userId: "a@b.co", traits: { plan: "pro" } })).toMatchObject({ email: "a@b.co", status: "identified" });
    expect(leadTouchOf({ type: "identify", userId: "u1", traits: { email: "x@y.io" } })?.email).toBe("x@y.io");
    expect(leadTouchOf({ type: "identify", userId: "u1" })).toBeNull();
    expect(leadTouchOf({ type: "form_submission", form: form({ q: "search" }) })).toBeNull();
    expect(leadTouchOf({ type: "page_view" })).toBeNull();
  });
});

describe("redaction", () => {
  it.each([
    ["4111 1111 1111 1111", "[redacted]"],
    ["card 4111-1111-1111-1111 thanks", "card [redacted] thanks"],
    ["4111 1111 1111 1112", "4111 1111 1111 1112"],
    ["ssn 123-45-6789", "ssn [redacted]"],
    ["order 123456789", "order 123456789"],
    ["call +1 415 555 0100", "call +1 415 555 0100"],
  ])("%s → %s", (input, expected) => expect(redactString(input)).toBe(expected));

  it("finds no card inside an email, a URL, an id or a longer run: 3,000 emails with a 15-digit run stay as they are", () => {
    let luhnValid15 = 0;
    for (let i = 0; i < 3000; i++) {
      const digits = String(100_000_000_000_000 + i * 7919).slice(0, 15);
      if (luhnValid(digits)) luhnValid15++;
      for (const value of [`${digits}@example.com`, `user.${digits}@example.com`, `https://x.example/o/${digits}`, `id-${digits}`, `a${digits}b`]) {
        expect(redactString(value)).toBe(value);
      }
    }
    expect(luhnValid15).toBeGreaterThan(200); // the corpus holds the runs that used to be taken for cards
  });

  it.each([
    ["+1 (415) 555-0100 ext. 1234", "+1 (415) 555-0100 ext. 1234"],
    ["+44 20 7946 0000 x 4111", "+44 20 7946 0000 x 4111"],
    ["415-555-0100-1234-5678", "415-555-0100-1234-5678"],
    ["card: 4111-1111-1111-1111.", "card: [redacted]."],
    ["(4111 1111 1111 1111)", "([redacted])"],
    ["123-45-6789@example.com", "123-45-6789@example.com"],
    ["https://x.example/r/123-45-6789", "https://x.example/r/123-45-6789"],
    ["ssn: 123-45-6789.", "ssn: [redacted]."],
  ])("%s → %s", (input, expected) => expect(redactString(input)).toBe(expected));

  it("redacts by key name at any depth", () => {
    expect(redactValue({ a: { password: "hunter2", cvv: "123", passportNumber: "X1", nested: [{ ssn: "1" }] }, ok: "fine" })).toEqual({
      a: { password: "[redacted]", cvv: "[redacted]", passportNumber: "[redacted]", nested: [{ ssn: "[redacted]" }] },
      ok: "fine",
    });
  });

  it("drops whatever lies below the depth limit: secrets nested 22 and 200 levels deep are not kept, shallower data is", () => {
    const bury = (levels: number, secret: Record<string, unknown>): Record<string, unknown> => {
      let value: Record<string, unknown> = secret;
      for (let i = 1; i < levels; i++) value = { level: value };
      return value;
    };
    const props = { shallow: { note: "kept" }, d22: bury(22, { password: "hunter2", card: "4111 1111 1111 1111" }), d200: bury(200, { ssn: "123-45-6789", note: "078-05-1120" }) };
    const out = JSON.stringify(redactValue(props));
    expect(out).not.toMatch(/hunter2|4111|123-45-6789|078-05-1120/);
    expect(out).toContain("kept");
    // the part above the limit stays, so a deep value costs only its deep part
    expect(out).toContain('"d22":{"level":{"level"');
  });

  it("Luhn", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
  });
});
