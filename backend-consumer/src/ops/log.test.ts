import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, logWith } from "./log.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe("structured logs", () => {
  it("writes JSON lines with level, time and message, at the configured level", () => {
    const { lines, stream } = capture();
    const log = logWith(createLogger("info", stream));
    log("hello", { a: 1 });
    log("careful", { level: "warn" });
    log("noise", { level: "debug" });
    expect(lines).toMatchObject([{ level: "info", msg: "hello", a: 1 }, { level: "warn", msg: "careful" }]);
    expect(typeof lines[0]!.time).toBe("string");
  });

  it("redacts secrets by name, at the top and one level down", () => {
    const { lines, stream } = capture();
    const log = logWith(createLogger("info", stream));
    log("oops", { token: "pat-na1-abc", destination: { secret: "whsec_x", url: "https://ok.example" }, headers: { authorization: "Bearer y" } });
    const line = JSON.stringify(lines[0]);
    expect(line).not.toMatch(/pat-na1-abc|whsec_x|Bearer y/);
    expect(lines[0]).toMatchObject({ token: "[redacted]", destination: { secret: "[redacted]", url: "https://ok.example" } });
  });
});
