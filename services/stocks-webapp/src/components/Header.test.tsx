import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BrokerStatus } from "../api/types";
import { AuthProvider } from "../hooks/auth";
import { Banners, Header } from "./Header";

/** GET /api/v1/broker with the link in `state` (the fields the header reads). */
function brokerStatus(state: "connected" | "disconnected" | "ib_unreachable"): BrokerStatus {
  const status: Partial<BrokerStatus> = {
    kind: "ibkr",
    connected: state === "connected",
    host: "127.0.0.1",
    port: 4002,
    server_version: "178",
    mode: "paper",
    live_reasons: [],
    live_trading_allowed: false,
    accounts: [],
    connected_at: "2026-01-02T14:30:00Z",
    last_reconnect_at: null,
    role: "owner",
    read_only: false,
    owner: null,
    session: null,
    link: { state, since: "2026-01-02T15:00:00Z", description: "" },
    reconciliation: null,
  };
  return status as BrokerStatus;
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
