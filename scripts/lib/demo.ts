/**
 * A tiny server for the demo site: the demo page, which embeds the tracker snippet pointed at the local edge, and
 * the SDK's end-to-end fixture pages (`/fixtures/<name>.html` from tracker-sdk/test/fixtures) with what they post
 * to. Everything comes from one origin, the demo site's allowed origin at the edge.
 *
 * `/crm` is a stand-in for the CRM's shell: it opens the dashboard (`/app` on the backend) in an iframe and answers
 * its REQUEST_USER_DATA with a user context encrypted with the shared secret, as the CRM does for a Custom Page.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { encryptPassphrasePayload } from "../../backend-consumer/src/api/sso/crypto-js-passphrase.ts";
import { ROOT } from "./paths.ts";
import { DEMO } from "./seed.ts";

export interface DemoOptions {
  port: number;
  edgeUrl: string;
  siteKey: string;
  /** The dashboard's URL and the CRM app's shared secret, for the `/crm` stand-in (absent: no stand-in). */
  crm?: { appUrl: string; sharedSecret: string; appId: string };
}

/** The users the stand-in can sign in as: the seeded demo tenant's, as the CRM would describe them. */
export function crmUserContext(as: string): Record<string, string> {
  const agency = { userId: "crm-demo-agency-admin", companyId: DEMO.companyExternalId, role: "admin", type: "agency", userName: "Avery Agency", email: DEMO.agencyEmail };
  if (as === "agency-in-location") return { ...agency, activeLocation: DEMO.locationExternalId };
  if (as === "location") {
    return { userId: "crm-demo-location-user", companyId: DEMO.companyExternalId, role: "user", type: "location", userName: "Lee Location", email: DEMO.locationEmail, activeLocation: DEMO.locationExternalId };
  }
  return agency;
}

const FIXTURES = join(ROOT, "tracker-sdk/test/fixtures");

/** `{{EDGE_URL}}`, `{{SITE_KEY}}` and `{{SDK_URL}}` (the current build, for pages without the loader). */
function render(file: string, opts: DemoOptions): string {
  let sdkUrl = "";
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, "tracker-sdk/dist/manifest.json"), "utf8")) as { version: string };
    sdkUrl = `${opts.edgeUrl}/sdk/${manifest.version}.js`;
  } catch {
    // not built yet: only pages without the loader need it
  }
  return readFileSync(file, "utf8")
    .replaceAll("{{EDGE_URL}}", opts.edgeUrl)
    .replaceAll("{{SITE_KEY}}", opts.siteKey)
    .replaceAll("{{SDK_URL}}", sdkUrl);
}

export function renderDemoPage(opts: DemoOptions): string {
  return render(join(ROOT, "scripts/demo/index.html"), opts);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  res.end(body);
}

/**
 * GET or POST a page (a native form post lands on a page, as on most sites); `POST /fixtures/redirect` answers
 * 303 to the thank-you page (redirect after submit); `POST /fixtures/api/lead` is the AJAX form's JSON endpoint
 * (`/fixtures/api/reject` refuses with 422, a server-side validation error).
 */
/** The CRM stand-in's routes (a single-page app: every one serves the same shell). */
const isCrmRoute = (path: string): boolean =>
  path === "/crm" || path === "/crm/" || /^\/(v2\/location\/|agency_dashboard|accounts|settings\/)/.test(path);

async function handle(req: IncomingMessage, res: ServerResponse, opts: DemoOptions): Promise<void> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  const html = "text/html; charset=utf-8";
  if (req.method === "POST") await readBody(req);
  if (path === "/" || path === "/index.html") return send(res, 200, html, renderDemoPage(opts));
  if (opts.crm && isCrmRoute(path)) {
    const page = readFileSync(join(ROOT, "scripts/demo/crm.html"), "utf8")
      .replaceAll("{{APP_URL}}", opts.crm.appUrl)
      .replaceAll("{{APP_ID}}", opts.crm.appId)
      .replaceAll("{{EDGE_URL}}", opts.edgeUrl)
      .replaceAll("{{LOCATION_ID}}", DEMO.locationExternalId);
    return send(res, 200, html, page);
  }
  if (opts.crm && path === "/crm/user-data") {
    const as = new URL(req.url ?? "/", "http://x").searchParams.get("as") ?? "agency";
    return send(res, 200, "text/plain", encryptPassphrasePayload(JSON.stringify(crmUserContext(as)), opts.crm.sharedSecret));
  }
  if (req.method === "POST" && path === "/fixtures/redirect") return send(res, 303, "text/plain", "", { location: "/fixtures/thanks.html" });
  if (req.method === "POST" && path === "/fixtures/api/lead") return send(res, 200, "application/json", '{"ok":true}');
  if (req.method === "POST" && path === "/fixtures/api/reject") return send(res, 422, "application/json", '{"ok":false}');
  const fixture = /^\/fixtures\/([a-z0-9-]+)\.html$/.exec(path);
  if (fixture && existsSync(join(FIXTURES, `${fixture[1]}.html`))) return send(res, 200, html, render(join(FIXTURES, `${fixture[1]}.html`), opts));
  send(res, 404, "text/plain", "not found");
}

export async function startDemo(opts: DemoOptions): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      console.error("demo server:", err);
      if (!res.headersSent) send(res, 500, "text/plain", "error");
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${opts.port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
