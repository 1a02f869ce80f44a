import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../hooks/auth";
import { Watchlist } from "./Watchlist";

function serve(session: "regular" | "closed", quoteTs: string) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const path = new URL(request.url).pathname;
      const quote = {
        symbol: "AAPL",
        bid: "190.00",
        ask: "190.01",
        last: "190.00",
        bid_size: "100",
        ask_size: "100",
        volume: "1000",
        ts: quoteTs,
      };
      const body =
        path === "/api/v1/clock"
          ? {
              timestamp: "2026-12-03T10:00:00-05:00",
              is_open: session === "regular",
              session,
              next_open: "2026-12-04T09:30:00-05:00",
              next_close: "2026-12-03T16:00:00-05:00",
              timezone: "America/New_York",
            }
          : { quotes: [quote], errors: [] };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }),
  );
}

function renderWatchlist() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <Watchlist symbols={["AAPL"]} onChange={() => {}} selected="AAPL" onSelect={() => {}} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Watchlist quote age", () => {
  it("says closed while the market is closed, not a time that looks live", async () => {
    serve("closed", new Date().toISOString());
    renderWatchlist();
    await waitFor(() => expect(screen.getByTestId("age-AAPL").textContent).toBe("closed"));
  });

  it("marks a quote that has not moved for a while as stale, and a fresh one as live", async () => {
    serve("regular", new Date(Date.now() - 120_000).toISOString());
    renderWatchlist();
    await waitFor(() => expect(screen.getByTestId("age-AAPL").textContent).toContain("(stale)"));
    cleanup();
    serve("regular", new Date().toISOString());
    renderWatchlist();
    await waitFor(() =>
      expect(screen.getByTestId("age-AAPL").querySelector("[data-age]")?.getAttribute("data-age")).toBe("live"),
    );
  });
});
