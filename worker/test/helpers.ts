/** Helpers for Worker tests running inside workerd. */
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../src/index.ts";

export const ORIGIN = "https://edge.test";

export function makeEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: crypto.randomUUID(),
    type: "page_view",
    ts: Date.now(),
    sessionId: "sess-1",
    visitorId: "vis-1",
    page: { url: "https://shop.example/", title: "Shop" },
    ...overrides,
  };
}

/** Calls the Worker's fetch handler directly, as the runtime would. */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  return worker.fetch(new Request(`${ORIGIN}${path}`, init) as Request<unknown, IncomingRequestCfProperties>, env, ctx);
}

export function postEvents(body: unknown, headers: Record<string, string> = { "content-type": "text/plain" }): Promise<Response> {
  return call("/v1/events", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
}

/** Records what the route hands to the real queue binding, without replacing it. */
export function spyOnQueue() {
  return vi.spyOn(env.EVENTS, "send");
}
