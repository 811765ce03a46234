/** Unit tests: pure logic beside the code, in Node. */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["contracts/**/*.test.ts", "worker/src/**/*.test.ts", "tracker-sdk/src/**/*.test.ts", "backend-consumer/src/**/*.test.ts", "scripts/**/*.test.ts"],
    // scripts/test/ starts real services: it runs with the integration tests
    exclude: ["scripts/test/**", "**/node_modules/**"],
  },
});
