/** The edge Worker's Hono app: routes, and the one place where failures become HTTP answers. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { SDK_VERSION } from "./generated/sdk.ts";
import { ApiError, NotFound } from "./lib/errors.ts";
import { errorText, workerLog } from "./lib/log.ts";
import { activityRoute } from "./routes/activity.ts";
import { activityScriptRoute } from "./routes/activity-script.ts";
import { eventsRoute } from "./routes/events.ts";
import { loaderRoute } from "./routes/loader.ts";
import { sdkRoute } from "./routes/sdk.ts";

export const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ ok: true, sdkVersion: SDK_VERSION }));
app.route("/v1/events", eventsRoute);
app.route("/v1/activity", activityRoute);
app.route("/crm", activityScriptRoute);
app.route("/sdk", sdkRoute);
app.route("/", loaderRoute);

app.notFound((c) => {
  const err = NotFound();
  return c.json(err.toJSON(), err.status);
});

app.onError(function toJsonError(err, c) {
  if (err instanceof ApiError) {
    // every 429 (and 503) says when to come back
    if (typeof err.details.retryAfter === "number") c.header("Retry-After", String(err.details.retryAfter));
    return c.json(err.toJSON(), err.status);
  }
  if (err instanceof HTTPException) return c.json({ error: "http_error", message: err.message }, err.status);
  workerLog(c.env, { reqId: c.req.header("cf-ray") }).error("unhandled error", { path: c.req.path, error: errorText(err) });
  return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
});
