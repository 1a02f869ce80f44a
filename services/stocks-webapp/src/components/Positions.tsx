/**
 * Open positions valued at the market, live, with a confirmed "close" per position (all of
 * it, or a part: 75, 50 or 25 %, which the API rounds down to the symbol's quantity step).
 * When the regular session is closed (GET /api/v1/clock), Close asks whether to wait for
 * the open or trade outside regular hours, and the order's wait notice is shown.
 */
import { useState } from "react";
import { describeError } from "../api/errors";
import { useClosePosition, useMarketClock, usePositions } from "../hooks/queries";
import { formatMoney, formatPrice, formatQty } from "../lib/format";
import { closeChoices, formatSessionTime } from "../lib/market";
import { Empty, Panel, Pnl, QueryState } from "./ui";

/** The parts of a position Close offers: the percentage sent ("" = all of it) and its label. */
const CLOSE_PARTS: [string, string][] = [
  ["", "all"],
  ["75", "75%"],
  ["50", "50%"],
  ["25", "25%"],
];

export function Positions({
  onSelectSymbol,
  tradingDisabled,
}: {
  onSelectSymbol: (symbol: string) => void;
  tradingDisabled: boolean;
}) {
  const positions = usePositions();
  const close = useClosePosition();
  const clock = useMarketClock();
  const choices = closeChoices(clock.data);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [part, setPart] = useState("");
  const rows = positions.data ?? [];
  const closeAt = (symbol: string, outsideRth: boolean) =>
    close.mutate({ symbol, outsideRth, percentage: part || undefined }, { onSettled: () => setConfirming(null) });
  const partOf = (symbol: string) => (
    <select aria-label={`How much of ${symbol} to close`} value={part} onChange={(e) => setPart(e.target.value)}>
      {CLOSE_PARTS.map(([value, label]) => (
        <option key={value} value={value}>
          {label}
        </option>
      ))}
    </select>
  );
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
                  <th scope="col" className="num col-wide">
                    Avg cost
                  </th>
                  <th scope="col" className="num col-wide">
                    Price
                  </th>
                  <th scope="col" className="num col-wide">
                    Market value
                  </th>
                  <th scope="col" className="num">
                    Unrealized P&L
                  </th>
                  <th scope="col" className="num col-wide">
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
                    <td className="num col-wide">{formatPrice(p.avg_cost, 4)}</td>
                    <td className="num col-wide" data-testid="position-price">
                      {formatPrice(p.market_price)}
                    </td>
                    <td className="num col-wide">{formatMoney(p.market_value)}</td>
                    <td className="num" data-testid="position-pnl">
                      <Pnl value={p.unrealized_pnl} />
                    </td>
                    <td className="num col-wide">
                      <Pnl value={p.realized_pnl} />
                    </td>
                    <td className="actions">
                      {confirming === p.symbol && choices.marketClosed && clock.data ? (
                        <span className="confirm-inline" role="group" aria-label={`Confirm closing ${p.symbol}`}>
                          Market closed (opens {formatSessionTime(clock.data.next_open, clock.data.timezone)}): close{" "}
                          {partOf(p.symbol)} of {formatQty(p.qty)} {p.symbol}{" "}
                          <button
                            type="button"
                            className="button-danger"
                            autoFocus
                            disabled={close.isPending}
                            onClick={() => closeAt(p.symbol, false)}
                          >
                            {choices.waitLabel}
                          </button>{" "}
                          <button
                            type="button"
                            className="button-danger"
                            disabled={close.isPending}
                            onClick={() => closeAt(p.symbol, true)}
                          >
                            {choices.outsideRthLabel}
                          </button>{" "}
                          <button type="button" className="button-secondary" onClick={() => setConfirming(null)}>
                            Keep
                          </button>
                        </span>
                      ) : confirming === p.symbol ? (
                        <span className="confirm-inline" role="group" aria-label={`Confirm closing ${p.symbol}`}>
                          Close {partOf(p.symbol)} of {formatQty(p.qty)} {p.symbol} at market?{" "}
                          <button
                            type="button"
                            className="button-danger"
                            autoFocus
                            disabled={close.isPending}
                            onClick={() => closeAt(p.symbol, false)}
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
                            setPart("");
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
        {close.data?.notice ? (
          <p className="state" role="status" data-testid="close-notice">
            Closing order for {close.data.symbol} placed: it {close.data.notice}.
          </p>
        ) : null}
        {close.isError ? (
          <p className="state state-error" role="alert">
            Could not close the position: {describeError(close.error)}
          </p>
        ) : null}
      </QueryState>
    </Panel>
  );
}
