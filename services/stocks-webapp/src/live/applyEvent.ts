/**
 * Apply live events (and the API's own answers) to the TanStack Query cache, so a change
 * shows everywhere at once without a request; and re-read everything on a re-sync.
 */
import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import {
  LIVE_ROOTS,
  accountKeys,
  brokerKeys,
  fillKeys,
  orderKeys,
  positionKeys,
  quoteKeys,
  riskKeys,
  type FillFilters,
} from "../api/keys";
import type {
  AccountSummary,
  FillPage,
  FillRead,
  OrderPage,
  OrderRead,
  PositionRead,
  QuoteList,
  QuoteRead,
  RiskStateRead,
  RiskStatus,
} from "../api/types";
import { isOpen } from "../api/types";
import { parseDecimal, sign } from "../lib/decimal";
import type { LiveEvent } from "./messages";

/**
 * `live`: an event as it arrives. `replay`: an event applied again after a REST read that
 * may have been answered before it (see live/replay.ts): then only what is strictly newer
 * than the cached state wins, and nothing is invalidated (no refetch loops).
 */
export type ApplyMode = "live" | "replay";

export function applyLiveEvent(client: QueryClient, event: LiveEvent, mode: ApplyMode = "live"): void {
  switch (event.type) {
    case "order.updated":
      applyOrder(client, event.data, mode);
      break;
    case "fill.created":
      applyFill(client, event.data);
      break;
    case "position.updated":
      applyPosition(client, event.data, mode);
      break;
    case "account.updated":
      applyAccount(client, event.data, mode);
      break;
    case "risk.state":
      applyRiskState(client, event.data, mode);
      break;
    case "quote":
      applyQuote(client, event.data);
      break;
    case "broker.status":
      // The link changed: the broker's status and its sessions are read again at once.
      void client.invalidateQueries({ queryKey: brokerKeys.all });
      break;
  }
}

/**
 * Re-read every live resource over REST (after a gap, a `resync`, or a reconnect). Reads
 * still in flight are cancelled first: they may have been answered before the events now
 * missed, and a first load in flight would otherwise be joined instead of repeated.
 */
export async function resyncQueries(client: QueryClient): Promise<void> {
  const filters = { predicate: (query: { queryKey: readonly unknown[] }) => LIVE_ROOTS.has(String(query.queryKey[0])) };
  await client.cancelQueries(filters);
  await client.invalidateQueries(filters);
}

function time(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
}

/** An older state of an order must not overwrite a newer one (REST and WS race). */
function isNewer(incoming: OrderRead, cached: OrderRead): boolean {
  return time(incoming.updated_at) >= time(cached.updated_at);
}

function sortNewestFirst(orders: OrderRead[]): OrderRead[] {
  return orders.sort((a, b) => b.id - a.id);
}

/** Put an order (from an event or a REST answer) into every order list that holds it. */
export function applyOrder(client: QueryClient, order: OrderRead, mode: ApplyMode = "live"): void {
  client.setQueryData<OrderPage>(orderKeys.open(), (page) => {
    if (!page) return page;
    const index = page.items.findIndex((o) => o.id === order.id);
    if (index >= 0 && !isNewer(order, page.items[index]!)) return page;
    const others = page.items.filter((o) => o.id !== order.id);
    const items = isOpen(order) ? sortNewestFirst([...others, order]) : others;
    return { ...page, items };
  });

  let seen = false;
  const histories = client.getQueriesData<InfiniteData<OrderPage>>({ queryKey: orderKeys.histories() });
  for (const [key, data] of histories) {
    if (!data) continue;
    const found = data.pages.some((p) => p.items.some((o) => o.id === order.id));
    if (!found) continue;
    seen = true;
    client.setQueryData<InfiniteData<OrderPage>>(key, {
      ...data,
      pages: data.pages.map((p) => ({
        ...p,
        items: p.items.map((o) => (o.id === order.id && isNewer(order, o) ? order : o)),
      })),
    });
  }
  if (mode === "replay") return;
  // A new order belongs somewhere in the filtered, paginated history: let the API place it.
  if (!seen) void client.invalidateQueries({ queryKey: orderKeys.histories() });
  // The audit trail grew.
  void client.invalidateQueries({ queryKey: orderKeys.events(order.id) });
}

