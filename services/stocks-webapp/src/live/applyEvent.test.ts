import { QueryClient, type InfiniteData } from "@tanstack/react-query";
import { beforeEach, describe, expect, it } from "vitest";
import { accountKeys, fillKeys, orderKeys, positionKeys, quoteKeys, riskKeys, type OrderFilters } from "../api/keys";
import type { AccountSummary, FillPage, FillRead, OrderPage, PositionRead, QuoteList, RiskStatus } from "../api/types";
import { makeOrder } from "../test/factories";
import { applyLiveEvent } from "./applyEvent";
import type { LiveEvent } from "./messages";

function event<T extends LiveEvent["type"]>(type: T, data: Extract<LiveEvent, { type: T }>["data"]): LiveEvent {
  return { type, seq: 1, ts: "2026-01-02T15:00:01Z", data } as LiveEvent;
}

const fill = (id: number, symbol = "AAPL"): FillRead => ({
  id,
  exec_id: `E${id}`,
  order_id: 1,
  symbol,
  side: "buy",
  qty: "10",
  price: "190",
  commission: "1",
  currency: "USD",
  executed_at: "2026-01-02T15:00:00Z",
});

const position = (symbol: string, qty: string): PositionRead => ({
  account_id: "DU1",
  symbol,
  qty,
  avg_cost: "190",
  cost_basis: "1900",
  market_price: "191",
  market_value: "1910",
  unrealized_pnl: "10",
  realized_pnl: "0",
  opened_at: null,
  updated_at: "2026-01-02T15:00:00Z",
});

const page = <T>(items: T[]) => ({ items, next_cursor: null });
const ALL: OrderFilters = { status: "all", symbol: "", side: "", since: "", until: "" };

let client: QueryClient;
beforeEach(() => {
  client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
});

describe("applyLiveEvent: orders", () => {
  it("adds a new open order to the open list, newest first, and drops it once closed", () => {
    client.setQueryData<OrderPage>(orderKeys.open(), page([makeOrder({ id: 1 })]));
    applyLiveEvent(client, event("order.updated", makeOrder({ id: 2 })));
    expect(client.getQueryData<OrderPage>(orderKeys.open())!.items.map((o) => o.id)).toEqual([2, 1]);
    applyLiveEvent(
      client,
      event("order.updated", makeOrder({ id: 1, status: "cancelled", updated_at: "2026-01-02T15:00:02Z" })),
    );
    expect(client.getQueryData<OrderPage>(orderKeys.open())!.items.map((o) => o.id)).toEqual([2]);
  });

  it("keeps the newer state when an older one arrives late", () => {
    const filled = makeOrder({ status: "partially_filled", filled_qty: "5", updated_at: "2026-01-02T15:00:05Z" });
    client.setQueryData<OrderPage>(orderKeys.open(), page([filled]));
    applyLiveEvent(
      client,
      event("order.updated", makeOrder({ status: "submitted", updated_at: "2026-01-02T15:00:01Z" })),
    );
    expect(client.getQueryData<OrderPage>(orderKeys.open())!.items[0]!.filled_qty).toBe("5");
  });

  it("updates an order in place in every history page, and asks for a refetch of new ones", async () => {
    const key = orderKeys.history(ALL);
    client.setQueryData<InfiniteData<OrderPage>>(key, {
      pages: [page([makeOrder({ id: 3 })]), page([makeOrder({ id: 1 })])],
      pageParams: [null, "c1"],
    });
    applyLiveEvent(
      client,
      event("order.updated", makeOrder({ id: 1, status: "filled", updated_at: "2026-01-02T15:01:00Z" })),
    );
    const data = client.getQueryData<InfiniteData<OrderPage>>(key)!;
    expect(data.pages[1]!.items[0]!.status).toBe("filled");
    expect(client.getQueryState(key)!.isInvalidated).toBe(false);

    applyLiveEvent(client, event("order.updated", makeOrder({ id: 9 })));
    expect(client.getQueryState(key)!.isInvalidated).toBe(true);
  });

  it("marks the order's timeline stale", () => {
    client.setQueryData(orderKeys.events(1), []);
    applyLiveEvent(client, event("order.updated", makeOrder({ id: 1 })));
    expect(client.getQueryState(orderKeys.events(1))!.isInvalidated).toBe(true);
  });
});

