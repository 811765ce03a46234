/**
 * The tracker SDK's size: one production build (esbuild, minified IIFE), raw, gzip (level 9) and brotli
 * (quality 11) bytes, against the 4096-byte gzip budget that the unit tests enforce.
 */
import { fileURLToPath } from "node:url";
import { buildSdk } from "../scripts/build-sdk.ts";
import type { BenchResult } from "./stats.ts";

export const SDK_GZIP_BUDGET = 4096;

export async function sdkSize(): Promise<BenchResult> {
  const m = await buildSdk();
  const used = ((m.gzip / SDK_GZIP_BUDGET) * 100).toFixed(1);
  return {
    name: "Tracker SDK size (every feature, one minified IIFE)",
    lines: [
      `${m.file}: ${m.bytes} B raw, ${m.gzip} B gzip, ${m.brotli} B brotli`,
      `gzip budget ${SDK_GZIP_BUDGET} B: ${used} % used, ${SDK_GZIP_BUDGET - m.gzip} B left`,
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const line of (await sdkSize()).lines) console.log(line);
}
