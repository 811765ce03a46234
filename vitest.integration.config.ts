/**
 * Integration and end-to-end tests against the real parts: MariaDB, the MongoDB-compatible server (or MONGODB_URI),
 * the Worker on miniflare and headless Chromium. Files run one at a time: they share service ports, and the
 * machines have two cores.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["backend-consumer/test/**/*.test.ts", "tracker-sdk/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
    globalSetup: ["scripts/testing/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
