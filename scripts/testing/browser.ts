/** Headless Chromium from Debian's `chromium` package, driven by playwright-core (no browser downloads). */
import { chromium, type Browser } from "playwright-core";
import { chromiumPath } from "../lib/system-deps.ts";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}
