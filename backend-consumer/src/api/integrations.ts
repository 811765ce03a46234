/**
 * `GET /v1/integrations/highlevel/oauth/callback?code=…`: where HighLevel sends the browser after a location
 * installs the marketplace app. The code is exchanged for the location's tokens (crm/connections.ts); the answer
 * is a small page saying what happened (it is a browser's redirect, not an API call). No bearer token: the code is
 * the credential, single-use and short-lived.
 */
import { Hono } from "hono";
import { ConnectionError, type ConnectionStore } from "../crm/connections.ts";

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5"><h1>${title}</h1><p>${body}</p></body></html>`;
const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function integrationRoutes(deps: { connections: ConnectionStore; log?: (msg: string, fields?: Record<string, unknown>) => void; onConnected?: () => void }): Hono {
  const app = new Hono();
  app.get("/highlevel/oauth/callback", async (c) => {
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
    const code = c.req.query("code");
    if (!code || code.length > 512) return c.html(page("Not connected", "The link has no authorization code. Install the app again from HighLevel."), 400);
    try {
      const { locationId } = await deps.connections.installHighLevel(code);
      deps.onConnected?.();
      deps.log?.("crm: highlevel connected", { locationId });
      return c.html(page("Connected", "HighLevel is connected: new leads of this location will be delivered to its contacts. You can close this page."));
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      deps.log?.("crm: highlevel install refused", { error: err.message });
      return c.html(page("Not connected", escape(err.message)), 400);
    }
  });
  return app;
}
