import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { positionKeys } from "../api/keys";
import type { PositionRead } from "../api/types";
import { makeOrder } from "../test/factories";
import type { LiveEvent } from "./messages";
import { EventLog, latestPerEntity, replaySince } from "./replay";

const orderEvent = (id: number, status: "submitted" | "filled"): LiveEvent => ({
  type: "order.updated",
  seq: 0,
  ts: "",
  data: makeOrder({ id, status }),
});

const positionEvent = (qty: string, updatedAt: string, price = "100"): LiveEvent => ({
  type: "position.updated",
  seq: 0,
  ts: "",
  data: {
    account_id: "DU1",
    symbol: "AAPL",
    qty,
    avg_cost: "100",
    cost_basis: "0",
    market_price: price,
    market_value: "0",
    unrealized_pnl: "0",
    realized_pnl: "0",
    opened_at: null,
    updated_at: updatedAt,
  } satisfies PositionRead,
});

describe("event replay", () => {
  it("keeps each entity's last event, in arrival order", () => {
    const events = [orderEvent(1, "submitted"), orderEvent(2, "submitted"), orderEvent(1, "filled")];
    expect(
      latestPerEntity(events).map((e) => `${(e.data as { id: number }).id} ${(e.data as { status: string }).status}`),
    ).toEqual(["2 submitted", "1 filled"]);
  });

  it("gives the events after a mark, and says when it no longer holds them all", () => {
    const log = new EventLog(3);
    log.record(orderEvent(1, "submitted"));
    const mark = log.mark;
    log.record(orderEvent(2, "submitted"));
    log.record({ type: "quote", seq: 0, ts: "", data: {} } as LiveEvent); // quotes are not kept
    expect(log.since(mark)).toHaveLength(1);
    log.record(orderEvent(3, "submitted"));
    log.record(orderEvent(4, "submitted"));
    log.record(orderEvent(5, "submitted"));
    expect(log.since(mark)).toBeNull();
    expect(log.since(log.mark)).toEqual([]);
  });

  it("lets a replayed position win only when it is strictly newer than the answer", () => {
    const client = new QueryClient();
    const log = new EventLog();
    const mark = log.mark;
    log.record(positionEvent("10", "2026-01-02T15:00:00Z", "99")); // an older valuation
    client.setQueryData(positionKeys.list(), [positionEvent("10", "2026-01-02T15:00:00Z", "101").data]);
    expect(replaySince(client, log, mark, "positions")).toBe(true);
    expect(client.getQueryData<PositionRead[]>(positionKeys.list())![0]!.market_price).toBe("101");

    log.record(positionEvent("0", "2026-01-02T15:00:05Z")); // then it was closed
    replaySince(client, log, mark, "positions");
    expect(client.getQueryData<PositionRead[]>(positionKeys.list())).toEqual([]);
  });
});
