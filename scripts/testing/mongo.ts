/** Test helpers for MongoDB: a fresh database per test file, and polling for documents written asynchronously. */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { connectMongo, type Mongo } from "../../backend-consumer/src/store/mongo.ts";

export function uniqueDbName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

export async function testMongo(prefix: string): Promise<Mongo & { dbName: string; uri: string }> {
  const uri = inject("mongoUri");
  const dbName = uniqueDbName(prefix);
  return { ...(await connectMongo(uri, dbName)), dbName, uri };
}

/** Polls until `check` returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
