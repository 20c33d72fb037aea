import { chromium, type Browser } from "playwright-core";

/** Debian's chromium, or the one PROCTOR_CHROMIUM names: every page is tested in a real browser. */
const CHROMIUM = process.env.PROCTOR_CHROMIUM ?? "/usr/bin/chromium";

/** A headless Chromium for page tests, quiet: no sandbox (root in CI), no GPU, no calls home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
