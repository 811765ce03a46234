/**
 * The activity script's budget: what it adds beyond the SDK modules it shares, at most 1536 bytes gzipped (the
 * method is in ActivityManifest, scripts/build-sdk.ts); the whole bundle is reported beside it.
 */
import { describe, expect, it } from "vitest";
import { bundleActivity } from "../../../scripts/build-sdk.ts";

const ADDED_GZIP_BUDGET = 1536;

describe("activity build", () => {
  it("adds at most 1536 bytes gzipped beyond the shared SDK modules, as one self-contained IIFE", async () => {
    const { code, manifest } = await bundleActivity();
    console.info(
      `activity script: ${manifest.gzip} B gzip in all, ${manifest.gzipMinusSharedSdkModules} B beyond the shared SDK modules ` +
        `(${manifest.gzipWithSharedSdkModulesExternal} B with them external)`,
    );
    expect(manifest.gzipMinusSharedSdkModules).toBeLessThanOrEqual(ADDED_GZIP_BUDGET);
    // the shared part is real: the bundle is more than its own code
    expect(manifest.gzipMinusSharedSdkModules).toBeGreaterThan(0);
    expect(manifest.gzip - manifest.gzipMinusSharedSdkModules).toBeGreaterThan(1000);
    expect(manifest.file).toMatch(/^activity\.[0-9a-f]{12}\.js$/);
    // no import left, the config read from the wrapper's parameter, and no website SDK global
    expect(code).not.toMatch(/\bimport\b|\brequire\(/);
    expect(code).toContain("LT_ACTIVITY_CONFIG");
    expect(code).not.toContain("LeadTracker.");
  }, 30_000);
});
