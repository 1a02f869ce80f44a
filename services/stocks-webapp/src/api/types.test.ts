import { describe, expect, it } from "vitest";
import { openOrderStatusValues, orderStatusValues } from "./schema";
import { isOpen, OPEN_STATUSES, ORDER_STATUSES } from "./types";

describe("order statuses", () => {
  it("are open exactly as the API publishes (orders/state.py's OPEN)", () => {
    expect([...OPEN_STATUSES]).toEqual([...openOrderStatusValues]);
    expect([...OPEN_STATUSES].sort()).toEqual(["partially_filled", "pending_cancel", "pending_submit", "submitted"]);
    expect(isOpen({ status: "pending_cancel" })).toBe(true);
    expect(isOpen({ status: "unsent" })).toBe(false);
    expect(isOpen({ status: "filled" })).toBe(false);
  });

  it("are all offered by the filters, unsent last", () => {
    expect([...ORDER_STATUSES].sort()).toEqual([...orderStatusValues].sort());
    expect(ORDER_STATUSES.at(-1)).toBe("unsent");
  });
});
