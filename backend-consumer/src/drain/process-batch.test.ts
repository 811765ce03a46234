import { describe, expect, it } from "vitest";
import { decodeDelivery, MalformedMessage } from "./decode.ts";
import { retryDelaySeconds } from "./process-batch.ts";
import { toEventDocuments } from "../store/events.ts";

const message = {
  v: 1,
  siteId: "site-a",
  receivedAt: 1_700_000_001_000,
  geo: { country: "DE" },
  ip: "203.0.113.0",
  ua: "UA",
  events: [
    { id: "6f1c2d3e-4b5a-4c6d-8e7f-112233445566", type: "page_view", ts: 1_700_000_000_000, sessionId: "s", visitorId: "v", page: { url: "https://a/" } },
  ],
};

/** A website message as the drain decodes it (an activity message here would be a mistake of the test). */
function decodeMessage(body: unknown) {
  const decoded = decodeDelivery(body);
  if (decoded.kind !== "website") throw new Error("expected a website message");
  return decoded.message;
}

describe("decodeDelivery", () => {
  it("reads a parsed object, JSON text and JSON bytes alike", () => {
    for (const body of [message, JSON.stringify(message), new TextEncoder().encode(JSON.stringify(message))]) {
      expect(decodeMessage(body).siteId).toBe("site-a");
    }
  });

  it.each([
    ["not JSON", "{oops"],
    ["wrong version", { ...message, v: 2 }],
    ["no events", { ...message, events: [] }],
    ["an invalid event", { ...message, events: [{ id: "x" }] }],
    ["null", null],
  ])("throws MalformedMessage for %s", (_name, body) => {
    expect(() => decodeMessage(body)).toThrow(MalformedMessage);
  });
});

describe("retryDelaySeconds", () => {
  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [7, 300],
    [50, 300],
  ])("attempt %i waits %i s", (attempts, delay) => {
    expect(retryDelaySeconds(attempts)).toBe(delay);
  });
});

describe("toEventDocuments", () => {
  it("expires documents after the site's retention, and redacts sensitive values before storage", () => {
    const [doc] = toEventDocuments(
      decodeMessage({
        ...message,
        retentionDays: 7,
        events: [
          {
            ...message.events[0],
            type: "form_submission",
            form: { formId: "f", fields: { email: "a@b.co", card: "4111 1111 1111 1111", note: "my ssn is 123-45-6789" } },
            props: { passport_no: "X1234567" },
          },
        ],
      }),
    );
    expect(doc!.expireAt).toEqual(new Date(1_700_000_001_000 + 7 * 86_400_000));
    expect(doc!.form!.fields).toEqual({ email: "a@b.co", card: "[redacted]", note: "my ssn is [redacted]" });
    expect(doc!.props).toEqual({ passport_no: "[redacted]" });
  });

  it("explodes a message into one document per event with the request's enrichment", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const [doc] = toEventDocuments(decodeMessage(message), now);
    expect(doc).toEqual({
      _id: "site-a|6f1c2d3e-4b5a-4c6d-8e7f-112233445566",
      siteId: "site-a",
      eventId: "6f1c2d3e-4b5a-4c6d-8e7f-112233445566",
      type: "page_view",
      ts: new Date(1_700_000_000_000),
      receivedAt: new Date(1_700_000_001_000),
      sessionId: "s",
      visitorId: "v",
      page: { url: "https://a/" },
      geo: { country: "DE" },
      ip: "203.0.113.0",
      ua: "UA",
      createdAt: now,
      expireAt: new Date(1_700_000_001_000 + 90 * 86_400_000),
    });
  });
});
