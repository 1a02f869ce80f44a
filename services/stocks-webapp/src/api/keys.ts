/**
 * One query-key factory per domain: every cache entry is named here, so the REST hooks and
 * the WebSocket hook that patches the cache cannot disagree on a key.
 */
import type { BarInterval, OrderStatus, Side } from "./types";

export interface OrderFilters {
  status: "all" | "open" | "closed" | OrderStatus;
  symbol: string;
  side: "" | Side;
  since: string; // ISO 8601 or ""
  until: string;
}

export interface FillFilters {
  symbol: string;
  orderId: string;
}

export const brokerKeys = {
  all: ["broker"] as const,
  status: () => [...brokerKeys.all, "status"] as const,
  sessionLists: () => [...brokerKeys.all, "sessions"] as const,
  sessions: (limit: number) => [...brokerKeys.sessionLists(), limit] as const,
};

export const accountKeys = {
  all: ["accounts"] as const,
  list: () => [...accountKeys.all, "list"] as const,
  summary: (accountId: string) => [...accountKeys.all, accountId, "summary"] as const,
  pnl: (accountId: string) => [...accountKeys.all, accountId, "pnl"] as const,
};

export const positionKeys = {
  all: ["positions"] as const,
  list: () => [...positionKeys.all, "list"] as const,
};

export const orderKeys = {
  all: ["orders"] as const,
  open: () => [...orderKeys.all, "open"] as const,
  histories: () => [...orderKeys.all, "history"] as const,
  history: (filters: OrderFilters) => [...orderKeys.histories(), filters] as const,
  events: (orderId: number) => [...orderKeys.all, "events", orderId] as const,
};

export const fillKeys = {
  all: ["fills"] as const,
  lists: () => [...fillKeys.all, "list"] as const,
  list: (filters: FillFilters) => [...fillKeys.lists(), filters] as const,
};

export const quoteKeys = {
  all: ["quotes"] as const,
  list: (symbols: readonly string[]) => [...quoteKeys.all, symbols.join(",")] as const,
};

export const barKeys = {
  all: ["bars"] as const,
  list: (symbol: string, interval: BarInterval) => [...barKeys.all, symbol, interval] as const,
};

export const riskKeys = {
  all: ["risk"] as const,
  status: () => [...riskKeys.all, "status"] as const,
};

export const marketKeys = {
  all: ["market"] as const,
  clock: () => [...marketKeys.all, "clock"] as const,
};

/** The roots whose data the live stream keeps current (and a re-sync re-reads). */
export const LIVE_ROOTS: ReadonlySet<string> = new Set([
  brokerKeys.all[0],
  accountKeys.all[0],
  positionKeys.all[0],
  orderKeys.all[0],
  fillKeys.all[0],
  quoteKeys.all[0],
  riskKeys.all[0],
]);
