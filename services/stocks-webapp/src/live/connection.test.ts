import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "../test/fakeWebSocket";
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  LiveConnection,
  type LiveConnectionOptions,
  type LiveSnapshot,
} from "./connection";

function connect(overrides: Partial<LiveConnectionOptions> = {}) {
  const calls = {
    events: [] as unknown[],
    resyncs: [] as string[],
    statuses: [] as LiveSnapshot[],
    unauthorized: 0,
    channelErrors: [] as string[],
  };
  const connection = new LiveConnection({
    url: "ws://app.test/api/v1/ws",
    token: "jwt-token",
    channels: ["orders", "fills", "quotes:AAPL", "quotes:MSFT"],
    onEvent: (e) => calls.events.push(e),
    onResync: (reason) => calls.resyncs.push(reason),
    onStatus: (s) => calls.statuses.push(s),
    onUnauthorized: () => calls.unauthorized++,
    onChannelError: (channel, code) => calls.channelErrors.push(`${channel} ${code}`),
    createSocket: FakeWebSocket.create,
    random: () => 0, // no jitter: exact delays
    ...overrides,
  });
  connection.start();
  return { connection, calls };
}

const order = { id: 1, status: "submitted", updated_at: "2026-01-02T15:00:00Z" };

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("LiveConnection: connecting", () => {
  it("authenticates by first message, never in the URL, then subscribes", () => {
    const { connection } = connect();
    const socket = FakeWebSocket.latest();
    expect(socket.url).toBe("ws://app.test/api/v1/ws");
    expect(connection.state.status).toBe("connecting");
    socket.open();
    expect(socket.sent).toEqual([{ op: "auth", token: "jwt-token" }]);
    socket.push("welcome", { heartbeat_seconds: 15 });
    // Fixed channels in one message; each quote channel alone, so one unknown symbol
    // cannot cost the others their quotes.
    expect(socket.sent.slice(1)).toEqual([
      { op: "subscribe", channels: ["orders", "fills"], id: "base:1" },
      { op: "subscribe", channels: ["quotes:AAPL"], id: "sub:quotes:AAPL" },
      { op: "subscribe", channels: ["quotes:MSFT"], id: "sub:quotes:MSFT" },
    ]);
  });

  it("is live once subscribed, and re-reads over REST what it may have missed", () => {
    const { connection, calls } = connect();
    FakeWebSocket.latest().handshake();
    expect(connection.state.status).toBe("live");
    expect(connection.state.connections).toBe(1);
    expect(calls.resyncs).toEqual(["connected"]);
  });

  it("hands events on, and ignores frames that are not events", () => {
    const { calls } = connect();
    const socket = FakeWebSocket.latest();
    socket.handshake();
    socket.push("order.updated", order);
    socket.push("heartbeat", {});
    socket.push("pong", {});
    socket.pushRaw("not json");
    socket.pushRaw({ no: "type" });
    expect(calls.events).toEqual([expect.objectContaining({ type: "order.updated", seq: 3, data: order })]);
  });
});

describe("LiveConnection: seq gaps and resync", () => {
  it("re-syncs when seq skips a number, and still applies the event that revealed it", () => {
    const { calls } = connect();
    const socket = FakeWebSocket.latest();
    socket.handshake();
    socket.push("order.updated", order); // seq 3
    socket.push("order.updated", { ...order, status: "filled" }, { skip: 2 }); // seq 6: 4 and 5 lost
    expect(calls.resyncs).toEqual(["connected", "missed messages before seq 6"]);
    expect(calls.events).toHaveLength(2);
    socket.push("order.updated", order); // seq 7: no gap
    expect(calls.resyncs).toHaveLength(2);
  });

  it("re-syncs on the server's resync message, once (its own skipped seq is no second gap)", () => {
    const { calls, connection } = connect();
    const socket = FakeWebSocket.latest();
    socket.handshake();
    socket.push("resync", { reason: "bus reconnected" }, { skip: 1 });
    expect(calls.resyncs).toEqual(["connected", "the server asked for a re-sync (bus reconnected)"]);
    expect(connection.state.resyncs).toBe(2);
    expect(calls.events).toEqual([]);
  });

  it("drops a repeated or older seq", () => {
    const { calls } = connect();
    const socket = FakeWebSocket.latest();
    socket.handshake(); // seq 1, 2
    socket.push("order.updated", order); // seq 3
    socket.pushRaw({ type: "order.updated", seq: 3, ts: "", data: order });
    socket.pushRaw({ type: "order.updated", seq: 2, ts: "", data: order });
    expect(calls.events).toHaveLength(1);
    expect(calls.resyncs).toEqual(["connected"]);
  });

  it("counts seq per connection: a new connection starts again from 1", () => {
    const { calls } = connect();
    FakeWebSocket.latest().handshake();
    FakeWebSocket.latest().drop();
    vi.advanceTimersByTime(DEFAULT_BACKOFF.initialMs);
    FakeWebSocket.latest().handshake(); // seq 1 again: no gap
    expect(calls.resyncs).toEqual(["connected", "connected"]);
  });
});

