/**
 * The header: PAPER / LIVE (from GET /api/v1/broker) where it cannot be missed, the broker
 * connection (since when, from the session audit trail), the trading state, the market's
 * session (open, closed, next open), the live stream, and the signed-in session. Below it, banners for
 * anything that changes what the page can be trusted with.
 */
import type { BrokerStatus, RiskStatus } from "../api/types";
import { useAuth } from "../hooks/auth";
import { useBroker, useMarketClock, useRisk } from "../hooks/queries";
import { useApiReachability } from "../hooks/reachability";
import { useLive } from "../hooks/useLiveUpdates";
import { formatTimestamp } from "../lib/format";
import { describeMarket } from "../lib/market";

function ModeBadge({ broker }: { broker: BrokerStatus | undefined }) {
  if (!broker) {
    return (
      <span className="mode mode-unknown" aria-label="Trading mode: unknown">
        MODE ?
      </span>
    );
  }
  const live = broker.mode === "live";
  return (
    <span
      className={`mode ${live ? "mode-live" : "mode-paper"}`}
      data-testid="mode-badge"
      aria-label={`Trading mode: ${live ? "LIVE, real money" : "paper"}`}
      title={live ? broker.live_reasons.join("; ") : "Paper trading: no real money"}
    >
      {live ? "LIVE" : "PAPER"}
    </span>
  );
}

function ApiUnreachable() {
  return (
    <span className="header-item" data-testid="broker-status" data-state="api-unreachable">
      <span className="dot dot-bad" aria-hidden="true" />
      API unreachable
    </span>
  );
}

function BrokerConnection({ broker, failed }: { broker: BrokerStatus | undefined; failed: boolean }) {
  if (!broker) {
    return <span className="header-item">{failed ? "Broker: unknown" : "Broker: …"}</span>;
  }
  const account = broker.accounts[0]?.account_id;
  return (
    <span className="header-item" data-testid="broker-status">
      <span className={`dot ${broker.connected ? "dot-good" : "dot-bad"}`} aria-hidden="true" />
      Broker{" "}
      {broker.connected
        ? "connected"
        : broker.link.state === "ib_unreachable"
          ? "connected, IB unreachable"
          : "disconnected"}
      <span className="muted">
        {" "}
        · {broker.kind}
        {account ? ` · ${account}` : ""}
        {broker.session ? ` · since ${formatTimestamp(broker.session.connected_at)}` : ""}
        {broker.read_only ? " · read-only" : ""}
      </span>
    </span>
  );
}

function TradingStateBadge({ risk, unreachable }: { risk: RiskStatus | undefined; unreachable: boolean }) {
  if (unreachable) {
    return (
      <span className="header-item" data-testid="trading-state" data-state="unknown">
        Trading <span className="badge badge-state-unknown">UNKNOWN</span>
      </span>
    );
  }
  if (!risk) return <span className="header-item">Trading: …</span>;
  return (
    <span className="header-item" data-testid="trading-state">
      Trading <span className={`badge badge-state-${risk.state}`}>{risk.state.toUpperCase()}</span>
    </span>
  );
}

/** The market's session now and the next open or close (GET /api/v1/clock). */
function MarketState() {
  const clock = useMarketClock();
  if (!clock.data) return null;
  const { label, next } = describeMarket(clock.data);
  return (
    <span className="header-item" data-testid="market-state" data-session={clock.data.session}>
      <span className={`dot ${clock.data.is_open ? "dot-good" : "dot-muted"}`} aria-hidden="true" />
      {label}
      <span className="muted"> · {next}</span>
    </span>
  );
}

function LiveIndicator() {
  const live = useLive();
  const text =
    live.status === "live"
      ? "Live"
      : live.status === "connecting"
        ? "Connecting…"
        : live.status === "unauthorized"
          ? "Signed out"
          : "Offline";
  return (
    <span className="header-item" data-testid="live-status" data-status={live.status}>
      <span
        className={`dot ${live.status === "live" ? "dot-good" : live.status === "connecting" ? "dot-muted" : "dot-bad"}`}
        aria-hidden="true"
      />
      Updates: {text}
    </span>
  );
}

