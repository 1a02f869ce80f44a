/** Account figures: net liquidation, cash, buying power and the day's, unrealized and realized P&L. */
import type { ReactNode } from "react";
import { useAccountPnl, useAccountSummary } from "../hooks/queries";
import { formatMoney, formatRatioPercent, formatFixed } from "../lib/format";
import { Panel, Pnl, QueryState } from "./ui";
import { Time } from "./Time";

function Stat({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <dt>{label}</dt>
      <dd className="num">{children}</dd>
    </div>
  );
}

export function AccountSummary({ accountId }: { accountId: string | undefined }) {
  const summary = useAccountSummary(accountId);
  const pnl = useAccountPnl(accountId);
  const s = summary.data;
  const p = pnl.data;
  return (
    <Panel
      title={accountId ? `Account ${accountId}` : "Account"}
      className="account"
      actions={
        s ? (
          <span className="muted small">
            {s.currency} · {s.account_type} · as of <Time iso={s.as_of} />
          </span>
        ) : null
      }
    >
      <QueryState query={summary} what="the account" hasData={Boolean(s)}>
        {s ? (
          <>
            <dl className="stats">
              <Stat label="Net liquidation" testId="net-liquidation">
                {formatMoney(s.net_liquidation)}
              </Stat>
              <Stat label="Cash">{formatMoney(s.cash)}</Stat>
              <Stat label="Buying power">{formatMoney(s.buying_power)}</Stat>
              <Stat label="Day P&L">{p ? <Pnl value={p.daily_pnl} /> : "…"}</Stat>
              <Stat label="Unrealized P&L">
                <Pnl value={s.unrealized_pnl} />
              </Stat>
              <Stat label="Realized P&L today">{p ? <Pnl value={p.realized_pnl} /> : "…"}</Stat>
            </dl>
            <dl className="stats stats-secondary">
              <Stat label="Market value">{formatMoney(s.market_value)}</Stat>
              <Stat label="Available funds">{formatMoney(s.available_funds)}</Stat>
              <Stat label="Excess liquidity">{formatMoney(s.excess_liquidity)}</Stat>
              <Stat label="Cushion">{formatRatioPercent(s.cushion)}</Stat>
              <Stat label="Leverage">{formatFixed(s.leverage, 2)}</Stat>
              <Stat label="Realized P&L (all time)">
                <Pnl value={s.realized_pnl} />
              </Stat>
            </dl>
            {s.unpriced_symbols.length > 0 ? (
              <p className="state state-stale">
                No price yet for {s.unpriced_symbols.join(", ")}: these figures may be incomplete.
              </p>
            ) : null}
          </>
        ) : null}
      </QueryState>
    </Panel>
  );
}
