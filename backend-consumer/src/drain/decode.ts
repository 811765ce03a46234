/** Turns a delivered queue body into a validated QueueMessage, whatever form the transport gave it. */
import { queueMessageSchema, type QueueMessage } from "#contracts";

export class MalformedMessage extends Error {
  override name = "MalformedMessage";
}

/**
 * Bodies arrive as parsed JSON (local push path, `contentType: "json"`), as JSON text, or as base64 of either
 * (HTTP pull with `CF-Content-Type` other than json). The pull client decodes base64 before calling this.
 */
export function decodeMessage(body: unknown): QueueMessage {
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
  const parsed = queueMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedMessage(`invalid queue message: ${issue ? `${issue.path.join(".")} ${issue.message}` : "unknown"}`);
  }
  return parsed.data;
}
