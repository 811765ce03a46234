/**
 * Consent, from the site config's mode: `opt-in` keeps events in memory and neither stores nor sends anything
 * until consent is granted; `opt-out` tracks until consent is denied; `cookieless` never touches storage, so ids
 * last one page. With `respectDoNotTrack`, a Global Privacy Control or Do Not Track signal turns tracking off
 * outright (an explicit grant does not override the browser's signal, nor is it stored). The decision is
 * remembered in `lt_c`, except a denial under opt-in, which is the default there and so needs no storage.
 */
import type { SiteConfig } from "#contracts";
import { clear, persist, read, write } from "./storage.ts";

type State = "granted" | "denied" | "unknown";

let mode: SiteConfig["consent"]["mode"];
let blocked: boolean;
/** The visitor's decision (a live binding: read it, don't assign it). */
export let state: State;

/** Events may be made and kept in memory: consent not denied, no privacy signal honoured. */
export const mayBuffer = (): boolean => !blocked && state != "denied";
/** Events may be sent. */
export const maySend = (): boolean => mayBuffer() && (state == "granted" || mode != "opt-in");

const allowStorage = (): void => persist(maySend() && mode != "cookieless");

export function initConsent(consent: Partial<SiteConfig["consent"]>): void {
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
  mode = consent.mode || "opt-out";
  blocked = !!consent.respectDoNotTrack && (!!nav.globalPrivacyControl || nav.doNotTrack == "1");
  state = ((mode != "cookieless" && read("lt_c")) || "unknown") as State;
  allowStorage();
}

/** Records the visitor's decision; a denial also forgets every id and event kept in storage. */
export function setConsent(granted: boolean): void {
  state = granted ? "granted" : "denied";
  if (!granted) clear();
  if (!blocked && mode != "cookieless" && (granted || mode != "opt-in")) write("lt_c", state);
  allowStorage();
}
