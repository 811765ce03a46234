/**
 * Where a session came from: UTM parameters, ad click ids, the external referrer and the landing page; and the
 * visitor's first touch, kept (in `lt_ft`) for as long as the visitor id.
 */
import type { Attribution } from "#contracts";
import { get, set } from "./storage.ts";
import { attempt } from "./util.ts";

type Touch = Omit<Attribution, "firstTouch">;

/** The URL parameters `prefix` + key that are present, by key. */
function pick(params: URLSearchParams, keys: string, prefix: string): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const key of keys.split(" ")) {
    const value = params.get(prefix + key);
    if (value) (found = found || {})[key] = value.slice(0, 512);
  }
  return found;
}

/** The session's attribution, with the visitor's first touch (this one, if the visitor has none yet). */
export function attribution(ts: number): Attribution {
  const params = new URLSearchParams(location.search);
  const referrer = document.referrer;
  const touch: Touch = {
    utm: pick(params, "source medium campaign term content", "utm_"),
    clickIds: pick(params, "gclid fbclid msclkid ttclid li_fat_id twclid", ""),
    // A referrer from the site itself is not a source.
    referrer: referrer.indexOf(location.origin) ? referrer.slice(0, 4096) || undefined : undefined,
    landingPage: location.href.slice(0, 4096),
    ts,
  };
  // unreadable or absent: this touch becomes the first
  let first: Touch | undefined = attempt(() => JSON.parse(get("lt_ft")!));
  if (!first) set("lt_ft", JSON.stringify((first = touch)));
  return { ...touch, firstTouch: first };
}
