/**
 * Page views of the CRM's single-page app: `history.pushState`/`replaceState` (wrapped: the originals run first and
 * their result and exceptions are the page's), `popstate` and `hashchange`. A change is read in a zero-delay timer
 * (several in one task count once) and is a new view only if its normalised path differs, or the CRM location in
 * the URL does (a new location also needs a new actor token: see `renew`). Only `location.pathname` and
 * `location.hash` are read, and only normalised paths leave this module.
 */
import { normalisePath, pageNameIn } from "../../../contracts/activity-path.ts";
import { uuid } from "../ids.ts";
import { flush } from "../queue.ts";
import { attempt, later, on } from "../util.ts";
import { report } from "./clock.ts";
import { current, emit } from "./events.ts";
import { renew } from "./token.ts";

/** Page names: the whole map, from the edge (DEFAULT_PAGE_NAMES and its configured names). */
let names: Record<string, string>;
/** The CRM location id in the URL at the last view ("" on agency pages); undefined before the first view. */
let place: string | undefined;

/** Starts a new view if the route changed. */
export function route(): void {
  const path = normalisePath(location.pathname, location.hash);
  const here = (/\/location\/([^/?#]+)/.exec(location.pathname + location.hash) || [])[1] || "";
  const moved = place != undefined && here != place;
  if (path == current.path && !moved) return;
  report();
  if (moved) {
    // what happened at the old location goes out with its token; what follows waits for the new location's
    flush();
    renew(true);
  }
  place = here;
  current.view = uuid();
  current.path = path;
  current.page = pageNameIn(path, names);
  emit("view");
}

export function startViews(pages?: Record<string, string>): void {
  names = pages || {};
  route();
  const changed = (): unknown => later(route);
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      attempt(changed);
      return result;
    };
  }
  on(window, "popstate", changed);
  on(window, "hashchange", changed);
}
