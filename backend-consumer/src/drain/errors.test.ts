import { BSON, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb";
import { describe, expect, it } from "vitest";
import { classifyWriteCode, classifyWriteError } from "./errors.ts";

const serverError = (code: number, labels: string[] = []) => {
  const err = new MongoServerError({ message: `code ${code}`, code });
  for (const l of labels) err.addErrorLabel(l);
  return err;
};

describe("classifyWriteError", () => {
  it.each([
    ["the BSON serializer's refusal (a NUL in a key)", (() => { try { BSON.serialize({ "a\u0000b": 1 }); } catch (e) { return e; } })(), "deterministic"],
    ["a stack overflow while walking a value", new RangeError("Maximum call stack size exceeded"), "deterministic"],
    ["$-prefixed field name (52)", serverError(52), "deterministic"],
    ["empty field name (56)", serverError(56), "deterministic"],
    ["document too large (10334)", serverError(10334), "deterministic"],
    ["a lost connection", new MongoNetworkError("connection reset"), "transient"],
    ["no server to select", new MongoServerSelectionError("timed out", { type: "Unknown" } as never), "transient"],
    ["not primary (10107)", serverError(10107), "transient"],
    ["a retryable-write label on any code", serverError(99999, ["RetryableWriteError"]), "transient"],
    ["an unfamiliar server code", serverError(99999), "unknown"],
    ["a plain Error (a bug, or something new)", new Error("what?"), "unknown"],
  ])("%s", (_name, err, kind) => {
    expect(classifyWriteError(err)).toBe(kind);
  });

  it("classifies per-document write errors by code", () => {
    expect(classifyWriteCode(56)).toBe("deterministic");
    expect(classifyWriteCode(91)).toBe("transient");
    expect(classifyWriteCode(undefined)).toBe("unknown");
  });
});

describe("classifyWriteError through the bulk-write wrapper", () => {
  it("looks at what the driver wrapped", async () => {
    const { MongoBulkWriteError } = await import("mongodb");
    let bson: unknown;
    try {
      BSON.serialize({ "a\u0000b": 1 });
    } catch (e) {
      bson = e;
    }
    expect(classifyWriteError(new MongoBulkWriteError(bson as Error, {} as never))).toBe("deterministic");
    expect(classifyWriteError(new MongoBulkWriteError(new MongoNetworkError("reset"), {} as never))).toBe("transient");
  });
});
