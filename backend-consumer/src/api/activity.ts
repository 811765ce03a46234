/**
 * The team activity read API (behind the admin API's auth, like `POST /v1/stats/query`): `POST /v1/activity/query`
 * and `GET /v1/activity/users/:userId`. Scopes come from the principal the auth middleware read from MariaDB; what
 * a caller may not see is absent from answers, and a user it may not see is a 404. Definitions: README "Team
 * activity"; rules: activity/query.ts and activity/user-page.ts.
 */
import type { Hono } from "hono";
import type { Db } from "mongodb";
import type { ConfigDb } from "../config/db.ts";
import { activityDateRangeSchema, activityQuerySchema, runActivityQuery, scopeTimezone } from "../activity/query.ts";
import { userActivity, UserNotVisible } from "../activity/user-page.ts";
import type { AuthEnv } from "./auth.ts";
import { readBody } from "./admin/body.ts";
import { NotFound, ValidationFailed } from "./admin/errors.ts";
import { isTimeZone } from "./admin/rows.ts";
import { QueryError, resolveRange } from "./stats/schema.ts";

/** `date_range` of a query string: a shortcut, or "YYYY-MM-DD,YYYY-MM-DD". Default 30d. */
function dateRangeParam(raw: string | undefined) {
  const value = raw === undefined || raw === "" ? "30d" : raw.includes(",") ? raw.split(",").map((s) => s.trim()) : raw;
  const parsed = activityDateRangeSchema.safeParse(value);
  if (!parsed.success) throw ValidationFailed([{ path: "date_range", message: 'Expected a shortcut (day, 7d, 30d, month, 6mo, 12mo) or "YYYY-MM-DD,YYYY-MM-DD".' }]);
  return parsed.data;
}

function checkTimezone(tz: string | undefined): void {
  if (tz !== undefined && !isTimeZone(tz)) throw ValidationFailed([{ path: "timezone", message: "Expected an IANA time zone." }]);
}

/** QueryError → 400 naming the field. */
async function answering<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof QueryError) throw ValidationFailed([{ path: err.path, message: err.message }]);
    if (err instanceof UserNotVisible) throw NotFound("user");
    throw err;
  }
}

export function registerActivityRoutes(app: Hono<AuthEnv>, deps: { db: Db; configDb: ConfigDb }): void {
  app.post("/activity/query", async (c) => {
    const q = await readBody(c, activityQuerySchema);
    checkTimezone(q.timezone);
    return c.json(await answering(() => runActivityQuery(deps, c.get("principal"), q)));
  });

  app.get("/activity/users/:userId", async (c) => {
    const principal = c.get("principal");
    const userId = c.req.param("userId");
    const tz = c.req.query("timezone");
    checkTimezone(tz);
    const range = dateRangeParam(c.req.query("date_range"));
    return c.json(
      await answering(async () => {
        if (userId.length > 64) throw new UserNotVisible(userId);
        const { from, to } = resolveRange(range, tz ?? (await scopeTimezone(deps, principal)));
        return userActivity(deps, principal, userId, { from, to });
      }),
    );
  });
}
