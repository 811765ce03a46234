/** `GET /v1/sites/:siteId/install-status`: whether the site's snippet is sending, for the dashboard's install check. */
import type { Hono } from "hono";
import { z } from "zod";
import type { Db } from "mongodb";
import type { ConfigDb } from "../../config/db.ts";
import { siteActivity } from "../../store/site-activity.ts";
import type { AuthEnv } from "../auth.ts";
import { findSite } from "./access.ts";

/** Events within this window count as "installed and sending". */
export const INSTALL_WINDOW_MS = 15 * 60_000;

export const installStatusSchema = z.object({
  siteId: z.string(),
  lastEventAt: z.iso.datetime().nullable(),
  eventsLast15m: z.number().int().describe("Events received in the last 15 minutes (a redelivered batch counts again: a signal, not a metric)."),
  installed: z.boolean().describe("True when events arrived in the last 15 minutes."),
});

export function registerInstallRoute(app: Hono<AuthEnv>, db: ConfigDb, mongo: Db): void {
  app.get("/sites/:siteId/install-status", async (c) => {
    const site = await findSite(db, c.get("principal"), c.req.param("siteId"));
    const { lastEventAt, recentEvents } = await siteActivity(mongo, site.id, INSTALL_WINDOW_MS);
    return c.json({
      siteId: site.id,
      lastEventAt: lastEventAt?.toISOString() ?? null,
      eventsLast15m: recentEvents,
      installed: recentEvents > 0,
    });
  });
}
