/** Test data shaped like the API's resources. */
import type { BrokerStatus, OrderRead } from "../api/types";

export function makeOrder(overrides: Partial<OrderRead> = {}): OrderRead {
  return {
    id: 1,
    client_order_id: "cid-1",
    symbol: "AAPL",
    side: "buy",
    qty: "10",
    type: "limit",
    limit_price: "190",
    stop_price: null,
    trail_amount: null,
    trail_percent: null,
    oca_group: null,
    tif: "day",
    outside_rth: false,
    status: "submitted",
    filled_qty: "0",
    avg_fill_price: null,
    broker_order_id: "SIM-1",
    perm_id: null,
    reject_reason: null,
    parent_id: null,
    created_at: "2026-01-02T15:00:00Z",
    submitted_at: "2026-01-02T15:00:00Z",
    filled_at: null,
    cancelled_at: null,
    updated_at: "2026-01-02T15:00:00.100Z",
    legs: [],
    ...overrides,
  };
}

/** GET /api/v1/broker's answer: a connected paper IBKR link; `overrides` replace fields. */
export function makeBrokerStatus(overrides: Partial<BrokerStatus> = {}): BrokerStatus {
  return {
    kind: "ibkr",
    connected: true,
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
    link: { state: "connected", since: "2026-01-02T14:30:00Z", description: "" },
    reconciliation: null,
    ...overrides,
  };
}
