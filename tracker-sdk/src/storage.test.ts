// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type * as StorageModule from "./storage.ts";

let storage: typeof StorageModule;

beforeEach(async () => {
  localStorage.clear();
  vi.resetModules();
  storage = await import("./storage.ts");
});

const original = Object.getOwnPropertyDescriptor(globalThis, "localStorage")!;
afterEach(() => {
  Object.defineProperty(globalThis, "localStorage", original);
});

/** Makes every access to localStorage throw, as Safari's private mode and blocked storage do. */
function breakLocalStorage(): void {
  Object.defineProperty(globalThis, "localStorage", {
    configurable: true,
    get() {
      throw new DOMException("The operation is insecure.", "SecurityError");
    },
  });
}

describe("storage", () => {
  it("writes nothing to localStorage until persisting is allowed, then writes what memory holds", () => {
    storage.set("lt_a", "1");
    expect(storage.get("lt_a")).toBe("1");
    expect(localStorage.getItem("lt_a")).toBeNull();
    storage.persist(true);
    expect(localStorage.getItem("lt_a")).toBe("1");
    storage.set("lt_b", "2");
    expect(localStorage.getItem("lt_b")).toBe("2");
  });

  it("reads another tab's newer value once persisting", () => {
    storage.persist(true);
    storage.set("lt_a", "mine");
    localStorage.setItem("lt_a", "theirs");
    expect(storage.get("lt_a")).toBe("theirs");
  });

  it("keeps working in memory when localStorage throws (Safari private mode)", () => {
    breakLocalStorage();
    storage.persist(true);
    storage.set("lt_a", "1");
    expect(storage.get("lt_a")).toBe("1");
    expect(storage.read("lt_a")).toBeUndefined();
    expect(() => storage.write("lt_a", "2")).not.toThrow();
    expect(() => storage.del("lt_a")).not.toThrow();
    expect(storage.keys()).toEqual([]);
    expect(() => storage.clear()).not.toThrow();
    expect(storage.get("lt_a")).toBeUndefined();
  });

  it("lists and clears only its own lt_ keys", () => {
    localStorage.setItem("site_cart", "3 items");
    localStorage.setItem("lt_vid", "v");
    localStorage.setItem("lt_q1234", "[]");
    expect(storage.keys().sort()).toEqual(["lt_q1234", "lt_vid"]);
    storage.clear();
    expect(localStorage.getItem("site_cart")).toBe("3 items");
    expect(storage.keys()).toEqual([]);
  });
});
