/**
 * The trading-session audit trail beside the broker's state: the connection now (since
 * when, server version, account, orders sent, fills, IB outages) from GET /api/v1/broker,
 * and the last few connections (when, how long, why they ended) from /broker/sessions.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { brokerKeys } from "../api/keys";
import type { BrokerSessionRead, DisconnectReason } from "../api/types";
import { useBroker, useBrokerSessions } from "../hooks/queries";
import { formatDuration, formatTimestamp, MISSING, secondsBetween } from "../lib/format";
import { Empty, Panel, QueryState } from "./ui";
import { Time } from "./Time";

/** How many past sessions the panel lists. */
export const RECENT_SESSIONS = 5;

const REASONS: Record<DisconnectReason, { label: string; hint: string }> = {
  socket_drop: { label: "socket dropped", hint: "The connection to the broker closed under the API." },
  shutdown: { label: "shut down", hint: "The API instance shut down and closed the connection." },
  takeover: { label: "taken over", hint: "Another API instance took the broker over." },
  api_crash: {
    label: "API crashed",
    hint: "The API instance died without closing it: found still open at the next start.",
  },
};

function Outages({ session }: { session: BrokerSessionRead }) {
  const count = session.reconnections;
  return (
    <>
      {count === 0 && !session.ib_unreachable_since ? "none" : `${count} restored`}
      {session.ib_outage_seconds > 0 ? (
        <span className="muted small"> ({formatDuration(session.ib_outage_seconds)} in all)</span>
      ) : null}
    </>
  );
}

function CurrentSession({ session, now }: { session: BrokerSessionRead; now: Date }) {
  return (
    <>
      {session.ib_unreachable_since ? (
        <p className="state state-blocked" role="status" data-testid="ib-unreachable">
          IB unreachable since {formatTimestamp(session.ib_unreachable_since, now)}: the gateway is up, but orders do
          not reach IB.
        </p>
      ) : null}
      <dl className="kv" data-testid="broker-session-current">
        <dt>Connected since</dt>
        <dd className="num">
          {formatTimestamp(session.connected_at, now)}{" "}
          <span className="muted small">({formatDuration(secondsBetween(session.connected_at, null, now))})</span>
        </dd>
        <dt>Server version</dt>
        <dd className="num">{session.server_version ?? MISSING}</dd>
        <dt>Account</dt>
        <dd className="num">{session.account_id ?? MISSING}</dd>
        <dt>Orders sent</dt>
        <dd className="num">{session.orders_sent}</dd>
        <dt>Fills</dt>
        <dd className="num">{session.fills_received}</dd>
        <dt>IB outages</dt>
        <dd className="num">
          <Outages session={session} />
        </dd>
      </dl>
      <p className="muted small">
        {session.instance}, counts as of {formatTimestamp(session.last_seen_at, now)}
      </p>
    </>
  );
}

function Ended({ session }: { session: BrokerSessionRead }) {
  if (!session.disconnect_reason) return <span className="badge badge-info">open</span>;
  const reason = REASONS[session.disconnect_reason];
  const tone = session.disconnect_reason === "shutdown" ? "muted" : "bad";
  return (
    <span className={`badge badge-${tone}`} title={reason.hint}>
      {reason.label}
    </span>
  );
}

function PastSessions({ currentId, now }: { currentId: number | null; now: Date }) {
  // One more than shown: the open session is listed too, and shown above instead.
  const sessions = useBrokerSessions(RECENT_SESSIONS + 1);
  const rows = (sessions.data?.items ?? []).filter((s) => s.id !== currentId).slice(0, RECENT_SESSIONS);
  return (
    <QueryState query={sessions} what="the past sessions" hasData={Boolean(sessions.data)}>
      {rows.length === 0 ? (
        <Empty>No earlier sessions.</Empty>
      ) : (
        <div className="table-scroll">
          <table data-testid="broker-sessions-table">
            <thead>
              <tr>
                <th scope="col">Connected</th>
                <th scope="col" className="num">
                  Lasted
                </th>
                <th scope="col">Ended</th>
                <th scope="col" className="num" title="Orders sent / fills received">
                  Orders / fills
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td title={s.instance}>
                    <Time iso={s.connected_at} now={now} />
                  </td>
                  <td className="num">{formatDuration(secondsBetween(s.connected_at, s.disconnected_at, now))}</td>
                  <td>
                    <Ended session={s} />
                  </td>
                  <td className="num">
                    {s.orders_sent} / {s.fills_received}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </QueryState>
  );
}

export function BrokerSessions() {
  const broker = useBroker();
  const client = useQueryClient();
  const current = broker.data?.session ?? null;
  const currentId = current?.id ?? null;
  // A new connection (or none any more) ends the previous one: list it at once.
  const seen = useRef<number | null | undefined>(undefined);
  useEffect(() => {
    if (!broker.data) return;
    if (seen.current !== undefined && seen.current !== currentId) {
      void client.invalidateQueries({ queryKey: brokerKeys.sessionLists() });
    }
    seen.current = currentId;
  }, [broker.data, currentId, client]);
  const now = new Date();
  return (
    <Panel title="Broker sessions" className="broker-sessions">
      <QueryState query={broker} what="the broker session" hasData={Boolean(broker.data)}>
        {current ? <CurrentSession session={current} now={now} /> : <Empty>No open broker session recorded.</Empty>}
      </QueryState>
      <h3 className="subheading">Earlier sessions</h3>
      <PastSessions currentId={currentId} now={now} />
    </Panel>
  );
}
