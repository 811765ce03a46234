/**
 * Turns a delivered queue body into a validated message, whatever form the transport gave it: a website QueueMessage,
 * or a team activity message (`kind: "activity"`, contracts/activity.ts) that shares the queue.
 */
import type { z } from "zod";
import { activityQueueMessageSchema, findUnstorable, isActivityMessage, queueMessageSchema, type ActivityQueueMessage, type QueueMessage } from "#contracts";

export class MalformedMessage extends Error {
  override name = "MalformedMessage";
}

/** `value` as `schema` reads it, or MalformedMessage naming the first problem. */
function validated<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedMessage(`invalid ${what}: ${issue ? `${issue.path.join(".")} ${issue.message}` : "unknown"}`);
  }
  return parsed.data;
}

export type DecodedMessage = { kind: "website"; message: QueueMessage } | { kind: "activity"; message: ActivityQueueMessage };

/**
 * A delivered body of either kind; an activity message that does not validate is malformed like any other. Bodies
 * arrive as parsed JSON (local push path, `contentType: "json"`), as JSON text, or as base64 of either (HTTP pull with
 * `CF-Content-Type` other than json). The pull client decodes base64 before calling this.
 */
export function decodeDelivery(body: unknown): DecodedMessage {
  const value = parseBody(body);
  return isActivityMessage(value)
    ? { kind: "activity", message: validated(activityQueueMessageSchema, value, "activity message") }
    : { kind: "website", message: validated(queueMessageSchema, value, "queue message") };
}

/** JSON text or bytes parsed; anything else as it is. */
function parseBody(body: unknown): unknown {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new MalformedMessage("body is not JSON");
    }
  } else if (value instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder().decode(value));
    } catch {
      throw new MalformedMessage("body bytes are not JSON");
    }
  }
  return value;
}

/** A message's events split into those storage can hold and those it cannot (with the first reason for each). */
export interface SplitMessage {
  storable: QueueMessage | null;
  unstorable: { message: QueueMessage; reasons: string[] } | null;
}

/**
 * The edge refuses unstorable events; this is the drain's own check, for whatever got past it (an older Worker, a
 * bug, a message put on the queue by other means). What lies below the depth limit is not a reason: redaction
 * drops it before storage.
 */
export function splitUnstorable(message: QueueMessage): SplitMessage {
  const good: QueueMessage["events"] = [];
  const bad: QueueMessage["events"] = [];
  const reasons: string[] = [];
  for (const event of message.events) {
    const problem = findUnstorable(event, { deep: "ignore" });
    if (problem) {
      bad.push(event);
      reasons.push(`${problem.reason} at ${problem.path}`);
    } else good.push(event);
  }
  return {
    storable: good.length ? { ...message, events: good } : null,
    unstorable: bad.length ? { message: { ...message, events: bad }, reasons } : null,
  };
}
