/** The watchlist: live quotes for the followed symbols; picking one shows its chart and fills the ticket. */
import { useState, type FormEvent } from "react";
import { unwrap } from "../api/client";
import { describeError } from "../api/errors";
import type { QuoteRead } from "../api/types";
import { useApi } from "../hooks/auth";
import { useMarketClock, useQuotes } from "../hooks/queries";
import { formatPrice, formatQty, MISSING } from "../lib/format";
import { SYMBOL_RE } from "../lib/ticket";
import { Empty, ErrorText, Panel, QueryState } from "./ui";
import { Time } from "./Time";

export const MAX_WATCHLIST = 50;
/** A quote older than this while the market trades is shown as stale. */
export const STALE_QUOTE_SECONDS = 30;

/** When a quote is from: its time, or what is not live about it (closed, stale). `receivedAt`
 * is when the page got the list (ms): a quote already old then is stale. */
function QuoteAge({ quote, closed, receivedAt }: { quote: QuoteRead; closed: boolean; receivedAt: number }) {
  if (closed) {
    return (
      <span className="muted" title="The market is closed: these are the last session's prices" data-age="closed">
        closed
      </span>
    );
  }
  const age = (receivedAt - new Date(quote.ts).getTime()) / 1000;
  if (age > STALE_QUOTE_SECONDS) {
    return (
      <span className="stale" title={`No new quote for ${Math.round(age)} s`} data-age="stale">
        <Time iso={quote.ts} /> (stale)
      </span>
    );
  }
  return (
    <span data-age="live">
      <Time iso={quote.ts} />
    </span>
  );
}

export function Watchlist({
  symbols,
  onChange,
  selected,
  onSelect,
}: {
  symbols: readonly string[];
  onChange: (symbols: string[]) => void;
  selected: string | null;
  onSelect: (symbol: string) => void;
}) {
  const quotes = useQuotes(symbols);
  const clock = useMarketClock();
  const closed = clock.data?.session === "closed";
  const api = useApi();
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const bySymbol = new Map<string, QuoteRead>((quotes.data?.quotes ?? []).map((q) => [q.symbol, q]));
  const unknown = new Map((quotes.data?.errors ?? []).map((e) => [e.symbol, e.message]));

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const symbol = draft.trim().toUpperCase();
    if (!SYMBOL_RE.test(symbol)) return setError("Enter a symbol such as AAPL.");
    if (symbols.includes(symbol)) return setError(`${symbol} is already on the watchlist.`);
    if (symbols.length >= MAX_WATCHLIST) return setError(`The watchlist holds at most ${MAX_WATCHLIST} symbols.`);
    // Only a symbol the broker knows goes on the list (a typo such as APPL does not).
    setChecking(true);
    try {
      const found = await unwrap(api.GET("/api/v1/marketdata/quotes", { params: { query: { symbols: symbol } } }));
      const refused = found.errors?.find((e) => e.symbol === symbol);
      if (refused) return setError(`${symbol}: ${refused.message}.`);
    } catch (cause) {
      return setError(`Cannot check ${symbol} now: ${describeError(cause)}`);
    } finally {
      setChecking(false);
    }
    setError(null);
    setDraft("");
    onChange([...symbols, symbol]);
    onSelect(symbol);
  };

  return (
    <Panel title="Watchlist" className="watchlist">
      <form className="inline-form" onSubmit={(e) => void add(e)} noValidate>
        <label htmlFor="watchlist-add">Add symbol</label>
        <input
          id="watchlist-add"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          size={8}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "watchlist-add-error" : undefined}
        />
        <button type="submit" className="button-secondary" disabled={checking}>
          {checking ? "Checking…" : "Add"}
        </button>
      </form>
      {error ? <ErrorText id="watchlist-add-error">{error}</ErrorText> : null}
      {symbols.length === 0 ? (
        <Empty>The watchlist is empty: add a symbol.</Empty>
      ) : (
        <QueryState query={quotes} what="quotes" hasData={Boolean(quotes.data)}>
          <div className="table-scroll">
            <table data-testid="watchlist-table">
              <thead>
                <tr>
                  <th scope="col">Symbol</th>
                  <th scope="col" className="num">
                    Bid
                  </th>
                  <th scope="col" className="num">
                    Ask
                  </th>
                  <th scope="col" className="num">
                    Last
                  </th>
                  <th scope="col" className="num col-optional">
                    Volume
                  </th>
                  <th scope="col" className="num">
                    Time
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Remove</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {symbols.map((symbol) => {
                  const q = bySymbol.get(symbol);
                  return (
                    <tr key={symbol} className={symbol === selected ? "selected" : undefined} data-symbol={symbol}>
                      <th scope="row">
                        <button
                          type="button"
                          className="link"
                          aria-pressed={symbol === selected}
                          onClick={() => onSelect(symbol)}
                        >
                          {symbol}
                        </button>
                      </th>
                      {unknown.has(symbol) ? (
                        <td colSpan={5} className="muted">
                          {unknown.get(symbol)}
                        </td>
                      ) : (
                        <>
                          <td className="num">{q ? formatPrice(q.bid) : MISSING}</td>
                          <td className="num">{q ? formatPrice(q.ask) : MISSING}</td>
                          <td className="num" data-testid={`last-${symbol}`}>
                            {q ? formatPrice(q.last) : MISSING}
                          </td>
                          <td className="num col-optional">{q ? formatQty(q.volume) : MISSING}</td>
                          <td className="num" data-testid={`age-${symbol}`}>
                            {q ? <QuoteAge quote={q} closed={closed} receivedAt={quotes.dataUpdatedAt} /> : MISSING}
                          </td>
                        </>
                      )}
                      <td className="actions">
                        <button
                          type="button"
                          className="icon-button"
                          aria-label={`Remove ${symbol} from the watchlist`}
                          onClick={() => onChange(symbols.filter((s) => s !== symbol))}
                        >
                          ×
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </QueryState>
      )}
    </Panel>
  );
}
