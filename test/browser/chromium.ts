// Chromium for the browser suite: the operating system's (Debian's `chromium` package, which
// .ci/run installs when missing), never a browser downloaded by a tool. Each session gets a
// fresh profile folder, removed afterwards, and records every console error and uncaught page
// error, which the tests then require to be none.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";

/** The Chromium binary: `CHROMIUM_PATH`, or Debian's. */
export const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

// Quiet and offline: no sandbox (CI runs as root), no GPU, no QUIC, no first-run UI, no
// background traffic to Google services (the machine has no network anyway).
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where screenshots go (ignored by git). */
export const SCREENSHOTS = join("test", "browser", ".screenshots");

/** One browser session: its first page, and what went wrong in any of its pages. */
export type Session = {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  problems: string[];
  close(): Promise<void>;
};

/** Options of a session. */
export type SessionOptions = {
  viewport?: { width: number; height: number };
  /** A phone: touch, mobile viewport meta honoured. */
  mobile?: boolean;
  /** Lets a test inject axe-core into pages whose CSP would refuse it. */
  bypassCSP?: boolean;
};

/** Starts headless Chromium with a fresh profile. */
export async function openSession(options: SessionOptions = {}): Promise<Session> {
  const profile = mkdtempSync(join(tmpdir(), "x3m-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
    viewport: options.viewport ?? { width: 1280, height: 860 },
    isMobile: options.mobile ?? false,
    hasTouch: options.mobile ?? false,
    deviceScaleFactor: 1,
    bypassCSP: options.bypassCSP ?? false,
    reducedMotion: "reduce",
  });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`uncaught on ${page.url()}: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on("page", watch);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot of a page (its viewport, or its full length) or of one element as `<name>.png`. */
export async function screenshot(target: Page | Locator, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await ("goto" in target ? target.screenshot({ path, fullPage }) : target.screenshot({ path }));
  return path;
}
