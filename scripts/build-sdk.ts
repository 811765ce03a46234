/**
 * Builds the tracker SDK into one minified IIFE named by its content hash, writes a size manifest, and generates
 * `worker/src/generated/sdk.ts` so the Worker serves exactly that build. Run by `npm run build` and by wrangler's
 * [build] step, so `wrangler deploy` always ships the SDK it was built with. The CRM's activity script (Custom JS,
 * tracker-sdk/src/activity/) is built the same way into `worker/src/generated/activity.ts`.
 */
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync, constants as zlib } from "node:zlib";
import { build, type Plugin } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SDK_SRC = join(root, "tracker-sdk/src/");
const ACTIVITY_SRC = join(SDK_SRC, "activity/");

export interface ActivityManifest {
  version: string;
  file: string;
  bytes: number;
  gzip: number;
  brotli: number;
  /**
   * What the activity script adds beyond the SDK modules it shares (queue, transport, storage, ids, util, consent):
   * gzip of the activity bundle minus gzip of a bundle of only those modules, importing the same bindings. Slightly
   * low by the one statement that keeps those bindings alive in the second bundle (a few dozen bytes).
   */
  gzipMinusSharedSdkModules: number;
  /**
   * The pessimistic bound: gzip of the activity bundle with the shared modules external (its own code alone, with
   * their `import` statements, and without the compression it gets from sharing a stream with them).
   */
  gzipWithSharedSdkModulesExternal: number;
}

export interface SdkManifest {
  version: string;
  file: string;
  bytes: number;
  gzip: number;
  brotli: number;
  activity: ActivityManifest;
}

export function sizes(code: string): { bytes: number; gzip: number; brotli: number } {
  const buf = Buffer.from(code);
  return {
    bytes: buf.byteLength,
    gzip: gzipSync(buf, { level: 9 }).byteLength,
    brotli: brotliCompressSync(buf, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).byteLength,
  };
}

const hash = (code: string): string => createHash("sha256").update(code).digest("hex").slice(0, 12);

/** One minified bundle, with the SDK's settings. */
async function bundle(entry: { file: string } | { code: string }, format: "iife" | "esm" = "iife", plugins: Plugin[] = []): Promise<string> {
  const result = await build({
    ...("file" in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.code, resolveDir: root, loader: "ts" } }),
    bundle: true,
    minify: true,
    format,
    target: ["es2019"],
    legalComments: "none",
    write: false,
    plugins,
  });
  return result.outputFiles[0]!.text;
}

/** Leaves the SDK modules outside src/activity/ out of the bundle, as `import` statements naming their full path. */
const sharedExternal: Plugin = {
  name: "shared-sdk-modules-external",
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      return path.startsWith(SDK_SRC) && !path.startsWith(ACTIVITY_SRC) ? { path, external: true } : undefined;
    });
  },
};

/**
 * The activity script's bundle and its sizes (writes nothing). The edge wraps the code in
 * `(function(LT_ACTIVITY_CONFIG){…})(config)`.
 */
export async function bundleActivity(): Promise<{ code: string; manifest: ActivityManifest }> {
  const entry = { file: join(ACTIVITY_SRC, "index.ts") };
  const code = await bundle(entry);
  const own = await bundle(entry, "esm", [sharedExternal]);
  // the shared modules alone, importing exactly what the activity script imports from them
  const imports = [...own.matchAll(/import\{([^}]*)\}from"([^"]+)"/g)];
  const names = imports.map(([, list]) => list!.split(",").map((item) => item.split(" as ")[0]!.trim()));
  const shared = await bundle({
    code:
      imports.map(([, , path], i) => `import { ${names[i]!.map((n) => `${n} as _${i}_${n}`).join(", ")} } from ${JSON.stringify(path)};`).join("\n") +
      `\n(globalThis as Record<string, unknown>).k = [${imports.flatMap((_, i) => names[i]!.map((n) => `_${i}_${n}`)).join(", ")}];`,
  });
  const version = hash(code);
  const total = sizes(code);
  return {
    code,
    manifest: {
      version,
      file: `activity.${version}.js`,
      ...total,
      gzipMinusSharedSdkModules: total.gzip - sizes(shared).gzip,
      gzipWithSharedSdkModulesExternal: sizes(own).gzip,
    },
  };
}

export async function buildSdk(): Promise<SdkManifest> {
  const code = await bundle({ file: join(SDK_SRC, "index.ts") });
  const version = hash(code);
  const activity = await bundleActivity();
  const manifest: SdkManifest = { version, file: `sdk.${version}.js`, ...sizes(code), activity: activity.manifest };

  const dist = join(root, "tracker-sdk/dist");
  await rm(dist, { recursive: true, force: true });
  await mkdir(dist, { recursive: true });
  await writeFile(join(dist, manifest.file), code);
  await writeFile(join(dist, activity.manifest.file), activity.code);
  await writeFile(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

  const generated = join(root, "worker/src/generated");
  await mkdir(generated, { recursive: true });
  await writeFile(
    join(generated, "sdk.ts"),
    `// Generated by scripts/build-sdk.ts. Do not edit.\n` +
      `export const SDK_VERSION = ${JSON.stringify(version)};\n` +
      `export const SDK_SOURCE = ${JSON.stringify(code)};\n`,
  );
  await writeFile(
    join(generated, "activity.ts"),
    `// Generated by scripts/build-sdk.ts. Do not edit.\n` +
      `export const ACTIVITY_VERSION = ${JSON.stringify(activity.manifest.version)};\n` +
      `export const ACTIVITY_SOURCE = ${JSON.stringify(activity.code)};\n`,
  );
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // SKIP_SDK_BUILD=1 keeps the last build (e.g. while the SDK sources are mid-edit and only other parts are tested).
  if (process.env.SKIP_SDK_BUILD === "1") process.exit(0);
  const m = await buildSdk();
  console.log(`sdk ${m.file}: ${m.bytes} B raw, ${m.gzip} B gzip, ${m.brotli} B brotli`);
  const a = m.activity;
  console.log(
    `activity ${a.file}: ${a.bytes} B raw, ${a.gzip} B gzip, ${a.brotli} B brotli; beyond the shared SDK modules ` +
      `${a.gzipMinusSharedSdkModules} B gzip (${a.gzipWithSharedSdkModulesExternal} B with them external)`,
  );
}
