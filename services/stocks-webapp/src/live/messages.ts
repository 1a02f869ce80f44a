/**
 * The WebSocket protocol of /api/v1/ws, typed (see the README's "Live updates"). The server
 * sends {"type", "seq", "ts", "data"}; each event's data is the same JSON as the REST resource.
 */
import type { AccountSummary, FillRead, OrderRead, PositionRead, QuoteRead, RiskStateRead } from "../api/types";

export interface ServerMessage {
  type: string;
  seq: number;
  ts: string;
  data: unknown;
}

export type LiveEvent =
  | { type: "order.updated"; seq: number; ts: string; data: OrderRead }
  | { type: "fill.created"; seq: number; ts: string; data: FillRead }
  | { type: "position.updated"; seq: number; ts: string; data: PositionRead }
  | { type: "account.updated"; seq: number; ts: string; data: AccountSummary }
  | { type: "risk.state"; seq: number; ts: string; data: RiskStateRead }
  | { type: "quote"; seq: number; ts: string; data: QuoteRead }
  | { type: "broker.status"; seq: number; ts: string; data: BrokerLinkEvent };

/** The broker link changed (`broker` channel): connected, disconnected or IB unreachable. */
export interface BrokerLinkEvent {
  kind: string;
  state: "connected" | "disconnected" | "ib_unreachable";
  connected: boolean;
  since: string | null;
  description: string;
  reason: string | null;
}

export const EVENT_TYPES: ReadonlySet<string> = new Set([
  "order.updated",
  "fill.created",
  "position.updated",
  "account.updated",
  "risk.state",
  "quote",
  "broker.status",
]);

/** The channels every dashboard follows; quotes are added per watched symbol. */
export const BASE_CHANNELS = ["orders", "fills", "positions", "account", "risk", "broker"] as const;

export function quoteChannel(symbol: string): string {
  return `quotes:${symbol.toUpperCase()}`;
}

/** Close codes the API uses (README: "Close codes"). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_TOO_SLOW = 4408;

export function parseServerMessage(text: unknown): ServerMessage | null {
  if (typeof text !== "string") return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const { type, seq, ts, data } = raw as Record<string, unknown>;
  if (typeof type !== "string") return null;
  return {
    type,
    seq: typeof seq === "number" && Number.isInteger(seq) ? seq : 0,
    ts: typeof ts === "string" ? ts : "",
    data: data ?? null,
  };
}

export function isLiveEvent(message: ServerMessage): message is LiveEvent {
  return EVENT_TYPES.has(message.type) && typeof message.data === "object" && message.data !== null;
}
