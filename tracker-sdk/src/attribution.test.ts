// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setUrl } from "./test-dom.ts";
import type * as AttributionModule from "./attribution.ts";
import type * as StorageModule from "./storage.ts";

let attribution: (typeof AttributionModule)["attribution"];
let storage: typeof StorageModule;

function visit(url: string, referrer = ""): void {
  setUrl(url);
  Object.defineProperty(document, "referrer", { value: referrer, configurable: true });
}

beforeEach(async () => {
  localStorage.clear();
  vi.resetModules();
  storage = await import("./storage.ts");
  storage.persist(true);
  ({ attribution } = await import("./attribution.ts"));
});

describe("attribution", () => {
  it("reads UTM parameters, click ids, the external referrer and the landing page", () => {
    visit(
      "https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=pipes&utm_content=ad1" +
        "&gclid=G1&fbclid=F1&msclkid=M1&ttclid=T1&li_fat_id=L1&twclid=W1&other=x",
      "https://www.google.com/",
    );
    const a = attribution(1234);
    expect(a).toMatchObject({
      utm: { source: "google", medium: "cpc", campaign: "spring", term: "pipes", content: "ad1" },
      clickIds: { gclid: "G1", fbclid: "F1", msclkid: "M1", ttclid: "T1", li_fat_id: "L1", twclid: "W1" },
      referrer: "https://www.google.com/",
      landingPage: expect.stringContaining("https://shop.example/landing?"),
      ts: 1234,
    });
  });

  it("leaves out a referrer from the site itself and absent parameters", () => {
    visit("https://shop.example/about", "https://shop.example/");
    const a = attribution(1);
    expect(a.referrer).toBeUndefined();
    expect(a.utm).toBeUndefined();
    expect(a.clickIds).toBeUndefined();
  });

  it("keeps the visitor's first touch across later sessions", () => {
    visit("https://shop.example/?utm_source=newsletter", "https://mail.example/");
    const first = attribution(1);
    expect(first.firstTouch).toMatchObject({ utm: { source: "newsletter" }, referrer: "https://mail.example/" });
    visit("https://shop.example/?gclid=abc", "https://www.google.com/");
    const second = attribution(2);
    expect(second.clickIds).toEqual({ gclid: "abc" });
    expect(second.firstTouch).toEqual(first.firstTouch);
  });

  it("starts over when the stored first touch is unreadable", () => {
    localStorage.setItem("lt_ft", "{not json");
    visit("https://shop.example/?utm_source=x");
    expect(attribution(5).firstTouch).toMatchObject({ utm: { source: "x" }, ts: 5 });
  });
});
