/**
 * The WebSocket protocol of /api/v1/ws (see the README's "Live updates"). The messages are
 * generated from the API's own schema like the REST types: the OpenAPI document has them as
 * components (`x-websockets` names ClientMessage and ServerMessage), and `npm run gen:api`
 * turns them into src/api/schema.ts. This file names them and reads a frame defensively.
 * The server sends {"type", "seq", "ts", "data"}; each event's data is the REST resource.
 */
import type { components } from "../api/schema";
import { liveEventTypeValues, streamChannelValues } from "../api/schema";

type Schemas = components["schemas"];

/** What the client sends (auth, subscribe, unsubscribe, ping). */
export type ClientMessage = Schemas["ClientMessage"];
/** Every frame the server sends, told apart by `type`. */
export type ServerFrame = Schemas["ServerMessage"];
/** The frames that carry a change: order, fill, position, account, risk, quote, broker link. */
export type LiveEvent = Schemas["LiveEvent"];
export type LiveEventType = Schemas["LiveEventType"];
export type WelcomeData = Schemas["WelcomeData"];
export type StreamErrorData = Schemas["StreamErrorData"];
export type ResyncData = Schemas["ResyncData"];
/** The broker link changed (`broker` channel): connected, disconnected or IB unreachable. */
export type BrokerLinkEvent = Schemas["BrokerLinkEvent"];
export type StreamChannel = Schemas["StreamChannel"];

/** A frame as read off the wire, before its `type` says what its data is. */
export interface ServerMessage {
  type: string;
  seq: number;
  ts: string;
  data: unknown;
}

export const EVENT_TYPES: ReadonlySet<string> = new Set<LiveEventType>(liveEventTypeValues);

/** The channels every dashboard follows (every fixed channel); quotes are added per watched symbol. */
export const BASE_CHANNELS: readonly StreamChannel[] = streamChannelValues;

export function quoteChannel(symbol: string): string {
  return `quotes:${symbol.toUpperCase()}`;
}

/** Close codes the API uses (README: "Close codes"; the document's `x-websockets` names them). */
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
