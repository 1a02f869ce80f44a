/**
 * What every e2e scenario shares: one headless Chromium per file, a fresh browser context
 * (so a fresh in-memory session) per test, a screenshot of each test under test-artifacts/,
 * a failure on any console error the test did not announce, and the admin API for set-up.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from "vitest";

/** Debian's Chromium: test tools cannot download browsers on this machine. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const baseUrl = inject("baseUrl");
export const apiUrl = inject("apiUrl");
export const password = inject("password");
const apiKey = inject("apiKey");
const artifacts = inject("artifacts");

export interface BrowserSession {
  readonly page: Page;
  /** Console errors matching this are part of the scenario (e.g. the 422 of a refused order). */
  allowConsoleErrors: (pattern: RegExp) => void;
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 80);
}

export function setupBrowserSession(): BrowserSession {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let allowed: RegExp[] = [];
  let consoleErrors: string[] = [];

  beforeAll(async () => {
    const root = typeof process.getuid === "function" && process.getuid() === 0;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium's sandbox refuses to run as root (containers, CI).
      args: root ? ["--no-sandbox"] : [],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    allowed = [];
    consoleErrors = [];
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
  });

  afterEach(async (context_) => {
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, `${slug(context_.task.name)}.png`), fullPage: true }).catch(() => {});
    await context.close();
    const unexpected = consoleErrors.filter((e) => !allowed.some((pattern) => pattern.test(e)));
    expect(unexpected, "console errors").toEqual([]);
  });

  return {
    get page() {
      return page;
    },
    allowConsoleErrors: (pattern: RegExp) => {
      allowed.push(pattern);
    },
  };
}

/** Call the API as an admin script would (X-API-Key); the parsed JSON answer. */
export async function adminApi<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(`${apiUrl}/api/v1${path}`, {
    method: init.method ?? "GET",
    headers: { "X-API-Key": apiKey, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Put the API back where every scenario expects it: trading active, default limits, no open orders. */
export async function resetTrading(): Promise<void> {
  const risk = await adminApi<{ state: string }>("/risk");
  if (risk.state !== "active")
    await adminApi("/risk/resume", { method: "POST", body: { state: "active", reason: "e2e reset" } });
  await adminApi("/risk/limits/reset", { method: "POST", body: {} });
  await adminApi("/orders", { method: "DELETE" });
}

export async function quote(symbol: string): Promise<{ bid: string; ask: string; last: string }> {
  const list = await adminApi<{ quotes: { bid: string; ask: string; last: string }[] }>(
    `/marketdata/quotes?symbols=${symbol}`,
  );
  return list.quotes[0]!;
}

/** Open the app, sign in, and wait until the live stream is subscribed. */
export async function signIn(page: Page): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
}

/**
 * Form controls without an accessible name: no <label>, aria-label or aria-labelledby.
 * Every input must have one (screen readers, voice control, and getByLabel in these tests).
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLInputElement>("input, select, textarea")]
      .filter((el) => el.type !== "hidden")
      .filter(
        (el) =>
          !(el.labels && el.labels.length > 0) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"),
      )
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

/** Poll until `read` gives a value `check` accepts (for text that changes live). */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => void,
  timeoutMs = 10_000,
): Promise<void> {
  await expect
    .poll(
      async () => {
        const value = await read();
        try {
          check(value);
          return true;
        } catch {
          return false;
        }
      },
      { timeout: timeoutMs, interval: 100 },
    )
    .toBe(true);
}
