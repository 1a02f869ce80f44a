import { describe, expect, it } from "vitest";
import { BASE_CHANNELS, EVENT_TYPES, isLiveEvent, parseServerMessage } from "./messages";

describe("the stream's messages", () => {
  it("know every event type and fixed channel the API's schema lists", () => {
    expect([...EVENT_TYPES].sort()).toEqual([
      "account.updated",
      "broker.status",
      "fill.created",
      "order.updated",
      "position.updated",
      "quote",
      "risk.state",
    ]);
    expect(BASE_CHANNELS).toEqual(["orders", "fills", "positions", "account", "risk", "broker"]);
  });

  it("read a frame defensively and tell events from answers", () => {
    const event = parseServerMessage(JSON.stringify({ type: "quote", seq: 4, ts: "t", data: { symbol: "AAPL" } }));
    expect(event).toEqual({ type: "quote", seq: 4, ts: "t", data: { symbol: "AAPL" } });
    expect(event && isLiveEvent(event)).toBe(true);
    const pong = parseServerMessage(JSON.stringify({ type: "pong", seq: 5.5, data: {} }));
    expect(pong).toEqual({ type: "pong", seq: 0, ts: "", data: {} });
    expect(pong && isLiveEvent(pong)).toBe(false);
    expect(parseServerMessage("{nope")).toBeNull();
    expect(parseServerMessage(JSON.stringify({ seq: 1 }))).toBeNull();
  });
});
