import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BrokerSessionRead, BrokerStatus } from "../api/types";
import { AuthProvider } from "../hooks/auth";
import { makeBrokerStatus } from "../test/factories";
import { BrokerSessions } from "./BrokerSessions";

function makeSession(overrides: Partial<BrokerSessionRead> = {}): BrokerSessionRead {
  return {
    id: 1,
    kind: "ibkr",
    host: "127.0.0.1",
    port: 4002,
    server_version: "178",
    account_id: "DU1234567",
    instance: "4242@host-a",
    connected_at: "2026-01-02T14:30:00Z",
    disconnected_at: null,
    disconnect_reason: null,
    orders_sent: 0,
    fills_received: 0,
    reconnections: 0,
    ib_outage_seconds: 0,
    ib_unreachable_since: null,
    last_seen_at: "2026-01-02T14:30:00Z",
    ...overrides,
  };
}

function brokerStatus(session: BrokerSessionRead | null): BrokerStatus {
  return makeBrokerStatus({ session });
}

/** The API as fetch sees it: an answer per path, or a status with the error envelope. */
function fakeApi(answers: Record<string, unknown>) {
  const paths: string[] = [];
  const fetchMock = vi.fn(async (request: Request) => {
    const url = new URL(request.url);
    paths.push(url.pathname + url.search);
    const body = answers[url.pathname];
    if (body === undefined || typeof body === "number") {
      const status = typeof body === "number" ? body : 404;
      const error = { code: "INTERNAL", message: "boom", details: [], request_id: "r1" };
      return new Response(JSON.stringify({ error }), {
        status,
        headers: { "content-type": "application/json" },
      });
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { paths };
}

function renderPanel() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <BrokerSessions />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("BrokerSessions", () => {
  it("shows the current session and the earlier ones with how long they lasted and why they ended", async () => {
    const current = makeSession({
      id: 9,
      server_version: "176",
      account_id: "DU7654321",
      connected_at: "2026-01-02T15:00:00Z",
      orders_sent: 12,
      fills_received: 7,
      reconnections: 2,
      ib_outage_seconds: 95,
    });
    const api = fakeApi({
      "/api/v1/broker": brokerStatus(current),
      "/api/v1/broker/sessions": {
        items: [
          current,
          makeSession({
            id: 8,
            connected_at: "2026-01-02T14:00:00Z",
            disconnected_at: "2026-01-02T14:42:10Z",
            disconnect_reason: "socket_drop",
            orders_sent: 3,
            fills_received: 1,
          }),
          makeSession({
            id: 7,
            connected_at: "2026-01-01T09:00:00Z",
            disconnected_at: "2026-01-01T10:05:00Z",
            disconnect_reason: "api_crash",
          }),
        ],
        next_cursor: null,
      },
    });
    renderPanel();

    const now = await screen.findByTestId("broker-session-current");
    expect(now.textContent).toContain("Connected since");
    const value = (term: string) => within(now).getByText(term).nextElementSibling?.textContent;
    expect(value("Server version")).toBe("176");
    expect(value("Account")).toBe("DU7654321");
    expect(value("Orders sent")).toBe("12");
    expect(value("Fills")).toBe("7");
    expect(value("IB outages")).toBe("2 restored (1 min 35 s in all)");
    expect(screen.queryByTestId("ib-unreachable")).toBeNull();

    const table = await screen.findByTestId("broker-sessions-table");
    // The open session is shown above, not again in the list.
    expect(table.querySelector('[data-session-id="9"]')).toBeNull();
    const dropped = table.querySelector<HTMLElement>('[data-session-id="8"]')!;
    const cells = [...dropped.querySelectorAll("td")].map((td) => td.textContent);
    expect(cells.slice(1)).toEqual(["42 min", "socket dropped", "3 / 1"]);
    const crashed = table.querySelector<HTMLElement>('[data-session-id="7"]')!;
    expect(crashed.textContent).toContain("1 h 05 min");
    expect(within(crashed).getByText("API crashed").getAttribute("title")).toMatch(/died without closing/);
    expect(api.paths).toContain("/api/v1/broker/sessions?limit=6");
  });

  it("warns while IB is unreachable behind the open socket", async () => {
    fakeApi({
      "/api/v1/broker": brokerStatus(makeSession({ ib_unreachable_since: "2026-01-02T14:31:00Z" })),
      "/api/v1/broker/sessions": { items: [], next_cursor: null },
    });
    renderPanel();
    expect((await screen.findByTestId("ib-unreachable")).textContent).toMatch(/^IB unreachable since .+: the gateway/);
    expect(screen.getByText("IB outages").nextElementSibling?.textContent).toBe("0 restored");
  });

  it("says when no session is open and none is recorded", async () => {
    fakeApi({
      "/api/v1/broker": brokerStatus(null),
      "/api/v1/broker/sessions": { items: [], next_cursor: null },
    });
    renderPanel();
    await screen.findByText("No open broker session recorded.");
    await screen.findByText("No earlier sessions.");
    expect(screen.queryByTestId("broker-session-current")).toBeNull();
  });

  it("says so when the sessions cannot be read, instead of showing none", async () => {
    fakeApi({ "/api/v1/broker": brokerStatus(null), "/api/v1/broker/sessions": 500 });
    renderPanel();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toMatch(/Could not load the past sessions/));
    expect(screen.queryByText("No earlier sessions.")).toBeNull();
  });
});
