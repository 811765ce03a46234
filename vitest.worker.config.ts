/** Worker tests: run inside workerd with the bindings declared in wrangler.toml. */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["worker/test/**/*.test.ts"],
  },
});