function matchesFillFilters(fill: FillRead, filters: FillFilters | undefined): boolean {
  if (!filters) return true;
  if (filters.symbol && filters.symbol.toUpperCase() !== fill.symbol) return false;
  if (filters.orderId && filters.orderId !== String(fill.order_id)) return false;
  return true;
}

export function applyFill(client: QueryClient, fill: FillRead): void {
  const lists = client.getQueriesData<InfiniteData<FillPage>>({ queryKey: fillKeys.lists() });
  for (const [key, data] of lists) {
    if (!data || data.pages.length === 0) continue;
    const filters = key[2] as FillFilters | undefined;
    if (!matchesFillFilters(fill, filters)) continue;
    if (data.pages.some((p) => p.items.some((f) => f.id === fill.id))) continue;
    const [first, ...rest] = data.pages;
    const items = [fill, ...first!.items].sort((a, b) => b.id - a.id);
    client.setQueryData<InfiniteData<FillPage>>(key, { ...data, pages: [{ ...first!, items }, ...rest] });
  }
}

export function applyPosition(client: QueryClient, position: PositionRead, mode: ApplyMode = "live"): void {
  client.setQueryData<PositionRead[]>(positionKeys.list(), (positions) => {
    if (!positions) return positions;
    const same = (p: PositionRead) => p.symbol === position.symbol && p.account_id === position.account_id;
    const cached = positions.find(same);
    if (cached) {
      // updated_at is the last fill: a revaluation at a new quote keeps it, so live an equal
      // one wins (the newer price) and an older one (a quantity since changed) never does;
      // on replay, equal is not newer.
      const incoming = time(position.updated_at);
      const held = time(cached.updated_at);
      if (incoming < held || (mode === "replay" && incoming === held)) return positions;
    }
    const others = positions.filter((p) => !same(p));
    const qty = parseDecimal(position.qty);
    if (!qty || sign(qty) === 0) return others; // closed: the list holds open positions only
    return [...others, position].sort((a, b) => a.symbol.localeCompare(b.symbol));
  });
}

export function applyAccount(client: QueryClient, summary: AccountSummary, mode: ApplyMode = "live"): void {
  client.setQueryData<AccountSummary>(accountKeys.summary(summary.account_id), (cached) =>
    cached && time(cached.as_of) > time(summary.as_of) ? cached : summary,
  );
  if (mode === "replay") return;
  // The day's P&L and the risk usage (exposure, loss limit) are not in the event: re-read
  // them (account events come after fills and every 5 s).
  void client.invalidateQueries({ queryKey: accountKeys.pnl(summary.account_id) });
  void client.invalidateQueries({ queryKey: riskKeys.all });
}

export function applyRiskState(client: QueryClient, state: RiskStateRead, mode: ApplyMode = "live"): void {
  client.setQueryData<RiskStatus>(riskKeys.status(), (status) => {
    if (!status) return status;
    if (mode === "replay" && time(status.changed_at ?? "") >= time(state.changed_at ?? "")) return status;
    return { ...status, ...state };
  });
  if (mode === "replay") return;
  // Usage (and, after a breaker trip, the reason) comes with the full resource.
  void client.invalidateQueries({ queryKey: riskKeys.all });
}

export function applyQuote(client: QueryClient, quote: QuoteRead): void {
  client.setQueriesData<QuoteList>({ queryKey: quoteKeys.all }, (list) => {
    const cached = list?.quotes.find((q) => q.symbol === quote.symbol);
    if (!list || !cached || time(cached.ts) > time(quote.ts)) return list;
    return { ...list, quotes: list.quotes.map((q) => (q === cached ? quote : q)) };
  });
}
