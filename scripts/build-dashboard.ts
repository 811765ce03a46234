/**
 * Builds the browser dashboard (backend-consumer/dashboard: Preact + uPlot) into
 * backend-consumer/dashboard/dist: one minified JS and one CSS file named by their content hash under assets/, an
 * index.html that loads them, and manifest.json with their raw and gzip sizes. The backend serves the directory at
 * /app (backend-consumer/src/api/dashboard.ts), reading it at request time, so a rebuild shows on the next load.
 *
 * The hashed files of the previous build are kept, so a page that loaded the old index.html can still fetch them.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(import.meta.filename), "..");
const appDir = join(root, "backend-consumer/dashboard");
export const DEFAULT_DASHBOARD_DIST = join(appDir, "dist");
/** The URL path the backend serves the dashboard under. */
export const DASHBOARD_BASE = "/app/";

export interface AssetInfo {
  file: string;
  bytes: number;
  gzip: number;
}

export interface DashboardManifest {
  js: AssetInfo;
  css: AssetInfo;
  /** Raw and gzip bytes of everything the first load fetches besides index.html. */
  total: { bytes: number; gzip: number };
}

function asset(name: string, ext: "js" | "css", contents: Uint8Array): AssetInfo {
  const hash = createHash("sha256").update(contents).digest("hex").slice(0, 12);
  return { file: `${name}.${hash}.${ext}`, bytes: contents.byteLength, gzip: gzipSync(contents, { level: 9 }).byteLength };
}

const escapeAttr = (s: string): string => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");

export async function buildDashboard(opts: { outDir?: string } = {}): Promise<DashboardManifest> {
  const outDir = opts.outDir ?? DEFAULT_DASHBOARD_DIST;
  const result = await build({
    entryPoints: { app: join(appDir, "src/main.tsx"), styles: join(appDir, "src/styles.css") },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2020"],
    jsx: "automatic",
    jsxImportSource: "preact",
    sourcemap: false,
    legalComments: "none",
    // generated code: until eslint.config.js ignores backend-consumer/dashboard/dist/, keep `eslint .` off it
    outdir: join(outDir, "assets"),
    write: false,
    logLevel: "silent",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const css = result.outputFiles.find((f) => f.path.endsWith(".css"));
  if (!js || !css) throw new Error(`dashboard build: expected one JS and one CSS output, got ${result.outputFiles.map((f) => f.path).join(", ")}`);

  const manifest: DashboardManifest = {
    js: asset("app", "js", js.contents),
    css: asset("app", "css", css.contents),
    total: { bytes: 0, gzip: 0 },
  };
  manifest.total = { bytes: manifest.js.bytes + manifest.css.bytes, gzip: manifest.js.gzip + manifest.css.gzip };

  const template = await readFile(join(appDir, "index.html"), "utf8");
  if (!template.includes("<!--app-css-->") || !template.includes("<!--app-js-->")) throw new Error("dashboard build: index.html lacks the <!--app-css--> or <!--app-js--> marker");
  const html = template
    .replace("<!--app-css-->", `<link rel="stylesheet" href="${escapeAttr(DASHBOARD_BASE + "assets/" + manifest.css.file)}" />`)
    .replace("<!--app-js-->", `<script type="module" src="${escapeAttr(DASHBOARD_BASE + "assets/" + manifest.js.file)}"></script>`);

  const assets = join(outDir, "assets");
  await mkdir(assets, { recursive: true });
  const previous = await readFile(join(outDir, "manifest.json"), "utf8")
    .then((s) => JSON.parse(s) as Partial<DashboardManifest>)
    .catch(() => null);
  await writeFile(join(assets, manifest.js.file), js.contents);
  await writeFile(join(assets, manifest.css.file), css.contents);

  // index.html last, and atomically: it never names a file that is not there yet
  await writeFile(join(outDir, "manifest.json.tmp"), JSON.stringify(manifest, null, 2) + "\n");
  await writeFile(join(outDir, "index.html.tmp"), html);
  await rename(join(outDir, "manifest.json.tmp"), join(outDir, "manifest.json"));
  await rename(join(outDir, "index.html.tmp"), join(outDir, "index.html"));

  const keep = new Set([manifest.js.file, manifest.css.file, previous?.js?.file, previous?.css?.file].filter((f): f is string => typeof f === "string"));
  for (const file of await readdir(assets)) if (!keep.has(file)) await rm(join(assets, file), { force: true });
  return manifest;
}

if (process.argv[1] === import.meta.filename) {
  const m = await buildDashboard();
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  console.log(`dashboard ${m.js.file}: ${kb(m.js.bytes)} raw, ${kb(m.js.gzip)} gzip`);
  console.log(`dashboard ${m.css.file}: ${kb(m.css.bytes)} raw, ${kb(m.css.gzip)} gzip`);
  console.log(`dashboard first load (JS + CSS): ${kb(m.total.gzip)} gzip → ${DEFAULT_DASHBOARD_DIST}`);
}
