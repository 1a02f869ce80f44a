/**
 * One connection to /api/v1/ws, kept alive: it authenticates with a first message (the token
 * never goes into a URL or an access log), subscribes, checks that `seq` has no gaps, watches
 * for the server's heartbeat, and reconnects with exponential backoff and jitter.
 *
 * Whenever events may have been missed it calls `onResync`: after every (re)connect once
 * subscribed, on a `seq` gap, and on the server's `resync` message. The owner then re-reads
 * the resources over REST. No React here: the hook (hooks/useLiveUpdates) wires it up.
 */
import {
  CLOSE_FORBIDDEN,
  CLOSE_TOO_SLOW,
  CLOSE_UNAUTHORIZED,
  isLiveEvent,
  parseServerMessage,
  type ClientMessage,
  type LiveEvent,
  type ResyncData,
  type StreamErrorData,
  type WelcomeData,
} from "./messages";

/** The part of the browser's WebSocket this class uses (a fake one in tests). */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (as the browser's WebSocket). */
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type LiveStatus = "connecting" | "live" | "reconnecting" | "unauthorized" | "stopped";

export interface LiveSnapshot {
  status: LiveStatus;
  /** When reconnecting: the delay before the next attempt. */
  retryInMs: number | null;
  /** Why the last connection ended (or could not be made). */
  lastError: string | null;
  /** Successful connections so far (the first one included). */
  connections: number;
  /** Re-syncs asked for so far. */
  resyncs: number;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: each delay is shortened by up to this share, at random, so clients spread out. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0.3 };

/** The delay before reconnect attempt `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}

export interface LiveConnectionOptions {
  url: string;
  token: string;
  channels: readonly string[];
  onEvent: (event: LiveEvent) => void;
  onResync: (reason: string) => void;
  onStatus?: (snapshot: LiveSnapshot) => void;
  /** The server refused the credential (4401): sign in again. No reconnect follows. */
  onUnauthorized?: () => void;
  /** A subscription the server refused (e.g. UNKNOWN_SYMBOL for quotes:XYZ). */
  onChannelError?: (channel: string, code: string, message: string) => void;
  createSocket?: (url: string) => WebSocketLike;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
  /** Give up on a connection that has not said `welcome` within this time. */
  connectTimeoutMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_NORMAL = 1000;
const CONNECTING = 0;
const CLOSE_CLIENT_GAVE_UP = 4000;

function describeClose(code: number, reason: string): string {
  const why = reason ? `: ${reason}` : "";
  switch (code) {
    case CLOSE_FORBIDDEN:
      return `refused by the server (4403${why})`;
    case CLOSE_TOO_SLOW:
      return "closed by the server: this page read too slowly (4408)";
    case 1012:
      return "the server is restarting (1012)";
    case 1006:
      return "the connection was lost (1006)";
    default:
      return `the connection closed (${code}${why})`;
  }
}

export class LiveConnection {
  private readonly options: LiveConnectionOptions;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private socket: WebSocketLike | null = null;
  private wanted: Set<string>;
  /** Channels asked for on the current socket (confirmed or in flight). */
  private subscribed = new Set<string>();
  /** Quote channels the server refused on the current socket (not asked for again). */
  private refused = new Set<string>();
  private lastSeq = 0;
  private welcomed = false;
  private live = false;
  private attempt = 0;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private requestId = 0;
  private snapshot: LiveSnapshot = {
    status: "stopped",
    retryInMs: null,
    lastError: null,
    connections: 0,
    resyncs: 0,
  };

  constructor(options: LiveConnectionOptions) {
    this.options = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.wanted = new Set(options.channels);
  }

  get state(): LiveSnapshot {
    return this.snapshot;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.discardSocket(CLOSE_NORMAL, "page closed");
    this.setStatus({ status: "stopped", retryInMs: null });
  }

  /** Try at once instead of waiting out the backoff (a "reconnect now" button, going online). */
  reconnectNow(): void {
    if (this.stopped || this.snapshot.status === "unauthorized" || this.live) return;
    this.clearTimers();
    this.discardSocket(CLOSE_CLIENT_GAVE_UP, "reconnecting");
    this.attempt = 0;
    this.open();
  }

  /** Follow exactly these channels from now on (subscribing and unsubscribing the difference). */
  setChannels(channels: readonly string[]): void {
    this.wanted = new Set(channels);
    for (const channel of this.refused) if (!this.wanted.has(channel)) this.refused.delete(channel);
    if (this.welcomed) this.syncSubscriptions();
  }

  // -- connection life -------------------------------------------------------------------

  private open(): void {
    this.lastSeq = 0;
    this.welcomed = false;
    this.live = false;
    this.subscribed = new Set();
    this.refused = new Set();
    this.setStatus({
      status: this.snapshot.connections === 0 && this.attempt === 0 ? "connecting" : "reconnecting",
      retryInMs: null,
    });
    let socket: WebSocketLike;
    try {
      socket = this.options.createSocket
        ? this.options.createSocket(this.options.url)
        : (new WebSocket(this.options.url) as unknown as WebSocketLike);
    } catch (error) {
      this.scheduleReconnect(`cannot open the connection (${String(error)})`);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.send({ op: "auth", token: this.options.token });
    };
    socket.onmessage = (event) => {
      if (socket === this.socket) this.handle(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.closed(event.code, event.reason);
    };
    socket.onerror = () => {
      // A close event always follows; it decides what to do.
    };
    this.armWatchdog(this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, "no answer from the server");
  }

  private closed(code: number, reason: string): void {
    this.clearTimers();
    this.welcomed = false;
    this.live = false;
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED) {
      this.setStatus({ status: "unauthorized", retryInMs: null, lastError: "the session is no longer valid (4401)" });
      this.options.onUnauthorized?.();
      return;
    }
    this.scheduleReconnect(describeClose(code, reason));
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt += 1;
    this.setStatus({ status: "reconnecting", retryInMs: delay, lastError: reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  /** Drop the current socket without waiting for its close event (it may never come). */
  private discardSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onmessage = socket.onclose = socket.onerror = null;
    const close = () => {
      try {
        socket.close(code, reason);
      } catch {
        // Already closing or closed: gone anyway.
      }
    };
    // Closing while still connecting makes browsers log a warning: close once it opens.
    if (socket.readyState === CONNECTING) socket.onopen = close;
    else {
      socket.onopen = null;
      close();
    }
  }

  private armWatchdog(ms: number, reason: string): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = null;
      this.discardSocket(CLOSE_CLIENT_GAVE_UP, reason);
      this.welcomed = false;
      this.live = false;
      this.scheduleReconnect(reason);
    }, ms);
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.reconnectTimer = this.watchdogTimer = null;
  }

  // -- messages ---------------------------------------------------------------------------

  private handle(raw: unknown): void {
    const message = parseServerMessage(raw);
    if (!message) return;
    // Silence longer than two heartbeats means the connection is dead (a laptop slept, a
    // proxy dropped it without a close): give up on it and reconnect.
    if (this.welcomed) this.armWatchdog(this.heartbeatMs * 2 + 5_000, "no heartbeat from the server");

    if (message.seq > 0) {
      if (message.seq <= this.lastSeq) return; // a duplicate: already seen
      const gap = message.seq > this.lastSeq + 1;
      this.lastSeq = message.seq;
      if (message.type === "resync") {
        const reason: unknown = (message.data as Partial<ResyncData> | null)?.reason;
        this.resync(`the server asked for a re-sync (${typeof reason === "string" ? reason : "no reason given"})`);
        return;
      }
      if (gap) this.resync(`missed messages before seq ${message.seq}`);
    }

    switch (message.type) {
      case "welcome": {
        this.welcomed = true;
        const seconds: unknown = (message.data as Partial<WelcomeData> | null)?.heartbeat_seconds;
        if (typeof seconds === "number" && seconds > 0) this.heartbeatMs = seconds * 1000;
        this.armWatchdog(this.heartbeatMs * 2 + 5_000, "no heartbeat from the server");
        this.syncSubscriptions();
        return;
      }
      case "subscribed":
        if (!this.live) {
          this.live = true;
          this.attempt = 0;
          this.setStatus({
            status: "live",
            retryInMs: null,
            lastError: null,
            connections: this.snapshot.connections + 1,
          });
          // Whatever changed before this moment is not coming as an event: re-read it.
          this.resync("connected");
        }
        return;
      case "error":
        this.refusedSubscription(message.data);
        return;
      case "heartbeat":
      case "pong":
      case "unsubscribed":
        return;
      default:
        if (isLiveEvent(message)) this.options.onEvent(message);
    }
  }

  private refusedSubscription(data: unknown): void {
    // Read defensively: the schema says what the server sends, not what reached this page.
    const error = data as { [K in keyof StreamErrorData]?: unknown } | null;
    const id = typeof error?.id === "string" ? error.id : "";
    if (!id.startsWith("sub:")) return;
    const channel = id.slice(4);
    this.subscribed.delete(channel);
    this.refused.add(channel);
    this.options.onChannelError?.(channel, String(error?.code ?? "ERROR"), String(error?.message ?? ""));
  }

  private syncSubscriptions(): void {
    const base = [...this.wanted].filter((c) => !c.startsWith("quotes:") && !this.subscribed.has(c));
    if (base.length > 0) {
      base.forEach((c) => this.subscribed.add(c));
      this.send({ op: "subscribe", channels: base, id: `base:${++this.requestId}` });
    }
    // One message per quote channel: the server refuses a whole message for one unknown
    // symbol, and one bad symbol on the watchlist must not cost the others their quotes.
    for (const channel of this.wanted) {
      if (!channel.startsWith("quotes:") || this.subscribed.has(channel) || this.refused.has(channel)) continue;
      this.subscribed.add(channel);
      this.send({ op: "subscribe", channels: [channel], id: `sub:${channel}` });
    }
    const gone = [...this.subscribed].filter((c) => !this.wanted.has(c));
    if (gone.length > 0) {
      gone.forEach((c) => this.subscribed.delete(c));
      this.send({ op: "unsubscribe", channels: gone, id: `unsub:${++this.requestId}` });
    }
  }

  private resync(reason: string): void {
    this.setStatus({ resyncs: this.snapshot.resyncs + 1 });
    this.options.onResync(reason);
  }

  private send(message: ClientMessage): void {
    try {
      this.socket?.send(JSON.stringify(message));
    } catch {
      // Sending on a closing socket: its close event follows and reconnects.
    }
  }

  private setStatus(change: Partial<LiveSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    this.options.onStatus?.(this.snapshot);
  }
}
