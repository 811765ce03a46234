/**
 * Activity events: the current view, and the activity session (`lt_as` = `<id>|<last event ms>`, shared by the tabs
 * of this browser, ended by 30 minutes without an event; the time is rewritten at most once a minute). A session
 * that starts with a `time` event (the user comes back to a page after 30 minutes) first gets a fresh view of that
 * page, so every session starts with a view.
 */
import type { ActivityEvent } from "#contracts";
import { uuid } from "../ids.ts";
import { add } from "../queue.ts";
import { get, set } from "../storage.ts";

/** The current view: its id, normalised path and page name (empty id before the first view). */
export const current = { view: "", path: "", page: "" };

/** Queues a `view` of the current view, or a `time` event of `ms` active milliseconds on it. */
export function emit(type: ActivityEvent["type"], ms?: number): void {
  if (!current.view) return;
  const ts = Date.now();
  const [id, last] = (get("lt_as") || "").split("|");
  const session = !id || !(ts - +last! <= 18e5) ? uuid() : id;
  // written at most once a minute while the session goes on (a storage write per event cost more than the rest)
  if (session != id || ts - +last! > 6e4) set("lt_as", `${session}|${ts}`);
  if (session != id && type == "time") {
    current.view = uuid();
    emit("view");
  }
  add({ type, id: uuid(), ts, session, ...current, ms } as ActivityEvent);
}
