import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { orderKeys } from "../api/keys";
import type { OrderPage } from "../api/types";
import { makeOrder } from "../test/factories";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { liveUrl, useLiveUpdates } from "./useLiveUpdates";

function setup({ symbols = ["AAPL"] }: { symbols?: string[] } = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  // What GET /orders?status=open answers: order 1 at first.
  const fetchOpen = vi.fn(async (): Promise<OrderPage> => ({ items: [makeOrder({ id: 1 })], next_cursor: null }));
  const onUnauthorized = vi.fn();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>{children}</QueryClientProvider>
  );
  const hook = renderHook(
    ({ symbols, token }: { symbols: string[]; token: string | null }) => {
      const live = useLiveUpdates({
        token,
        symbols,
        onUnauthorized,
        url: "ws://app.test/api/v1/ws",
        createSocket: FakeWebSocket.create,
        backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
      });
      const open = useQuery({ queryKey: orderKeys.open(), queryFn: fetchOpen });
      // Read while rendering, as a component does (TanStack re-renders for what is read).
      return { live, fetching: open.isFetching, ids: open.data?.items.map((o) => o.id) };
    },
    { wrapper, initialProps: { symbols, token: "jwt" as string | null } },
  );
  return { ...hook, client, fetchOpen, onUnauthorized };
}

/** Connect the fake server and wait until the first load and the post-connect re-read are done. */
async function connected(h: ReturnType<typeof setup>, socket = FakeWebSocket.latest()) {
  const before = h.fetchOpen.mock.calls.length;
  act(() => socket.handshake());
  await waitFor(() => expect(h.result.current.live.status).toBe("live"));
  await waitFor(() => expect(h.fetchOpen.mock.calls.length).toBeGreaterThan(before));
  await waitFor(() => expect(h.result.current.fetching).toBe(false));
  return socket;
}

beforeEach(() => {
  FakeWebSocket.reset();
});

describe("useLiveUpdates", () => {
  it("builds the stream's address from the page's origin", () => {
    expect(liveUrl({ protocol: "http:", host: "127.0.0.1:8000" })).toBe("ws://127.0.0.1:8000/api/v1/ws");
    expect(liveUrl({ protocol: "https:", host: "trading.example" })).toBe("wss://trading.example/api/v1/ws");
  });

  it("applies pushed events to the query cache without asking the API", async () => {
    const h = setup();
    const socket = await connected(h);
    const calls = h.fetchOpen.mock.calls.length;
    act(() => {
      socket.push("order.updated", makeOrder({ id: 2, updated_at: "2026-01-02T15:00:09Z" }));
    });
    await waitFor(() => expect(h.result.current.ids).toEqual([2, 1]));
    act(() => {
      socket.push("order.updated", makeOrder({ id: 1, status: "filled", updated_at: "2026-01-02T15:00:09Z" }));
    });
    await waitFor(() => expect(h.result.current.ids).toEqual([2]));
    expect(h.fetchOpen.mock.calls.length).toBe(calls);
  });

  it("re-reads over REST when seq shows a gap", async () => {
    const h = setup();
    const socket = await connected(h);
    const calls = h.fetchOpen.mock.calls.length;
    act(() => {
      socket.push("quote", { symbol: "AAPL", last: "1", ts: "2026-01-02T15:00:00Z" }, { skip: 3 });
    });
    await waitFor(() => expect(h.fetchOpen.mock.calls.length).toBe(calls + 1));
    expect(h.result.current.live.resyncs).toBe(2); // on connect, and for the gap
  });

  it("re-reads over REST when the server sends resync", async () => {
    const h = setup();
    const socket = await connected(h);
    const calls = h.fetchOpen.mock.calls.length;
    act(() => {
      socket.push("resync", { reason: "bus reconnected" }, { skip: 1 });
    });
    await waitFor(() => expect(h.fetchOpen.mock.calls.length).toBe(calls + 1));
  });

  it("says when the stream is down, reconnects with backoff, and catches up", async () => {
    const h = setup();
    const first = await connected(h);
    act(() => first.drop(1006));
    expect(h.result.current.live.status).toBe("reconnecting");
    expect(h.result.current.live.retryInMs).toBe(20);

    // Still down at the first retry: the next wait doubles.
    await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(2));
    act(() => FakeWebSocket.latest().drop(1006));
    expect(h.result.current.live.retryInMs).toBe(40);
    await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(3));

    // Back: live again, and everything re-read (events during the outage never come).
    h.fetchOpen.mockResolvedValue({ items: [makeOrder({ id: 7 })], next_cursor: null });
    await connected(h, FakeWebSocket.latest());
    await waitFor(() => expect(h.result.current.ids).toEqual([7]));
    expect(h.result.current.live.connections).toBe(2);
  });

  it("keeps an event that arrives while an older REST answer is on its way", async () => {
    const h = setup();
    const socket = await connected(h);
    let answer: (page: OrderPage) => void = () => {};
    h.fetchOpen.mockImplementationOnce(() => new Promise<OrderPage>((resolve) => (answer = resolve)));
    act(() => void h.client.invalidateQueries({ queryKey: orderKeys.open() }));
    await waitFor(() => expect(h.result.current.fetching).toBe(true));
    // Order 1 fills while the read is out; the read was answered before the fill.
    act(() => {
      socket.push("order.updated", makeOrder({ id: 1, status: "filled", updated_at: "2026-01-02T15:00:09Z" }));
      socket.push("order.updated", makeOrder({ id: 3, updated_at: "2026-01-02T15:00:09Z" }));
    });
    act(() => answer({ items: [makeOrder({ id: 1 })], next_cursor: null }));
    await waitFor(() => expect(h.result.current.fetching).toBe(false));
    await waitFor(() => expect(h.result.current.ids).toEqual([3]));
  });

  it("follows watchlist changes on the same connection", async () => {
    const h = setup({ symbols: ["AAPL"] });
    const socket = await connected(h);
    socket.sent.length = 0;
    h.rerender({ symbols: ["AAPL", "msft"], token: "jwt" });
    expect(socket.sent).toEqual([{ op: "subscribe", channels: ["quotes:MSFT"], id: "sub:quotes:MSFT" }]);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("asks to sign in again when the server refuses the token", async () => {
    const h = setup();
    const socket = await connected(h);
    act(() => socket.drop(4401, "token expired"));
    expect(h.onUnauthorized).toHaveBeenCalledTimes(1);
    expect(h.result.current.live.status).toBe("unauthorized");
  });

  it("closes the stream when signed out or unmounted", async () => {
    const h = setup();
    const socket = await connected(h);
    h.rerender({ symbols: ["AAPL"], token: null });
    expect(socket.closedWith).toEqual({ code: 1000, reason: "page closed" });
    h.unmount();
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});
