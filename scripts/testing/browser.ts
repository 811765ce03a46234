/** Headless Chromium from Debian's `chromium` package, driven by playwright-core (no browser downloads). */
import { execFileSync } from "node:child_process";
import { chromium, type Browser } from "playwright-core";

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("chromium not found: install Debian's `chromium` package or set CHROMIUM_PATH");
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}
