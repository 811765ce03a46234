/** The size budget: the whole SDK, every feature in, at most 4096 bytes gzipped. */
import { describe, expect, it } from "vitest";
import { buildSdk } from "../../scripts/build-sdk.ts";

const GZIP_BUDGET = 4096;

describe("sdk build", () => {
  it("stays within 4096 bytes gzipped, as one self-contained IIFE", async () => {
    const manifest = await buildSdk();
    expect(manifest.gzip).toBeLessThanOrEqual(GZIP_BUDGET);
    expect(manifest.brotli).toBeLessThan(manifest.gzip);
    expect(manifest.file).toMatch(/^sdk\.[0-9a-f]{12}\.js$/);
  }, 30_000);
});
