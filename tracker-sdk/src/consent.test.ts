// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type * as ConsentModule from "./consent.ts";
import type * as StorageModule from "./storage.ts";

let consent: typeof ConsentModule;
let storage: typeof StorageModule;

beforeEach(async () => {
  localStorage.clear();
  vi.resetModules();
  storage = await import("./storage.ts");
  consent = await import("./consent.ts");
});

afterEach(() => {
  Object.defineProperty(navigator, "globalPrivacyControl", { value: undefined, configurable: true });
});

describe("consent", () => {
  it("opt-in: keeps events in memory but neither stores nor sends before consent", () => {
    consent.initConsent({ mode: "opt-in", respectDoNotTrack: false });
    expect(consent.mayBuffer()).toBe(true);
    expect(consent.maySend()).toBe(false);
    expect(storage.persisting).toBe(false);
    consent.setConsent(true);
    expect(consent.maySend()).toBe(true);
    expect(storage.persisting).toBe(true);
    expect(localStorage.getItem("lt_c")).toBe("granted");
  });

  it("opt-in: a denial stores nothing and drops what was kept", () => {
    consent.initConsent({ mode: "opt-in" });
    consent.setConsent(false);
    expect(consent.mayBuffer()).toBe(false);
    expect(localStorage.length).toBe(0);
  });

  it("opt-in: a grant from an earlier page is remembered", () => {
    localStorage.setItem("lt_c", "granted");
    consent.initConsent({ mode: "opt-in" });
    expect(consent.maySend()).toBe(true);
    expect(consent.state).toBe("granted");
  });

  it("opt-out: tracks until denied; the denial clears our storage and is remembered", () => {
    consent.initConsent({ mode: "opt-out" });
    expect(consent.maySend()).toBe(true);
    expect(consent.state).toBe("unknown");
    storage.set("lt_vid", "v1");
    localStorage.setItem("other", "kept");
    consent.setConsent(false);
    expect(consent.maySend()).toBe(false);
    expect(localStorage.getItem("lt_vid")).toBeNull();
    expect(localStorage.getItem("other")).toBe("kept");
    expect(localStorage.getItem("lt_c")).toBe("denied");
    consent.initConsent({ mode: "opt-out" });
    expect(consent.maySend()).toBe(false);
  });

  it("cookieless: sends without storing anything, even after a grant", () => {
    consent.initConsent({ mode: "cookieless" });
    expect(consent.maySend()).toBe(true);
    consent.setConsent(true);
    expect(storage.persisting).toBe(false);
    expect(localStorage.length).toBe(0);
  });

  it("honours Global Privacy Control and Do Not Track only where the site asks", () => {
    Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
    consent.initConsent({ mode: "opt-out", respectDoNotTrack: false });
    expect(consent.maySend()).toBe(true);
    consent.initConsent({ mode: "opt-out", respectDoNotTrack: true });
    expect(consent.maySend()).toBe(false);
    consent.setConsent(true);
    expect(consent.maySend()).toBe(false);
    expect(storage.persisting).toBe(false);
    expect(localStorage.length).toBe(0);

    Object.defineProperty(navigator, "globalPrivacyControl", { value: undefined, configurable: true });
    Object.defineProperty(navigator, "doNotTrack", { value: "1", configurable: true });
    consent.initConsent({ mode: "opt-out", respectDoNotTrack: true });
    expect(consent.mayBuffer()).toBe(false);
    Object.defineProperty(navigator, "doNotTrack", { value: null, configurable: true });
  });
});
