/** A tiny static server for the demo site page, which embeds the tracker snippet pointed at the local edge. */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { ROOT } from "./paths.ts";

export interface DemoOptions {
  port: number;
  edgeUrl: string;
  siteKey: string;
}

export function renderDemoPage(opts: DemoOptions): string {
  const template = readFileSync(join(ROOT, "scripts/demo/index.html"), "utf8");
  return template
    .replaceAll("{{EDGE_URL}}", opts.edgeUrl)
    .replaceAll("{{SITE_KEY}}", opts.siteKey);
}

export async function startDemo(opts: DemoOptions): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(renderDemoPage(opts));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  await new Promise<void>((resolve) => server.listen(opts.port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${opts.port}/`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
