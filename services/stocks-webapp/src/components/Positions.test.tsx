import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { marketKeys } from "../api/keys";
import type { MarketClock, PositionRead } from "../api/types";
import { AuthProvider } from "../hooks/auth";
import { makeOrder } from "../test/factories";
import { Positions } from "./Positions";

const POSITION: PositionRead = {
  account_id: "DU1234567",
  symbol: "AAPL",
  qty: "10",
  avg_cost: "190.0000",
  cost_basis: "1900.00",
  market_price: "191.00",
  market_value: "1910.00",
  unrealized_pnl: "10.00",
  realized_pnl: "0.00",
  opened_at: "2026-12-01T15:00:00Z",
  updated_at: "2026-12-01T15:00:00Z",
};

function clock(overrides: Partial<MarketClock>): MarketClock {
  return {
    timestamp: "2026-12-01T17:00:00-05:00",
    is_open: false,
    session: "after_hours",
    next_open: "2026-12-02T09:30:00-05:00",
    next_close: "2026-12-02T16:00:00-05:00",
    timezone: "America/New_York",
    ...overrides,
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** Serve positions and the clock; record each DELETE's URL and answer it with `notice`. */
function serve(market: MarketClock, notice: string | null) {
  const closes: URL[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      if (request.method === "DELETE" && url.pathname === "/api/v1/positions/AAPL") {
        closes.push(url);
        const outsideRth = url.searchParams.get("outside_rth") === "true";
        return json(makeOrder({ side: "sell", type: "market", outside_rth: outsideRth, notice }), 201);
      }
      if (url.pathname === "/api/v1/positions") return json([POSITION]);
      if (url.pathname === "/api/v1/clock") return json(market);
      return json({ error: { code: "NOT_FOUND", message: "not here", details: [], request_id: "r1" } }, 404);
    }),
  );
  return closes;
}

/** Render the panel with the clock already read (as the header has, on the dashboard). */
function renderPositions(market: MarketClock) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  client.setQueryData(marketKeys.clock(), market);
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <Positions onSelectSymbol={() => {}} tradingDisabled={false} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

async function openClose() {
  fireEvent.click(await screen.findByRole("button", { name: "Close position AAPL" }));
  return screen.getByRole("group", { name: "Confirm closing AAPL" });
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Positions → Close", () => {
  it("closes at market in one step while the regular session is open", async () => {
    const open = clock({ is_open: true, session: "regular" });
    const closes = serve(open, null);
    renderPositions(open);
    const group = await openClose();
    expect(group.textContent).toContain("of 10 AAPL at market?");
    expect((screen.getByRole("combobox", { name: "How much of AAPL to close" }) as HTMLSelectElement).value).toBe("");
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    await vi.waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.searchParams.get("outside_rth")).toBe("false");
    expect(closes[0]?.searchParams.has("percentage")).toBe(false); // all of it
    expect(screen.queryByTestId("close-notice")).toBeNull();
  });

  it("closes a part of the position when one is chosen", async () => {
    const open = clock({ is_open: true, session: "regular" });
    const closes = serve(open, null);
    renderPositions(open);
    await openClose();
    fireEvent.change(screen.getByRole("combobox", { name: "How much of AAPL to close" }), {
      target: { value: "50" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    await vi.waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.searchParams.get("percentage")).toBe("50");
  });

  it("asks, when the market is closed, whether to wait for the open, and says the order waits", async () => {
    const notice = "waits for the regular session at 09:30 America/New_York (Wed 2026-12-02)";
    const closes = serve(clock({}), notice);
    renderPositions(clock({}));
    const group = await openClose();
    expect(group.textContent).toContain("Market closed (opens Wed 09:30 EST)");
    expect(screen.getByRole("button", { name: "Close now in extended hours (outside RTH)" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Close at the open (waits)" }));
    await vi.waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.searchParams.get("outside_rth")).toBe("false");
    expect((await screen.findByTestId("close-notice")).textContent).toBe(
      `Closing order for AAPL placed: it ${notice}.`,
    );
  });

  it("closes outside regular hours when asked to", async () => {
    const closes = serve(clock({}), null);
    renderPositions(clock({}));
    await openClose();
    fireEvent.click(screen.getByRole("button", { name: "Close now in extended hours (outside RTH)" }));
    await vi.waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.searchParams.get("outside_rth")).toBe("true");
  });
});