describe("LiveConnection: reconnecting", () => {
  it("reconnects with exponential backoff, and starts over after a success", () => {
    const { connection, calls } = connect();
    FakeWebSocket.latest().handshake();
    FakeWebSocket.latest().drop(1006);
    expect(connection.state).toMatchObject({ status: "reconnecting", retryInMs: 500 });
    expect(connection.state.lastError).toMatch(/lost/);

    vi.advanceTimersByTime(499);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);

    // The server is still down: each failure waits twice as long, up to the cap.
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      FakeWebSocket.latest().drop(1006);
      delays.push(connection.state.retryInMs!);
      vi.advanceTimersByTime(connection.state.retryInMs!);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 15000, 15000, 15000]);

    FakeWebSocket.latest().handshake();
    expect(connection.state.status).toBe("live");
    expect(calls.resyncs.at(-1)).toBe("connected");
    FakeWebSocket.latest().drop(1012);
    expect(connection.state.retryInMs).toBe(500);
    expect(connection.state.lastError).toMatch(/restarting/);
  });

  it("spreads reconnects with jitter, never beyond the base delay", () => {
    for (const r of [0, 0.5, 0.999]) {
      const delay = backoffDelay(3, DEFAULT_BACKOFF, () => r);
      expect(delay).toBeLessThanOrEqual(4000);
      expect(delay).toBeGreaterThanOrEqual(4000 * (1 - DEFAULT_BACKOFF.jitter));
    }
    expect(backoffDelay(50, DEFAULT_BACKOFF, () => 0)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it("gives up on a server that never answers, and on a silent one (no heartbeat)", () => {
    const { connection } = connect({ connectTimeoutMs: 3000 });
    vi.advanceTimersByTime(3000); // no open, no welcome
    expect(connection.state.status).toBe("reconnecting");
    // Abandoned while connecting: it is closed if it ever opens (no browser warning meanwhile).
    const abandoned = FakeWebSocket.latest();
    expect(abandoned.closedWith).toBeNull();
    abandoned.open();
    expect(abandoned.closedWith).toEqual({ code: 4000, reason: "no answer from the server" });
    expect(abandoned.sent).toEqual([]);

    vi.advanceTimersByTime(connection.state.retryInMs!);
    const socket = FakeWebSocket.latest();
    socket.handshake(1); // heartbeat every 1 s: silence for 2 x 1 s + 5 s is a dead link
    vi.advanceTimersByTime(6999);
    expect(connection.state.status).toBe("live");
    socket.push("heartbeat");
    vi.advanceTimersByTime(6999);
    expect(connection.state.status).toBe("live");
    vi.advanceTimersByTime(1);
    expect(socket.closedWith).toEqual({ code: 4000, reason: "no heartbeat from the server" });
    expect(connection.state).toMatchObject({ status: "reconnecting", lastError: "no heartbeat from the server" });
  });

  it("stops on 4401 and asks to sign in again", () => {
    const { connection, calls } = connect();
    FakeWebSocket.latest().handshake();
    FakeWebSocket.latest().drop(4401, "token expired");
    expect(connection.state.status).toBe("unauthorized");
    expect(calls.unauthorized).toBe(1);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("reconnects at once when asked, and not at all once stopped", () => {
    const { connection } = connect();
    FakeWebSocket.latest().handshake();
    FakeWebSocket.latest().drop();
    connection.reconnectNow();
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest().handshake();

    connection.stop();
    expect(FakeWebSocket.latest().closedWith).toEqual({ code: 1000, reason: "page closed" });
    expect(connection.state.status).toBe("stopped");
    FakeWebSocket.latest().drop(); // a late close event after stop changes nothing
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });
});

describe("LiveConnection: channels", () => {
  it("subscribes and unsubscribes the difference when the watchlist changes", () => {
    const { connection } = connect({ channels: ["orders", "quotes:AAPL"] });
    const socket = FakeWebSocket.latest();
    socket.handshake();
    socket.sent.length = 0;
    connection.setChannels(["orders", "quotes:NVDA"]);
    expect(socket.sent).toEqual([
      { op: "subscribe", channels: ["quotes:NVDA"], id: "sub:quotes:NVDA" },
      { op: "unsubscribe", channels: ["quotes:AAPL"], id: "unsub:2" },
    ]);
  });

  it("reports a refused symbol and does not ask for it again", () => {
    const { connection, calls } = connect({ channels: ["orders", "quotes:ZZZZ"] });
    const socket = FakeWebSocket.latest();
    socket.handshake();
    socket.push("error", { code: "UNKNOWN_SYMBOL", message: "not known", id: "sub:quotes:ZZZZ" });
    expect(calls.channelErrors).toEqual(["quotes:ZZZZ UNKNOWN_SYMBOL"]);
    socket.sent.length = 0;
    connection.setChannels(["orders", "quotes:ZZZZ", "quotes:AAPL"]);
    expect(socket.sent).toEqual([{ op: "subscribe", channels: ["quotes:AAPL"], id: "sub:quotes:AAPL" }]);
  });

  it("subscribes to the current channels again after a reconnect", () => {
    const { connection } = connect({ channels: ["orders"] });
    FakeWebSocket.latest().handshake();
    connection.setChannels(["orders", "quotes:SPY"]);
    FakeWebSocket.latest().drop();
    vi.advanceTimersByTime(500);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.push("welcome", {});
    expect(socket.sent.slice(1)).toEqual([
      { op: "subscribe", channels: ["orders"], id: expect.stringMatching(/^base:/) },
      { op: "subscribe", channels: ["quotes:SPY"], id: "sub:quotes:SPY" },
    ]);
  });
});
