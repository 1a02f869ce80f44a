/** Names for the generated schema types (src/api/schema.ts), as the app uses them. */
import type { components } from "./schema";
import { openOrderStatusValues, orderStatusValues } from "./schema";

type Schemas = components["schemas"];

export type AccountRead = Schemas["AccountRead"];
export type AccountSummary = Schemas["AccountSummary"];
export type AccountPnl = Schemas["AccountPnl"];
export type BarInterval = Schemas["BarInterval"];
export type BarList = Schemas["BarList"];
export type BarRead = Schemas["BarRead"];
export type BrokerSessionPage = Schemas["BrokerSessionPage"];
export type BrokerSessionRead = Schemas["BrokerSessionRead"];
export type BrokerStatus = Schemas["BrokerStatus"];
export type CancelAllResult = Schemas["CancelAllResult"];
export type MarketClock = Schemas["ClockRead"];
export type MarketSession = Schemas["MarketSession"];
export type FillPage = Schemas["FillPage"];
export type FillRead = Schemas["FillRead"];
export type DisconnectReason = Schemas["DisconnectReason"];
export type HaltRequest = Schemas["HaltRequest"];
export type HaltResult = Schemas["HaltResult"];
export type OrderCreate = Schemas["OrderCreate"];
export type OrderEventRead = Schemas["OrderEventRead"];
export type OrderPage = Schemas["OrderPage"];
export type OrderRead = Schemas["OrderRead"];
export type OrderStatus = Schemas["OrderStatus"];
export type OrderType = Schemas["OrderType"];
export type OrderUpdate = Schemas["OrderUpdate"];
export type PositionRead = Schemas["PositionRead"];
export type QuoteList = Schemas["QuoteList"];
export type QuoteRead = Schemas["QuoteRead"];
export type ResumeRequest = Schemas["ResumeRequest"];
export type RiskLimits = Schemas["RiskLimits"];
export type RiskStateRead = Schemas["RiskStateRead"];
export type RiskStatus = Schemas["RiskStatus"];
export type RiskUsage = Schemas["RiskUsage"];
export type Side = Schemas["Side"];
export type TimeInForce = Schemas["TimeInForce"];
export type TokenRead = Schemas["TokenRead"];
export type TradingState = Schemas["TradingState"];

/**
 * Statuses in which an order still works at the broker (the API's `status=open`), as the
 * API publishes them (the `OpenOrderStatus` component: `orders/state.py`'s OPEN).
 */
export const OPEN_STATUSES: ReadonlySet<OrderStatus> = new Set<OrderStatus>(openOrderStatusValues);

export function isOpen(order: { status: OrderStatus }): boolean {
  return OPEN_STATUSES.has(order.status);
}

/** Every status, for filters: in the API's order, but `unsent` (rare) last. */
export const ORDER_STATUSES: readonly OrderStatus[] = [...orderStatusValues.filter((s) => s !== "unsent"), "unsent"];