describe("applyLiveEvent: fills, positions, account, risk, quotes", () => {
  it("prepends a fill to the lists whose filters it matches, once", () => {
    const all = fillKeys.list({ symbol: "", orderId: "" });
    const msft = fillKeys.list({ symbol: "MSFT", orderId: "" });
    client.setQueryData<InfiniteData<FillPage>>(all, { pages: [page([fill(1)])], pageParams: [null] });
    client.setQueryData<InfiniteData<FillPage>>(msft, { pages: [page([])], pageParams: [null] });
    applyLiveEvent(client, event("fill.created", fill(2)));
    applyLiveEvent(client, event("fill.created", fill(2)));
    expect(client.getQueryData<InfiniteData<FillPage>>(all)!.pages[0]!.items.map((f) => f.id)).toEqual([2, 1]);
    expect(client.getQueryData<InfiniteData<FillPage>>(msft)!.pages[0]!.items).toEqual([]);
  });

  it("upserts positions by symbol and removes closed ones", () => {
    client.setQueryData<PositionRead[]>(positionKeys.list(), [position("MSFT", "5")]);
    applyLiveEvent(client, event("position.updated", position("AAPL", "10")));
    applyLiveEvent(client, event("position.updated", position("MSFT", "7")));
    expect(client.getQueryData<PositionRead[]>(positionKeys.list())!.map((p) => `${p.symbol} ${p.qty}`)).toEqual([
      "AAPL 10",
      "MSFT 7",
    ]);
    applyLiveEvent(client, event("position.updated", position("AAPL", "0.00")));
    expect(client.getQueryData<PositionRead[]>(positionKeys.list())!.map((p) => p.symbol)).toEqual(["MSFT"]);
  });

  it("takes a revaluation of the same fill's state, never an older quantity", () => {
    client.setQueryData<PositionRead[]>(positionKeys.list(), [position("AAPL", "10")]);
    // The live marks revalue at a new quote: updated_at (the last fill) is the same.
    applyLiveEvent(client, event("position.updated", { ...position("AAPL", "10"), market_price: "192.5" }));
    expect(client.getQueryData<PositionRead[]>(positionKeys.list())![0]!.market_price).toBe("192.5");
    // A fill moved it to 15; a revaluation of the state before that arrives late.
    const later = { ...position("AAPL", "15"), updated_at: "2026-01-02T15:00:01Z" };
    applyLiveEvent(client, event("position.updated", later));
    applyLiveEvent(client, event("position.updated", { ...position("AAPL", "10"), market_price: "193" }));
    const [held] = client.getQueryData<PositionRead[]>(positionKeys.list())!;
    expect([held!.qty, held!.market_price]).toEqual(["15", "191"]);
  });

  it("replaces the account summary and marks the day's P&L stale", () => {
    const summary = { account_id: "DU1", net_liquidation: "1000000.00" } as AccountSummary;
    client.setQueryData(accountKeys.pnl("DU1"), { daily_pnl: "0" });
    applyLiveEvent(client, event("account.updated", summary));
    expect(client.getQueryData(accountKeys.summary("DU1"))).toEqual(summary);
    expect(client.getQueryState(accountKeys.pnl("DU1"))!.isInvalidated).toBe(true);
  });

  it("merges the trading state into the risk status, keeping limits and usage", () => {
    client.setQueryData<RiskStatus>(riskKeys.status(), {
      state: "active",
      limits: { max_order_qty: "10" },
    } as RiskStatus);
    applyLiveEvent(
      client,
      event("risk.state", {
        state: "halted",
        reason: "lunch",
        changed_by: "user:admin",
        changed_at: "2026-01-02T15:00:00Z",
      }),
    );
    expect(client.getQueryData<RiskStatus>(riskKeys.status())).toMatchObject({
      state: "halted",
      reason: "lunch",
      limits: { max_order_qty: "10" },
    });
  });

  it("replaces a quote in every list holding its symbol, unless it is older", () => {
    const q = (last: string, ts: string) => ({
      symbol: "AAPL",
      bid: last,
      ask: last,
      last,
      bid_size: "1",
      ask_size: "1",
      volume: "1",
      ts,
    });
    const key = quoteKeys.list(["AAPL", "MSFT"]);
    client.setQueryData<QuoteList>(key, { quotes: [q("190", "2026-01-02T15:00:00Z")], errors: [] });
    applyLiveEvent(client, event("quote", q("191", "2026-01-02T15:00:01Z")));
    expect(client.getQueryData<QuoteList>(key)!.quotes[0]!.last).toBe("191");
    applyLiveEvent(client, event("quote", q("189", "2026-01-02T14:59:59Z")));
    expect(client.getQueryData<QuoteList>(key)!.quotes[0]!.last).toBe("191");
  });
});