export function Header() {
  const { session, signOut } = useAuth();
  const broker = useBroker();
  const risk = useRisk();
  const { unreachable } = useApiReachability();
  return (
    <header className="app-header">
      <span className="brand">stocks</span>
      <ModeBadge broker={broker.data} />
      {unreachable ? <ApiUnreachable /> : <BrokerConnection broker={broker.data} failed={broker.isError} />}
      <TradingStateBadge risk={risk.data} unreachable={unreachable} />
      <MarketState />
      <LiveIndicator />
      <span className="header-spacer" />
      {session ? (
        <span className="header-item">
          {session.username}
          <button type="button" className="button-secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </span>
      ) : null}
    </header>
  );
}

export function Banners() {
  const broker = useBroker();
  const risk = useRisk();
  const live = useLive();
  const { unreachable, lastAnswerAt } = useApiReachability();
  const b = broker.data;
  if (unreachable) {
    // Nothing the API said last can be vouched for now: one banner, and no other claims.
    return (
      <div className="banners">
        <div className="banner banner-halted" role="alert" data-testid="unreachable-banner">
          <strong>The API is unreachable.</strong> Orders cannot be placed, changed or cancelled from this page until it
          answers again; the figures shown are the last it sent
          {lastAnswerAt ? ` (at ${formatTimestamp(new Date(lastAnswerAt).toISOString())})` : ""}. The page reconnects by
          itself.{" "}
          <button type="button" className="link" onClick={live.reconnectNow}>
            Retry now
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="banners">
      {b?.mode === "live" ? (
        <div className="banner banner-live" role="alert">
          <strong>LIVE ACCOUNT: orders trade real money.</strong> {b.live_reasons.join("; ")}
          {b.live_trading_allowed ? "" : " Live trading is not enabled on the API, so orders are refused."}
        </div>
      ) : null}
      {broker.isError && !b ? (
        <div className="banner banner-warn" role="alert">
          Cannot read the broker status: the API may be down.
        </div>
      ) : null}
      {b && !b.connected ? (
        <div className="banner banner-warn" role="alert" data-testid="broker-banner">
          {b.link.state === "ib_unreachable"
            ? "IB Gateway has lost its connection to IB (1100): orders are refused until IB is back; what happens meanwhile is replayed then."
            : "The broker is disconnected: orders cannot reach it until it reconnects."}
          {b.link.since ? ` Since ${formatTimestamp(b.link.since)}.` : ""}
        </div>
      ) : null}
      {b?.read_only ? (
        <div className="banner banner-warn" role="alert">
          This API instance is a read-only standby: another instance
          {b.owner?.pid ? ` (pid ${b.owner.pid}${b.owner.host ? ` on ${b.owner.host}` : ""})` : ""} owns the broker.
          Orders and risk controls are refused here.
        </div>
      ) : null}
      {risk.data?.state === "halted" ? (
        <div className="banner banner-halted" role="alert" data-testid="halted-banner">
          <strong>Trading is HALTED</strong>
          {risk.data.reason ? `: ${risk.data.reason}` : ""}
          {risk.data.changed_by ? ` (by ${risk.data.changed_by}, ${formatTimestamp(risk.data.changed_at)})` : ""}. New
          orders are refused until trading is resumed.
        </div>
      ) : null}
      {live.status === "reconnecting" ? (
        <div className="banner banner-warn" role="status" data-testid="live-banner">
          Live updates are disconnected{live.lastError ? ` (${live.lastError})` : ""}.{" "}
          {live.retryInMs !== null
            ? `Retrying in ${Math.max(1, Math.round(live.retryInMs / 1000))} s. `
            : "Reconnecting… "}
          Meanwhile the page refreshes every 5 s and trading still works.{" "}
          <button type="button" className="link" onClick={live.reconnectNow}>
            Reconnect now
          </button>
        </div>
      ) : null}
    </div>
  );
}
