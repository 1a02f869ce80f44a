/**
 * REST data as TanStack Query hooks: reads keep to the key factory (api/keys), writes put
 * the API's answer straight into the cache (so a change shows even while the stream is down).
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { unwrap } from "../api/client";
import {
  accountKeys,
  barKeys,
  brokerKeys,
  fillKeys,
  marketKeys,
  orderKeys,
  positionKeys,
  quoteKeys,
  riskKeys,
  type FillFilters,
  type OrderFilters,
} from "../api/keys";
import type {
  BarInterval,
  HaltRequest,
  OrderCreate,
  OrderRead,
  OrderUpdate,
  ResumeRequest,
  RiskStatus,
} from "../api/types";
import { applyOrder } from "../live/applyEvent";
import { useApi } from "./auth";
import { usePollingFallback } from "./useLiveUpdates";

const BROKER_POLL_MS = 5_000;
const BROKER_POLL_OFFLINE_MS = 2_000;
// Sessions change when the connection does; the open one's counters come with useBroker.
const BROKER_SESSIONS_POLL_MS = 30_000;
const RISK_POLL_MS = 5_000;
const CLOCK_POLL_MS = 30_000;
const PAGE_SIZE = 50;

export function useBroker() {
  const api = useApi();
  // While the stream is down this poll is also how the page learns the API is gone
  // (hooks/reachability): faster then, and a failure counts at once (no retry).
  const live = usePollingFallback() === false;
  return useQuery({
    queryKey: brokerKeys.status(),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/broker", { signal })),
    // The connection state has no event of its own.
    refetchInterval: live ? BROKER_POLL_MS : BROKER_POLL_OFFLINE_MS,
    retry: live ? 1 : false,
  });
}

/** The newest broker sessions (the trading-session audit trail), newest first. */
export function useBrokerSessions(limit: number) {
  const api = useApi();
  return useQuery({
    queryKey: brokerKeys.sessions(limit),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/broker/sessions", { params: { query: { limit } }, signal })),
    refetchInterval: BROKER_SESSIONS_POLL_MS,
  });
}

export function useAccounts() {
  const api = useApi();
  return useQuery({
    queryKey: accountKeys.list(),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/accounts", { signal })),
    staleTime: 60_000,
  });
}

export function useAccountSummary(accountId: string | undefined) {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useQuery({
    queryKey: accountKeys.summary(accountId ?? ""),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/summary", {
          params: { path: { account_id: accountId! } },
          signal,
        }),
      ),
    enabled: Boolean(accountId),
    refetchInterval,
  });
}

export function useAccountPnl(accountId: string | undefined) {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useQuery({
    queryKey: accountKeys.pnl(accountId ?? ""),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/api/v1/accounts/{account_id}/pnl", {
          params: { path: { account_id: accountId! } },
          signal,
        }),
      ),
    enabled: Boolean(accountId),
    refetchInterval,
  });
}

export function usePositions() {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useQuery({
    queryKey: positionKeys.list(),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/positions", { signal })),
    refetchInterval,
  });
}

export function useOpenOrders() {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useQuery({
    queryKey: orderKeys.open(),
    queryFn: ({ signal }) =>
      unwrap(api.GET("/api/v1/orders", { params: { query: { status: "open", limit: 500 } }, signal })),
    refetchInterval,
  });
}

