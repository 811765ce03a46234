import { describe, expect, it } from "vitest";
import { errorText, workerLog } from "./log.ts";

describe("workerLog", () => {
  it("writes one JSON object per line with its level, message and fields", () => {
    const lines: string[] = [];
    workerLog({ LOG_LEVEL: "info" }, { reqId: "ray-1" }, (l) => lines.push(l)).warn("queue send failed", { siteId: "s1" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "queue send failed", reqId: "ray-1", siteId: "s1", time: expect.any(String) });
  });

  it("drops lines quieter than LOG_LEVEL", () => {
    const lines: string[] = [];
    const log = workerLog({ LOG_LEVEL: "error" }, {}, (l) => lines.push(l));
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(["e"]);
  });

  it("falls back to info for a missing or unknown level", () => {
    const lines: string[] = [];
    const log = workerLog({ LOG_LEVEL: "loud" }, {}, (l) => lines.push(l));
    expect(log.level).toBe("info");
    log.debug("d");
    log.info("i");
    expect(lines).toHaveLength(1);
  });

  it("names an error without its stack", () => {
    expect(errorText(new TypeError("bad"))).toBe("TypeError: bad");
    expect(errorText("plain")).toBe("plain");
  });
});
