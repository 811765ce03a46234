import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DevSidecarEnv } from "../dev-sidecar/env.ts";
import { bodyText, handBatch } from "../dev-sidecar/queue.ts";

const ENV = { BACKEND_URL: "http://backend.test", INTERNAL_TOKEN: "t0k", DEAD_LETTER_QUEUE: "tracker-events-dlq" } as DevSidecarEnv;

function batchOf(queue: string, ids: string[]) {
  return createMessageBatch(
    queue,
    ids.map((id) => ({ id, timestamp: new Date(), attempts: 1, body: { n: id } })),
  );
}

/** The backend is an HTTP boundary here; the queue runtime and its bookkeeping are real. */
function backendAnswering(outcomes: unknown, seen: Request[] = [], status = 200): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(new Request(input, init));
    return Response.json({ outcomes }, { status });
  }) as typeof fetch;
}

async function settle(batch: MessageBatch, fetcher: typeof fetch) {
  const ctx = createExecutionContext();
  await handBatch(batch, ENV, fetcher);
  return getQueueResult(batch, ctx);
}

describe("dev queue consumer (local push path)", () => {
  it("acks and retries each message as the backend says, with the backend's delay", async () => {
    const seen: Request[] = [];
    const batch = batchOf("tracker-events", ["a", "b", "c"]);
    const result = await settle(
      batch,
      backendAnswering([{ id: "a", action: "ack" }, { id: "b", action: "retry", delaySeconds: 7 }, { id: "c", action: "ack" }], seen),
    );
    expect(result.explicitAcks.sort()).toEqual(["a", "c"]);
    // getQueueResult reports which messages were retried, not their delay.
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["b"]);
    expect(seen[0]!.url).toBe("http://backend.test/internal/queue/batch");
    expect(seen[0]!.headers.get("authorization")).toBe("Bearer t0k");
    expect(await seen[0]!.json()).toEqual({
      queue: "tracker-events",
      // each body as its JSON text, as the pull API gives it in production
      messages: ["a", "b", "c"].map((id) => ({ id, body: JSON.stringify({ n: id }), attempts: 1 })),
    });
  });

  it("sends a body it cannot serialise again as a note the backend dead-letters, costing only that message", () => {
    // a v8-typed message may hold what JSON cannot (a BigInt, say)
    expect(bodyText({ n: 10n })).toMatch(/^\[unserialisable body: .*BigInt/);
    expect(bodyText({ ok: 1 })).toBe('{"ok":1}');
    expect(bodyText('{"already":"text"}')).toBe('{"already":"text"}');
  });

  it("retries a message the backend did not answer for", async () => {
    const result = await settle(batchOf("tracker-events", ["a", "b"]), backendAnswering([{ id: "a", action: "ack" }]));
    expect(result.explicitAcks).toEqual(["a"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["b"]);
  });

  it("retries the whole batch when the backend fails or is unreachable", async () => {
    const failing = await settle(batchOf("tracker-events", ["a"]), backendAnswering({}, [], 500));
    expect(failing.retryBatch.retry).toBe(true);
    expect(failing.explicitAcks).toEqual([]);
    const down = await settle(batchOf("tracker-events", ["a"]), (async () => {
      throw new TypeError("connection refused");
    }) as typeof fetch);
    expect(down.retryBatch.retry).toBe(true);
  });

  it("sends dead letters to the backend's dead-letter route", async () => {
    const seen: Request[] = [];
    await settle(batchOf("tracker-events-dlq", ["z"]), backendAnswering([{ id: "z", action: "ack" }], seen));
    expect(seen[0]!.url).toBe("http://backend.test/internal/queue/dead-letter");
  });
});
