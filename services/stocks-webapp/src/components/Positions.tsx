/** Open positions valued at the market, live, with a confirmed "close" per position. */
import { useState } from "react";
import { describeError } from "../api/errors";
import { useClosePosition, usePositions } from "../hooks/queries";
import { formatMoney, formatPrice, formatQty } from "../lib/format";
import { Empty, Panel, Pnl, QueryState } from "./ui";

export function Positions({
  onSelectSymbol,
  tradingDisabled,
}: {
  onSelectSymbol: (symbol: string) => void;
  tradingDisabled: boolean;
}) {
  const positions = usePositions();
  const close = useClosePosition();
  const [confirming, setConfirming] = useState<string | null>(null);
  const rows = positions.data ?? [];
  return (
    <Panel title="Positions" className="positions">
      <QueryState query={positions} what="positions" hasData={Boolean(positions.data)}>
        {rows.length === 0 ? (
          <Empty>No open positions.</Empty>
        ) : (
          <div className="table-scroll">
            <table data-testid="positions-table">
              <thead>
                <tr>
                  <th scope="col">Symbol</th>
                  <th scope="col" className="num">
                    Qty
                  </th>
                  <th scope="col" className="num">
                    Avg cost
                  </th>
                  <th scope="col" className="num">
                    Price
                  </th>
                  <th scope="col" className="num">
                    Market value
                  </th>
                  <th scope="col" className="num">
                    Unrealized P&L
                  </th>
                  <th scope="col" className="num">
                    Realized P&L
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((p) => (
                  <tr key={`${p.account_id}:${p.symbol}`} data-symbol={p.symbol}>
                    <th scope="row">
                      <button type="button" className="link" onClick={() => onSelectSymbol(p.symbol)}>
                        {p.symbol}
                      </button>
                    </th>
                    <td className="num">{formatQty(p.qty)}</td>
                    <td className="num">{formatPrice(p.avg_cost, 4)}</td>
                    <td className="num">{formatPrice(p.market_price)}</td>
                    <td className="num">{formatMoney(p.market_value)}</td>
                    <td className="num">
                      <Pnl value={p.unrealized_pnl} />
                    </td>
                    <td className="num">
                      <Pnl value={p.realized_pnl} />
                    </td>
                    <td className="actions">
                      {confirming === p.symbol ? (
                        <span className="confirm-inline" role="group" aria-label={`Confirm closing ${p.symbol}`}>
                          Close {formatQty(p.qty)} {p.symbol} at market?{" "}
                          <button
                            type="button"
                            className="button-danger"
                            autoFocus
                            disabled={close.isPending}
                            onClick={() => close.mutate(p.symbol, { onSettled: () => setConfirming(null) })}
                          >
                            Close
                          </button>{" "}
                          <button type="button" className="button-secondary" onClick={() => setConfirming(null)}>
                            Keep
                          </button>
                        </span>
                      ) : (
                        <button
                          type="button"
                          className="button-secondary"
                          disabled={tradingDisabled}
                          aria-label={`Close position ${p.symbol}`}
                          onClick={() => {
                            close.reset();
                            setConfirming(p.symbol);
                          }}
                        >
                          Close
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {close.isError ? (
          <p className="state state-error" role="alert">
            Could not close the position: {describeError(close.error)}
          </p>
        ) : null}
      </QueryState>
    </Panel>
  );
}
