/** Every order, filtered and paginated, and the selected order's audit trail (its event timeline). */
import { useState } from "react";
import type { OrderFilters } from "../api/keys";
import { ORDER_STATUSES, type OrderRead } from "../api/types";
import { useOrderEvents, useOrderHistory } from "../hooks/queries";
import { formatDateTime, formatPrice, formatQty, humanize, MISSING } from "../lib/format";
import { Empty, QueryState, StatusBadge } from "./ui";
import { Time } from "./Time";

const NO_FILTERS: OrderFilters = { status: "all", symbol: "", side: "", since: "", until: "" };

/** A datetime-local value (the browser's local time) as ISO 8601 UTC, or "" if empty or invalid. */
export function localToIso(value: string): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

function payloadSummary(payload: Record<string, unknown>): string {
  return Object.entries(payload)
    .filter(
      ([key, value]) => key !== "request_hash" && value !== null && value !== undefined && typeof value !== "object",
    )
    .map(([key, value]) => `${key.replace(/_/g, " ")} ${String(value)}`)
    .join(" · ");
}

export function OrderTimeline({ order, onClose }: { order: OrderRead; onClose: () => void }) {
  const events = useOrderEvents(order.id);
  return (
    <section className="timeline" aria-labelledby="timeline-title" data-testid="order-timeline">
      <header className="panel-header">
        <h3 id="timeline-title">
          Order #{order.id} · {order.side} {formatQty(order.qty)} {order.symbol} {humanize(order.type)}
        </h3>
        <button type="button" className="button-secondary" onClick={onClose}>
          Close timeline
        </button>
      </header>
      <p className="muted small">
        Client id {order.client_order_id}
        {order.tag ? ` · tag ${order.tag}` : ""}
        {order.broker_order_id ? ` · broker id ${order.broker_order_id}` : ""}
        {order.oca_group ? ` · OCA ${order.oca_group}` : ""}
        {order.reject_reason ? ` · rejected: ${order.reject_reason}` : ""}
      </p>
      <QueryState query={events} what="the order's events" hasData={Boolean(events.data)}>
        {events.data && events.data.length === 0 ? <Empty>No events recorded.</Empty> : null}
        <ol className="timeline-list">
          {(events.data ?? []).map((e) => (
            <li key={e.id}>
              <time dateTime={e.created_at} className="num">
                {formatDateTime(e.created_at)}
              </time>{" "}
              <strong>{humanize(e.kind)}</strong> {e.from_status ? <StatusBadge status={e.from_status} /> : null}
              {e.from_status ? " → " : null}
              <StatusBadge status={e.to_status} />
              {e.reason ? <span> {e.reason}</span> : null}
              {payloadSummary(e.payload) ? <div className="muted small">{payloadSummary(e.payload)}</div> : null}
            </li>
          ))}
        </ol>
      </QueryState>
    </section>
  );
}

export function OrderHistory() {
  const [filters, setFilters] = useState<OrderFilters>(NO_FILTERS);
  const [sinceLocal, setSinceLocal] = useState("");
  const [untilLocal, setUntilLocal] = useState("");
  const [selected, setSelected] = useState<OrderRead | null>(null);
  const history = useOrderHistory(filters);
  const rows = history.data?.pages.flatMap((p) => p.items) ?? [];
  const set = (change: Partial<OrderFilters>) => setFilters((f) => ({ ...f, ...change }));
  // Keep the open timeline's header current as the order changes.
  const current = selected ? (rows.find((o) => o.id === selected.id) ?? selected) : null;

  return (
    <div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Order history filters">
        <div className="field">
          <label htmlFor="history-status">Status</label>
          <select
            id="history-status"
            value={filters.status}
            onChange={(e) => set({ status: e.target.value as OrderFilters["status"] })}
          >
            <option value="all">All</option>
            <option value="open">Open</option>
            <option value="closed">Closed</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {humanize(s)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="history-symbol">Symbol</label>
          <input
            id="history-symbol"
            size={8}
            value={filters.symbol}
            onChange={(e) => set({ symbol: e.target.value.trim().toUpperCase() })}
            autoComplete="off"
          />
        </div>
        <div className="field">
          <label htmlFor="history-side">Side</label>
          <select
            id="history-side"
            value={filters.side}
            onChange={(e) => set({ side: e.target.value as OrderFilters["side"] })}
          >
            <option value="">Both</option>
            <option value="buy">Buy</option>
            <option value="sell">Sell</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="history-since">From</label>
          <input
            id="history-since"
            type="datetime-local"
            value={sinceLocal}
            onChange={(e) => {
              setSinceLocal(e.target.value);
              set({ since: localToIso(e.target.value) });
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="history-until">Until</label>
          <input
            id="history-until"
            type="datetime-local"
            value={untilLocal}
            onChange={(e) => {
              setUntilLocal(e.target.value);
              set({ until: localToIso(e.target.value) });
            }}
          />
        </div>
        <button
          type="button"
          className="button-secondary"
          onClick={() => {
            setFilters(NO_FILTERS);
            setSinceLocal("");
            setUntilLocal("");
          }}
        >
          Clear filters
        </button>
      </form>
      <QueryState query={history} what="order history" hasData={Boolean(history.data)}>
        {rows.length === 0 ? (
          <Empty>No orders match these filters.</Empty>
        ) : (
          <div className="table-scroll">
            <table data-testid="history-table">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    #
                  </th>
                  <th scope="col">Symbol</th>
                  <th scope="col">Side</th>
                  <th scope="col">Type</th>
                  <th scope="col" className="num">
                    Qty
                  </th>
                  <th scope="col" className="num">
                    Filled
                  </th>
                  <th scope="col" className="num">
                    Avg price
                  </th>
                  <th scope="col" className="num">
                    Limit
                  </th>
                  <th scope="col" className="num">
                    Stop
                  </th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Placed
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Timeline</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((o) => (
                  <tr key={o.id} data-order-id={o.id} className={current?.id === o.id ? "selected" : undefined}>
                    <td className="num">{o.id}</td>
                    <th scope="row">{o.symbol}</th>
                    <td className={`side-text side-${o.side}`}>{o.side}</td>
                    <td>{humanize(o.type)}</td>
                    <td className="num">{formatQty(o.qty)}</td>
                    <td className="num">{formatQty(o.filled_qty)}</td>
                    <td className="num">{o.avg_fill_price ? formatPrice(o.avg_fill_price, 4) : MISSING}</td>
                    <td className="num">{o.limit_price ? formatPrice(o.limit_price) : MISSING}</td>
                    <td className="num">{o.stop_price ? formatPrice(o.stop_price) : MISSING}</td>
                    <td>
                      <StatusBadge status={o.status} />
                      {o.reject_reason ? (
                        <span className="muted small" title={o.reject_reason}>
                          {" "}
                          {o.reject_reason}
                        </span>
                      ) : null}
                    </td>
                    <td className="num">
                      <Time iso={o.created_at} />
                    </td>
                    <td className="actions">
                      <button
                        type="button"
                        className="button-secondary"
                        aria-label={`Show the timeline of order ${o.id}`}
                        aria-pressed={current?.id === o.id}
                        onClick={() => setSelected(current?.id === o.id ? null : o)}
                      >
                        Timeline
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {history.hasNextPage ? (
          <button
            type="button"
            className="button-secondary load-more"
            disabled={history.isFetchingNextPage}
            onClick={() => void history.fetchNextPage()}
          >
            {history.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        ) : null}
      </QueryState>
      {current ? <OrderTimeline order={current} onClose={() => setSelected(null)} /> : null}
    </div>
  );
}
