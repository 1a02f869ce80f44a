/**
 * The one WebSocket hook: it keeps a LiveConnection to /api/v1/ws for the signed-in session,
 * applies every event to the query cache, re-reads over REST whenever events may have been
 * missed (a `seq` gap, a `resync` message, a reconnect), and reports the connection's state
 * so the page can say when it is not live.
 */
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { applyLiveEvent, resyncQueries } from "../live/applyEvent";
import { LiveConnection, type BackoffOptions, type LiveSnapshot, type WebSocketLike } from "../live/connection";
import { BASE_CHANNELS, quoteChannel } from "../live/messages";
import { EventLog, replayedRoot, replaySince } from "../live/replay";

export interface LiveState extends LiveSnapshot {
  reconnectNow: () => void;
}

export interface UseLiveUpdatesOptions {
  /** The bearer token; no connection without one. */
  token: string | null;
  /** Symbols whose quotes to follow. */
  symbols: readonly string[];
  /** The server refused the token (expired or revoked). */
  onUnauthorized?: () => void;
  /** Defaults to ws(s)://<this page's host>/api/v1/ws. */
  url?: string;
  createSocket?: (url: string) => WebSocketLike;
  backoff?: Partial<BackoffOptions>;
}

const INITIAL: LiveSnapshot = {
  status: "connecting",
  retryInMs: null,
  lastError: null,
  connections: 0,
  resyncs: 0,
};

export function liveUrl(location: Pick<Location, "protocol" | "host"> = window.location): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/ws`;
}

export function useLiveUpdates({
  token,
  symbols,
  onUnauthorized,
  url,
  createSocket,
  backoff,
}: UseLiveUpdatesOptions): LiveState {
  const queryClient = useQueryClient();
  const [snapshot, setSnapshot] = useState<LiveSnapshot>(INITIAL);
  const connectionRef = useRef<LiveConnection | null>(null);
  const [log] = useState(() => new EventLog());
  const symbolsKey = symbols.map((s) => s.toUpperCase()).join(",");
  const channels = useMemo(
    () => [...BASE_CHANNELS, ...(symbolsKey ? symbolsKey.split(",").map(quoteChannel) : [])],
    [symbolsKey],
  );
  // Read at connect time only, so a new watchlist or callback does not reconnect.
  const latest = useRef({ channels, onUnauthorized, backoff });
  useEffect(() => {
    latest.current = { channels, onUnauthorized, backoff };
  });

  useEffect(() => {
    if (!token) return;
    const connection = new LiveConnection({
      url: url ?? liveUrl(),
      token,
      channels: latest.current.channels,
      onEvent: (event) => {
        log.record(event);
        applyLiveEvent(queryClient, event);
      },
      onResync: () => void resyncQueries(queryClient),
      onStatus: setSnapshot,
      onUnauthorized: () => latest.current.onUnauthorized?.(),
      ...(createSocket ? { createSocket } : {}),
      ...(latest.current.backoff ? { backoff: latest.current.backoff } : {}),
    });
    connectionRef.current = connection;
    connection.start();
    const online = () => connection.reconnectNow();
    window.addEventListener("online", online);
    return () => {
      window.removeEventListener("online", online);
      connection.stop();
      connectionRef.current = null;
    };
  }, [token, url, createSocket, queryClient, log]);

  // A REST answer may be older than events that arrived while it was on its way: apply
  // those again once it lands (live/replay.ts).
  useEffect(() => {
    const marks = new Map<string, number>();
    return queryClient.getQueryCache().subscribe((notice) => {
      if (notice.type === "removed") marks.delete(notice.query.queryHash);
      if (notice.type !== "updated" || !replayedRoot(String(notice.query.queryKey[0]))) return;
      const { action, query } = notice;
      if (action.type === "fetch") {
        if (!marks.has(query.queryHash)) marks.set(query.queryHash, log.mark);
      } else if (action.type === "success" && !action.manual) {
        const mark = marks.get(query.queryHash);
        marks.delete(query.queryHash);
        if (mark !== undefined && !replaySince(queryClient, log, mark, String(query.queryKey[0]))) {
          void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
        }
      } else if (action.type === "error") {
        marks.delete(query.queryHash);
      }
    });
  }, [queryClient, log]);

  useEffect(() => {
    connectionRef.current?.setChannels(channels);
  }, [channels]);

  const reconnectNow = useCallback(() => connectionRef.current?.reconnectNow(), []);
  return useMemo(() => ({ ...snapshot, reconnectNow }), [snapshot, reconnectNow]);
}

/** The live state for components below the dashboard (the banner, polling fallbacks). */
export const LiveContext = createContext<LiveState>({ ...INITIAL, reconnectNow: () => {} });

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/** While the stream is not live, data that it would push is polled instead. */
export const FALLBACK_POLL_MS = 5_000;

export function usePollingFallback(): number | false {
  return useLive().status === "live" ? false : FALLBACK_POLL_MS;
}