export function useOrderHistory(filters: OrderFilters) {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useInfiniteQuery({
    queryKey: orderKeys.history(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        api.GET("/api/v1/orders", {
          params: {
            query: {
              status: filters.status,
              limit: PAGE_SIZE,
              ...(filters.symbol ? { symbol: filters.symbol } : {}),
              ...(filters.side ? { side: filters.side } : {}),
              ...(filters.since ? { since: filters.since } : {}),
              ...(filters.until ? { until: filters.until } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor ?? null,
    placeholderData: keepPreviousData,
    refetchInterval,
  });
}

export function useOrderEvents(orderId: number | null) {
  const api = useApi();
  return useQuery({
    queryKey: orderKeys.events(orderId ?? 0),
    queryFn: ({ signal }) =>
      unwrap(api.GET("/api/v1/orders/{order_id}/events", { params: { path: { order_id: orderId! } }, signal })),
    enabled: orderId !== null,
  });
}

export function useFills(filters: FillFilters) {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useInfiniteQuery({
    queryKey: fillKeys.list(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        api.GET("/api/v1/fills", {
          params: {
            query: {
              limit: PAGE_SIZE,
              ...(filters.symbol ? { symbol: filters.symbol } : {}),
              ...(filters.orderId ? { order_id: Number(filters.orderId) } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
          signal,
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor ?? null,
    placeholderData: keepPreviousData,
    refetchInterval,
  });
}

export function useQuotes(symbols: readonly string[]) {
  const api = useApi();
  const refetchInterval = usePollingFallback();
  return useQuery({
    queryKey: quoteKeys.list(symbols),
    queryFn: ({ signal }) =>
      unwrap(api.GET("/api/v1/marketdata/quotes", { params: { query: { symbols: symbols.join(",") } }, signal })),
    enabled: symbols.length > 0,
    placeholderData: keepPreviousData,
    refetchInterval,
  });
}

export function useBars(symbol: string | null, interval: BarInterval) {
  const api = useApi();
  return useQuery({
    queryKey: barKeys.list(symbol ?? "", interval),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/api/v1/marketdata/bars/{symbol}", {
          params: { path: { symbol: symbol! }, query: { interval, limit: 300 } },
          signal,
        }),
      ),
    enabled: Boolean(symbol),
    staleTime: 60_000,
  });
}

/** GET /api/v1/clock: is the regular session open, which session it is, the next open and close. */
export function useMarketClock() {
  const api = useApi();
  return useQuery({
    queryKey: marketKeys.clock(),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/clock", { signal })),
    // The session changes a few times a day; a minute late is soon enough to say so.
    refetchInterval: CLOCK_POLL_MS,
  });
}

export function useRisk() {
  const api = useApi();
  return useQuery({
    queryKey: riskKeys.status(),
    queryFn: ({ signal }) => unwrap(api.GET("/api/v1/risk", { signal })),
    // Usage (order rate, exposure, today's P&L) changes with every order and price.
    refetchInterval: RISK_POLL_MS,
  });
}

// -- writes -------------------------------------------------------------------------------

export function usePlaceOrder() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (order: OrderCreate) => unwrap(api.POST("/api/v1/orders", { body: order })),
    onSuccess: (order) => applyOrder(client, order),
  });
}

export function useModifyOrder() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, change }: { id: number; change: OrderUpdate }) =>
      unwrap(api.PATCH("/api/v1/orders/{order_id}", { params: { path: { order_id: id } }, body: change })),
    onSuccess: (order) => applyOrder(client, order),
  });
}

export function useCancelOrder() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/api/v1/orders/{order_id}", { params: { path: { order_id: id } } })),
    onSuccess: (order) => applyOrder(client, order),
  });
}

export function useCancelAll() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/orders")),
    onSuccess: (result) => result.cancel_requested.forEach((order: OrderRead) => applyOrder(client, order)),
  });
}

/**
 * Close a position at market; `outsideRth` lets the order work in the extended hours;
 * `percentage` closes that part of it (rounded down to the symbol's quantity step).
 */
export interface ClosePositionRequest {
  symbol: string;
  outsideRth: boolean;
  percentage?: string;
}

export function useClosePosition() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ symbol, outsideRth, percentage }: ClosePositionRequest) =>
      unwrap(
        api.DELETE("/api/v1/positions/{symbol}", {
          params: {
            path: { symbol },
            query: percentage ? { outside_rth: outsideRth, percentage } : { outside_rth: outsideRth },
          },
        }),
      ),
    onSuccess: (order) => {
      applyOrder(client, order);
      void client.invalidateQueries({ queryKey: positionKeys.all });
    },
  });
}

export function useHalt() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (request: HaltRequest) => unwrap(api.POST("/api/v1/risk/halt", { body: request })),
    onSuccess: (result) => {
      client.setQueryData<RiskStatus>(riskKeys.status(), (s) => (s ? { ...s, ...result.state } : s));
      void client.invalidateQueries({ queryKey: riskKeys.all });
      void client.invalidateQueries({ queryKey: orderKeys.all });
    },
  });
}

export function useResume() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (request: ResumeRequest) => unwrap(api.POST("/api/v1/risk/resume", { body: request })),
    onSuccess: (state) => {
      client.setQueryData<RiskStatus>(riskKeys.status(), (s) => (s ? { ...s, ...state } : s));
      void client.invalidateQueries({ queryKey: riskKeys.all });
    },
  });
}
