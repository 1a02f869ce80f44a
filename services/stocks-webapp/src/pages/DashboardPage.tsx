/**
 * The dashboard: account, positions, watchlist and chart, ticket, blotter, risk, broker
 * sessions; kept live by one WebSocket.
 */
import { useMemo, useState } from "react";
import type { QuoteRead } from "../api/types";
import { AccountSummary } from "../components/AccountSummary";
import { BrokerSessions } from "../components/BrokerSessions";
import { Fills } from "../components/Fills";
import { Banners, Header } from "../components/Header";
import { OpenOrders } from "../components/OpenOrders";
import { OrderHistory } from "../components/OrderHistory";
import { OrderTicket } from "../components/OrderTicket";
import { Positions } from "../components/Positions";
import { PriceChart } from "../components/PriceChart";
import { RiskPanel } from "../components/RiskPanel";
import { Panel, TabPanel, Tabs } from "../components/ui";
import { Watchlist } from "../components/Watchlist";
import { ExchangeZoneProvider } from "../components/Time";
import { DEFAULT_WATCHLIST } from "../config";
import { SESSION_EXPIRED, useAuth } from "../hooks/auth";
import { useAccounts, useBroker, useOpenOrders, useQuotes, useRisk } from "../hooks/queries";
import { useApiReachability } from "../hooks/reachability";
import { LiveContext, useLiveUpdates } from "../hooks/useLiveUpdates";
import { isStringArray, usePreference } from "../hooks/usePreference";

const BLOTTER_TABS = [
  { id: "open", label: "Open orders" },
  { id: "history", label: "Order history" },
  { id: "fills", label: "Fills" },
] as const;

function Blotter({ tradingLocked }: { tradingLocked: boolean }) {
  const [tab, setTab] = useState<string>("open");
  const open = useOpenOrders();
  const tabs = BLOTTER_TABS.map((t) =>
    t.id === "open" && open.data ? { ...t, label: `Open orders (${open.data.items.length})` } : t,
  );
  return (
    <Panel title="Blotter" className="blotter">
      <Tabs tabs={tabs} selected={tab} onSelect={setTab} label="Blotter" idPrefix="blotter" />
      <TabPanel idPrefix="blotter" id={tab}>
        {tab === "open" ? <OpenOrders tradingLocked={tradingLocked} /> : null}
        {tab === "history" ? <OrderHistory /> : null}
        {tab === "fills" ? <Fills /> : null}
      </TabPanel>
    </Panel>
  );
}

function Board({ watchlist, setWatchlist }: { watchlist: string[]; setWatchlist: (s: string[]) => void }) {
  const [selected, setSelected] = useState<string | null>(watchlist[0] ?? null);
  const accounts = useAccounts();
  const broker = useBroker();
  const risk = useRisk();
  const quotes = useQuotes(watchlist);
  const quoteMap = useMemo(
    () => new Map<string, QuoteRead>((quotes.data?.quotes ?? []).map((q) => [q.symbol, q])),
    [quotes.data],
  );
  const accountId = accounts.data?.[0]?.account_id ?? broker.data?.accounts[0]?.account_id;

  const b = broker.data;
  const state = risk.data?.state;
  const { unreachable } = useApiReachability();
  const disabledReason = unreachable
    ? "The API is unreachable: the ticket is locked until it answers again."
    : state === "halted"
      ? "Trading is halted: the ticket is locked until trading is resumed (Risk panel)."
      : b?.read_only
        ? "This API instance is a read-only standby: orders are refused here."
        : b && b.mode === "live" && !b.live_trading_allowed
          ? "The broker is live and live trading is not enabled on the API: orders are refused."
          : null;
  const notice =
    state === "reducing"
      ? "Trading is reducing-only: only orders that shrink a position are accepted."
      : b && !b.connected
        ? b.link.state === "ib_unreachable"
          ? "IB Gateway has lost IB (1100): orders are refused until IB is back."
          : "The broker is disconnected: orders will fail until it reconnects."
        : null;

  return (
    <main className="dashboard">
      <AccountSummary accountId={accountId} />
      <div className="column-main">
        <div className="market-row">
          <Watchlist symbols={watchlist} onChange={setWatchlist} selected={selected} onSelect={setSelected} />
          <PriceChart symbol={selected} quote={selected ? quoteMap.get(selected) : undefined} />
        </div>
        <Positions onSelectSymbol={setSelected} tradingDisabled={disabledReason !== null} />
        <Blotter tradingLocked={disabledReason !== null} />
      </div>
      <aside className="column-side" aria-label="Trading">
        <OrderTicket
          symbol={selected}
          symbols={watchlist}
          quotes={quoteMap}
          disabledReason={disabledReason}
          notice={notice}
          onSymbol={setSelected}
        />
        <RiskPanel readOnly={Boolean(b?.read_only)} />
        <BrokerSessions />
      </aside>
    </main>
  );
}

export function DashboardPage() {
  const { session, signOut } = useAuth();
  const [watchlist, setWatchlist] = usePreference<string[]>("watchlist", [...DEFAULT_WATCHLIST], isStringArray);
  const live = useLiveUpdates({
    token: session?.token ?? null,
    symbols: watchlist,
    onUnauthorized: () => signOut(SESSION_EXPIRED),
  });
  return (
    <LiveContext.Provider value={live}>
      <ExchangeZoneProvider>
        <Header />
        <Banners />
        <Board watchlist={watchlist} setWatchlist={setWatchlist} />
      </ExchangeZoneProvider>
    </LiveContext.Provider>
  );
}
