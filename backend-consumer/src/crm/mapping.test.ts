import { describe, expect, it } from "vitest";
import type { LeadDocument } from "../store/leads.ts";
import { mapLead, MappingFailed, type FieldMapping } from "./mapping.ts";
import { SecretBox } from "./secret-box.ts";
import { compileTransform, transformError } from "./transforms.ts";

const lead = (over: Partial<LeadDocument> = {}) =>
  ({ _id: "l1", siteId: "s", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", fields: { full_name: "  Grace Brewster Hopper ", tel: "(415) 555-2671", born: "1906-12-09", plan: "Pro" }, ...over }) as unknown as LeadDocument;
const m = (fieldName: string, targetField: string, transform: string | null = null, required = false): FieldMapping => ({ fieldName, targetEntity: "contact", targetField, transform, required });

describe("transforms", () => {
  it.each([
    ["trim", "  a b  ", "a b"],
    ["lower", "ADA@X.IO", "ada@x.io"],
    ["lowercase", "ADA", "ada"],
    ["upper|trim", " gb ", "GB"],
    ["e164", "(415) 555-2671", "+14155552671"],
    ["e164:GB", "020 7946 0018", "+442079460018"],
    ["e164:DE", "+49 30 901820", "+4930901820"],
    ["first_name", "  Grace Brewster Hopper ", "Grace"],
    ["last_name", "Grace Brewster Hopper", "Brewster Hopper"],
    ["date:iso", "1906-12-09", "1906-12-09"],
    ["date:us", "1906-12-09", "12/09/1906"],
    ["date:eu", "2026-11-29T10:00:00Z", "29/11/2026"],
    ["date:epoch_ms", "2026-11-29T00:00:00Z", String(Date.UTC(2026, 10, 29))],
    ["const:website-form", "anything", "website-form"],
    ["trim|lower|const:x", "Y", "x"],
  ])("%s: %j → %j", (spec, input, expected) => {
    expect(compileTransform(spec)(input)).toBe(expected);
  });

  it("gives a constant even without a value, and nothing else without one", () => {
    expect(compileTransform("const:lead")(undefined)).toBe("lead");
    expect(compileTransform("trim")(undefined)).toBeUndefined();
  });

  it.each([
    ["e164", "not a phone", /not a valid phone number/],
    ["date:iso", "someday", /not a date/],
  ])("%s refuses %j", (spec, input, message) => {
    expect(() => compileTransform(spec)(input)).toThrow(message);
  });

  it.each([["shout"], ["date:klingon"], ["e164:USA"], ["const"]])("names what is wrong with the spec %j", (spec) => {
    expect(transformError(spec)).toMatch(/./);
  });
  it("accepts every documented spec", () => expect(transformError("trim|lower|e164:GB|date:us")).toBeNull());
});

describe("mapLead", () => {
  it("sends the basics from the lead, and mapped fields with their transforms", () => {
    expect(mapLead(lead(), [m("tel", "phone", "e164"), m("born", "custom.birthday", "date:us"), m("plan", "custom.plan", "lower"), m("full_name", "name", "trim")])).toEqual({
      email: "ada@example.com",
      firstName: "Ada",
      lastName: "Lovelace",
      phone: "+14155552671",
      name: "Grace Brewster Hopper",
      "custom.birthday": "12/09/1906",
      "custom.plan": "pro",
    });
  });

  it("does not send unmapped form fields, nor mappings to another entity", () => {
    const out = mapLead(lead(), [{ ...m("plan", "custom.plan"), targetEntity: "deal" }]);
    expect(out).toEqual({ email: "ada@example.com", firstName: "Ada", lastName: "Lovelace" });
  });

  it("fails the lead with every reason: a required field missing, a value its transform cannot read", () => {
    const run = () => mapLead(lead({ fields: { tel: "call me maybe" } }), [m("company_size", "custom.size", null, true), m("tel", "phone", "e164")]);
    expect(run).toThrow(MappingFailed);
    expect(run).toThrow(/company_size → custom.size is required.*; tel → phone: "call me maybe" is not a valid phone number/);
  });
});

describe("SecretBox", () => {
  const box = new SecretBox(Buffer.alloc(32, 7).toString("base64"));
  it("opens what it sealed for the same row only", () => {
    const sealed = box.seal("pat-na1-secret", "dest-1");
    expect(sealed).not.toContain("pat-na1-secret");
    expect(box.open(sealed, "dest-1")).toBe("pat-na1-secret");
    expect(() => box.open(sealed, "dest-2")).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 8).toString("base64")).open(sealed, "dest-1")).toThrow();
  });
  it("refuses a key that is not 32 bytes", () => expect(() => new SecretBox("c2hvcnQ=")).toThrow(/32 bytes/));
});
