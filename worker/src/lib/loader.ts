/**
 * The per-site loader: a few hundred bytes of JavaScript with the site config inlined, which installs the call
 * queue stub and loads the shared, immutable SDK. Config values are tenant-controlled, so they are embedded as
 * JSON with every character that could end the script or the string escaped.
 */
import type { SiteConfig } from "#contracts";

/** The SDK's one global name. */
export const GLOBAL_NAME = "LeadTracker";

/**
 * JSON that is safe inside a classic `<script>` or a JS file: `<`, `>` and `&` cannot form `</script>` or `<!--`,
 * and U+2028/U+2029 (line terminators in older JavaScript) cannot end a statement.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * `w.LeadTracker` becomes the call queue (calls made before the SDK arrives are kept in `.q`), carrying the config
 * (`.c`) and the edge origin (`.e`); then the SDK is appended with `async`.
 */
export function renderLoader(config: SiteConfig, sdkUrl: string, edgeOrigin: string): string {
  return (
    `(function(w,d,n){try{var t=w[n]=w[n]||function(){(t.q=t.q||[]).push(arguments)};` +
    `t.c=${embedJson(config)};t.e=${embedJson(edgeOrigin)};` +
    `var s=d.createElement("script");s.async=!0;s.src=${embedJson(sdkUrl)};` +
    `(d.head||d.documentElement).appendChild(s)}catch(e){}})(window,document,${embedJson(GLOBAL_NAME)});`
  );
}

/** What an unknown or inactive site key gets: valid JavaScript that does nothing but say why. */
export function renderNoopLoader(siteKey: string): string {
  return `console.info(${embedJson(`[${GLOBAL_NAME}] site key "${siteKey}" is unknown or inactive: tracking is off.`)});`;
}
