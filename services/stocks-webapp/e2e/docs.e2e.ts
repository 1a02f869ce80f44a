/**
 * The API's own documentation pages with the network cut off: Chromium may reach this
 * machine (loopback) and nothing else, as on a machine without internet. Swagger UI must
 * come from the API itself, render the operations, and break no CSP rule (a
 * violation is a console error, which fails the test).
 */
import type { Page, Request } from "playwright-core";
import { beforeEach, describe, expect, it } from "vitest";
import { apiUrl, setupBrowserSession } from "./harness";

const session = setupBrowserSession();
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

let leftLoopback: string[];

/** Refuse every request that would leave the machine, and remember it. */
async function offline(page: Page): Promise<void> {
  leftLoopback = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === "http:" || url.protocol === "https:") && LOOPBACK.has(url.hostname)) {
      return route.continue();
    }
    if (url.protocol === "data:" || url.protocol === "blob:") return route.continue();
    leftLoopback.push(route.request().url());
    return route.abort("internetdisconnected");
  });
  page.on("request", (request: Request) => {
    const url = new URL(request.url());
    if (!["data:", "blob:"].includes(url.protocol) && !LOOPBACK.has(url.hostname)) leftLoopback.push(request.url());
  });
}

describe("the API docs without internet", () => {
  beforeEach(async () => {
    await offline(session.page);
  });

  it("/docs renders Swagger UI with every operation, from the API's own files", async () => {
    const { page } = session;
    const response = await page.goto(`${apiUrl}/docs`);
    expect(response?.status()).toBe(200);
    await expect.poll(() => page.locator(".swagger-ui .info .title").textContent()).toContain("stocks API");
    const placeOrder = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/v1/orders"])');
    await placeOrder.locator(".opblock-summary").first().waitFor();
    expect(await placeOrder.locator(".opblock-summary-method").first().textContent()).toBe("POST");
    // The example body Swagger UI offers is a valid market order, not "symbol": "string".
    await placeOrder.locator(".opblock-summary").first().click();
    const example = placeOrder.locator(".body-param__example, .highlight-code").first();
    await example.waitFor();
    const text = (await example.textContent()) ?? "";
    expect(JSON.parse(text)).toEqual({ symbol: "AAPL", side: "buy", qty: "10", type: "market" });
    expect(leftLoopback).toEqual([]);
  });
});
