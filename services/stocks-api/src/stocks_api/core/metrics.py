"""Prometheus metrics of the service (names and meanings from SPEC.md's Observability)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter("api_requests_total", "HTTP requests handled", ["method", "route", "status"])
API_REQUEST_DURATION = Histogram(
    "api_request_duration_seconds",
    "HTTP request duration",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
API_ERRORS = Counter("api_errors_total", "Error responses by error code", ["code", "status"])
ORDERS = Counter("orders_total", "Orders entering each status", ["type", "side", "status"])
ORDER_LATENCY = Histogram(
    "order_latency_seconds",
    "From an order request to the broker's acceptance",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
ORDER_STAGE_SECONDS = Counter(
    "order_stage_seconds",
    "Time spent in each stage of the order path (core.stages), by clock: cpu or wall",
    ["stage", "clock"],
)
BROKER_EVENT_ERRORS = Counter(
    "broker_event_errors_total", "Broker events that could not be applied", ["reason"]
)
ACTIVE_POSITIONS = Gauge("active_positions", "Positions with a non-zero quantity")
PNL_UNREALIZED = Gauge(
    "pnl_unrealized", "Unrealized P&L of open positions at the last price", ["account"]
)
PNL_REALIZED = Gauge("pnl_realized", "P&L realized since the session boundary", ["account"])
ACCOUNT_EQUITY = Gauge(
    "account_equity",
    "Net liquidation value at the last valuation pass (the equity curve)",
    ["account"],
)
POSITION_MARKET_VALUE = Gauge(
    "position_market_value",
    "Signed market value of each open position at the last valuation pass (negative: short)",
    ["account", "symbol"],
)
FILLS = Counter("fills_total", "Fills booked (whichever broker), by side", ["side"])
RISK_REJECTIONS = Counter(
    "risk_rejections_total", "Orders and modifications refused, by failed risk check", ["check"]
)
TRADING_STATE = Gauge("risk_trading_state", "1 for the current trading state", ["state"])
RISK_DAILY_PNL = Gauge("risk_daily_pnl", "Today's P&L of the trading account (risk view)")
RISK_DAILY_LOSS_LIMIT = Gauge("risk_daily_loss_limit", "The daily loss limit (0 when off)")
EVENTS_PUBLISHED = Counter("events_published_total", "Domain events published", ["topic"])
REDIS_OPERATIONS = Counter(
    "redis_operations_total", "Redis operations of the event bus", ["operation", "result"]
)
EVENTS_DROPPED = Counter(
    "events_dropped_total", "Events dropped by an in-process subscriber whose queue was full"
)
WEBSOCKET_CLIENTS = Gauge("websocket_clients", "Authenticated WebSocket clients connected")
WEBSOCKET_DISCONNECTS = Counter(
    "websocket_disconnects_total", "WebSocket connections closed by the server", ["reason"]
)
MARKETDATA_SUBSCRIPTIONS = Gauge(
    "marketdata_subscriptions", "Symbols whose quotes are streamed to WebSocket clients"
)
BROKER_CONNECTED = Gauge(
    "broker_connected",
    "1 while orders can reach the broker (0 also while IB Gateway has lost IB: its 1100)",
)
BROKER_IB_UNREACHABLE = Gauge(
    "broker_ib_unreachable",
    "1 while IB Gateway is connected but has lost IB (its 1100, until 1101/1102)",
)
BROKER_IB_OUTAGES = Counter(
    "broker_ib_outages_total", "Times IB Gateway lost IB behind an open socket (IB's 1100)"
)
BROKER_POSITION_DIFFERENCES = Gauge(
    "broker_position_differences",
    "Positions that differed from the broker's own at the last reconciliation",
)
RECONCILED_ORDERS = Counter(
    "reconciled_orders_total",
    "Orders reconciliation resolved itself (the broker did not know them), by outcome",
    ["outcome"],
)
BROKER_OWNER = Gauge(
    "broker_owner",
    "1 while this instance owns the broker connection, 0 while it is a read-only standby",
)
BROKER_RECONNECTS = Counter("broker_reconnects_total", "Broker connections re-established")
BROKER_ORDER_ERRORS = Counter(
    "broker_order_errors_total", "Orders the broker rejected or failed", ["reason"]
)
BROKER_ORDERS_SENT = Counter("broker_orders_sent_total", "Orders sent to the broker")
DB_POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "Database pool at the last scrape: in_use, idle and overflow connections; size configured",
    ["state"],
)
