import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BrokerStatus } from "../api/types";
import { AuthProvider } from "../hooks/auth";
import { makeBrokerStatus } from "../test/factories";
import { Banners, Header } from "./Header";

/** GET /api/v1/broker with the link in `state`. */
function brokerStatus(state: "connected" | "disconnected" | "ib_unreachable"): BrokerStatus {
  return makeBrokerStatus({
    connected: state === "connected",
    link: { state, since: "2026-01-02T15:00:00Z", description: "" },
  });
}

function serve(broker: BrokerStatus) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/broker") {
        return new Response(JSON.stringify(broker), { status: 200, headers: { "content-type": "application/json" } });
      }
      const error = { code: "NOT_FOUND", message: "not here", details: [], request_id: "r1" };
      return new Response(JSON.stringify({ error }), { status: 404, headers: { "content-type": "application/json" } });
    }),
  );
}

function renderHeader() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <Header />
        <Banners />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Header", () => {
  it("says IB is unreachable behind a connected gateway (1100), not that the broker is connected", async () => {
    serve(brokerStatus("ib_unreachable"));
    renderHeader();
    expect(await screen.findByText(/connected, IB unreachable/)).toBeTruthy();
    const banner = await screen.findByTestId("broker-banner");
    expect(banner.textContent).toContain("lost its connection to IB (1100)");
    expect(banner.textContent).toContain("orders are refused");
  });

  it("says the broker is disconnected when the socket is down", async () => {
    serve(brokerStatus("disconnected"));
    renderHeader();
    const status = await screen.findByTestId("broker-status");
    expect(status.textContent).toContain("Broker disconnected");
    expect((await screen.findByTestId("broker-banner")).textContent).toContain("disconnected");
  });

  it("shows no banner while connected", async () => {
    serve(brokerStatus("connected"));
    renderHeader();
    expect((await screen.findByTestId("broker-status")).textContent).toContain("Broker connected");
    expect(screen.queryByTestId("broker-banner")).toBeNull();
  });
});

describe("Header when the API cannot be reached", () => {
  it("says API unreachable instead of the last broker and trading state, and comes back by itself", async () => {
    let up = true;
    const broker = brokerStatus("connected");
    vi.stubGlobal(
      "fetch",
      vi.fn(async (request: Request) => {
        if (!up) throw new TypeError("Failed to fetch");
        const path = new URL(request.url).pathname;
        const body = path === "/api/v1/broker" ? broker : { state: "active", reason: null, changed_by: null };
        return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
      }),
    );
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={client}>
        <AuthProvider baseUrl="http://api.test">
          <Header />
          <Banners />
        </AuthProvider>
      </QueryClientProvider>,
    );
    expect((await screen.findByTestId("broker-status")).textContent).toContain("Broker connected");
    up = false;
    await client.refetchQueries();
    const status = await screen.findByText("API unreachable");
    expect(status.closest("[data-testid=broker-status]")?.getAttribute("data-state")).toBe("api-unreachable");
    expect(screen.getByTestId("trading-state").textContent).toContain("UNKNOWN");
    expect(screen.getByTestId("unreachable-banner").textContent).toContain("Orders cannot be placed");
    expect(screen.queryByText(/trading still works/)).toBeNull();
    // And back by itself once the API answers.
    up = true;
    await client.refetchQueries();
    await waitFor(() => expect(screen.getByTestId("broker-status").textContent).toContain("Broker connected"));
    expect(screen.queryByTestId("unreachable-banner")).toBeNull();
  });
});

describe("Header market state", () => {
  it("says the market is closed and when it opens, from GET /api/v1/clock", async () => {
    const clock = {
      timestamp: "2026-11-26T10:00:00-05:00",
      is_open: false,
      session: "closed",
      next_open: "2026-11-27T09:30:00-05:00",
      next_close: "2026-11-27T13:00:00-05:00",
      timezone: "America/New_York",
    };
    vi.stubGlobal(
      "fetch",
      vi.fn(async (request: Request) => {
        const path = new URL(request.url).pathname;
        const body = path === "/api/v1/clock" ? clock : path === "/api/v1/broker" ? brokerStatus("connected") : null;
        return body
          ? new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } })
          : new Response("{}", { status: 404, headers: { "content-type": "application/json" } });
      }),
    );
    renderHeader();
    const state = await screen.findByTestId("market-state");
    expect(state.textContent).toBe("Market closed · opens Fri 09:30 EST");
    expect(state.dataset.session).toBe("closed");
  });
});
