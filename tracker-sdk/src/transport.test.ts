// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import { post } from "./transport.ts";

afterEach(() => {
  vi.unstubAllGlobals();
});

const answered = () => {
  let resolve!: (v: [number, number]) => void;
  const promise = new Promise<[number, number]>((r) => (resolve = r));
  return { promise, answer: (status: number, after: number) => resolve([status, after]) };
};

describe("transport", () => {
  it("posts with fetch keepalive and a string body (sent as text/plain, no preflight)", async () => {
    const fetchMock = vi.fn(async () => new Response('{"accepted":1}', { status: 202 }));
    vi.stubGlobal("fetch", fetchMock);
    const { promise, answer } = answered();
    post("https://edge.example/v1/events", '{"a":1}', answer);
    expect(await promise).toEqual([202, 0]);
    expect(fetchMock).toHaveBeenCalledWith("https://edge.example/v1/events", { method: "POST", body: '{"a":1}', keepalive: true });
  });

  it("passes on 429 with Retry-After in milliseconds", async () => {
    vi.stubGlobal("fetch", async () => new Response("", { status: 429, headers: { "Retry-After": "7" } }));
    const { promise, answer } = answered();
    post("u", "b", answer);
    expect(await promise).toEqual([429, 7000]);
  });

  it("answers 0 on a network error", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    const { promise, answer } = answered();
    post("u", "b", answer);
    expect(await promise).toEqual([0, 0]);
  });

  it("falls back to sendBeacon where fetch is missing", () => {
    vi.stubGlobal("fetch", undefined);
    const beacon = vi.fn(() => true);
    vi.stubGlobal("navigator", { sendBeacon: beacon });
    const answer = vi.fn();
    post("u", "b", answer);
    expect(beacon).toHaveBeenCalledWith("u", "b");
    expect(answer).toHaveBeenCalledWith(202, 0);
  });

  it("answers 0 when the beacon is refused or missing too, without throwing", () => {
    vi.stubGlobal("fetch", undefined);
    vi.stubGlobal("navigator", { sendBeacon: () => false });
    const answer = vi.fn();
    post("u", "b", answer);
    vi.stubGlobal("navigator", {});
    expect(() => post("u", "b", answer)).not.toThrow();
    expect(answer.mock.calls).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });
});
