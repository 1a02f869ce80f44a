/** Executions with their commission, newest first, live. */
import { useState } from "react";
import type { FillFilters } from "../api/keys";
import { useFills } from "../hooks/queries";
import { formatMoney, formatPrice, formatQty } from "../lib/format";
import { Empty, QueryState } from "./ui";
import { Time } from "./Time";

export function Fills() {
  const [filters, setFilters] = useState<FillFilters>({ symbol: "", orderId: "" });
  const fills = useFills(filters);
  const rows = fills.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Fill filters">
        <div className="field">
          <label htmlFor="fills-symbol">Symbol</label>
          <input
            id="fills-symbol"
            size={8}
            value={filters.symbol}
            autoComplete="off"
            onChange={(e) => setFilters((f) => ({ ...f, symbol: e.target.value.trim().toUpperCase() }))}
          />
        </div>
        <div className="field">
          <label htmlFor="fills-order">Order #</label>
          <input
            id="fills-order"
            size={6}
            value={filters.orderId}
            inputMode="numeric"
            autoComplete="off"
            onChange={(e) => setFilters((f) => ({ ...f, orderId: e.target.value.replace(/\D/g, "") }))}
          />
        </div>
      </form>
      <QueryState query={fills} what="fills" hasData={Boolean(fills.data)}>
        {rows.length === 0 ? (
          <Empty>No fills yet.</Empty>
        ) : (
          <div className="table-scroll">
            <table data-testid="fills-table">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    Time
                  </th>
                  <th scope="col">Symbol</th>
                  <th scope="col">Side</th>
                  <th scope="col" className="num">
                    Qty
                  </th>
                  <th scope="col" className="num">
                    Price
                  </th>
                  <th scope="col" className="num">
                    Commission
                  </th>
                  <th scope="col" className="num">
                    Order
                  </th>
                  <th scope="col">Execution id</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((f) => (
                  <tr key={f.id} data-fill-id={f.id}>
                    <td className="num">
                      <Time iso={f.executed_at} />
                    </td>
                    <th scope="row">{f.symbol}</th>
                    <td className={`side-text side-${f.side}`}>{f.side}</td>
                    <td className="num">{formatQty(f.qty)}</td>
                    <td className="num">{formatPrice(f.price)}</td>
                    <td className="num">
                      {formatMoney(f.commission)} <span className="muted small">{f.currency}</span>
                    </td>
                    <td className="num">{f.order_id}</td>
                    <td className="muted small">{f.exec_id}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {fills.hasNextPage ? (
          <button
            type="button"
            className="button-secondary load-more"
            disabled={fills.isFetchingNextPage}
            onClick={() => void fills.fetchNextPage()}
          >
            {fills.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        ) : null}
      </QueryState>
    </div>
  );
}
