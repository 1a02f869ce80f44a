import { describe, expect, it } from "vitest";
import { ApiError } from "../api/errors";
import type { QuoteRead } from "../api/types";
import { toFixedString } from "./decimal";
import {
  EMPTY_TICKET,
  estimatedValue,
  fieldOfLoc,
  needsConfirmation,
  ticketErrorsFromApi,
  validateTicket,
  type TicketForm,
} from "./ticket";

const form = (change: Partial<TicketForm>): TicketForm => ({ ...EMPTY_TICKET, symbol: "aapl", qty: "10", ...change });

const quote: QuoteRead = {
  symbol: "AAPL",
  bid: "189.10",
  ask: "189.15",
  last: "189.12",
  bid_size: "100",
  ask_size: "200",
  volume: "1000",
  ts: "2026-01-02T15:00:00Z",
};

describe("validateTicket", () => {
  it("builds a limit order with canonical decimal strings", () => {
    const { order, errors } = validateTicket(form({ type: "limit", limitPrice: "0190.50", tif: "gtc" }));
    expect(errors).toEqual({});
    expect(order).toEqual({
      symbol: "AAPL",
      side: "buy",
      qty: "10",
      type: "limit",
      limit_price: "190.5",
      tif: "gtc",
      outside_rth: false,
    });
  });

  it("asks for the prices each order type needs, and only those", () => {
    expect(validateTicket(form({ type: "limit" })).errors).toEqual({ limit_price: "Enter a limit price." });
    expect(validateTicket(form({ type: "stop" })).errors).toEqual({ stop_price: "Enter a stop price." });
    expect(Object.keys(validateTicket(form({ type: "stop_limit" })).errors).sort()).toEqual([
      "limit_price",
      "stop_price",
    ]);
    const market = validateTicket(form({ type: "market", limitPrice: "1", stopPrice: "2" }));
    expect(market.order).toMatchObject({ type: "market" });
    expect(market.order).not.toHaveProperty("limit_price");
    expect(market.order).not.toHaveProperty("stop_price");
  });

  it("builds trailing stops by amount or percent", () => {
    expect(validateTicket(form({ type: "trailing_stop", side: "sell", trail: "1.5" })).order).toMatchObject({
      trail_amount: "1.5",
    });
    const percent = validateTicket(form({ type: "trailing_stop", trailMode: "percent", trail: "2" }));
    expect(percent.order).toMatchObject({ trail_percent: "2" });
    expect(validateTicket(form({ type: "trailing_stop", trailMode: "percent", trail: "100" })).errors.trail).toMatch(
      /below 100/,
    );
  });

  it("refuses bad numbers with a message for the field", () => {
    expect(validateTicket(form({ qty: "" })).errors.qty).toBe("Enter a quantity.");
    expect(validateTicket(form({ qty: "0" })).errors.qty).toMatch(/greater than 0/);
    expect(validateTicket(form({ qty: "-5" })).errors.qty).toMatch(/greater than 0/);
    expect(validateTicket(form({ qty: "1e3" })).errors.qty).toMatch(/number like/);
    expect(validateTicket(form({ qty: "ten" })).errors.qty).toMatch(/number like/);
    expect(validateTicket(form({ qty: "20000000" })).errors.qty).toMatch(/at most 10000000/);
    expect(validateTicket(form({ type: "limit", limitPrice: "1.123456789" })).errors.limit_price).toMatch(
      /at most 8 decimals/,
    );
    expect(validateTicket(form({ symbol: "" })).errors.symbol).toBe("Enter a symbol.");
    expect(validateTicket(form({ symbol: "AA PL" })).errors.symbol).toMatch(/letters/);
  });

  it("allows IOC only for market and limit orders", () => {
    expect(validateTicket(form({ type: "market", tif: "ioc" })).errors).toEqual({});
    expect(validateTicket(form({ type: "stop", stopPrice: "180", tif: "ioc" })).errors.tif).toMatch(/market and limit/);
  });

  it("builds a bracket and checks its legs against the entry", () => {
    const ok = validateTicket(
      form({
        type: "limit",
        limitPrice: "190",
        bracket: true,
        takeProfit: "200",
        stopLoss: "185",
        stopLossLimit: "184",
      }),
    );
    expect(ok.errors).toEqual({});
    expect(ok.order).toMatchObject({
      take_profit: { limit_price: "200" },
      stop_loss: { stop_price: "185", limit_price: "184" },
    });
    const wrong = validateTicket(
      form({ type: "limit", limitPrice: "190", bracket: true, takeProfit: "180", stopLoss: "195" }),
    );
    expect(wrong.errors["take_profit.limit_price"]).toMatch(/above the entry/);
    expect(wrong.errors["stop_loss.stop_price"]).toMatch(/below the entry/);
    const sell = validateTicket(
      form({ side: "sell", type: "limit", limitPrice: "190", bracket: true, takeProfit: "180", stopLoss: "195" }),
    );
    expect(sell.errors).toEqual({});
    expect(validateTicket(form({ type: "market", bracket: true })).errors["take_profit.limit_price"]).toMatch(
      /or both/,
    );
  });
});

describe("estimated value and confirmation", () => {
  it("values an order as the max_order_value check does", () => {
    const limit = validateTicket(form({ qty: "100", type: "limit", limitPrice: "190.25" })).order!;
    expect(toFixedString(estimatedValue(limit, quote)!, 2)).toBe("19025.00");
    const stop = validateTicket(form({ qty: "3", type: "stop", stopPrice: "0.1" })).order!;
    expect(toFixedString(estimatedValue(stop, undefined)!)).toBe("0.3");
    const buy = validateTicket(form({ qty: "10", type: "market" })).order!;
    expect(toFixedString(estimatedValue(buy, quote)!)).toBe("1891.50");
    const sell = validateTicket(form({ qty: "10", type: "market", side: "sell" })).order!;
    expect(toFixedString(estimatedValue(sell, quote)!)).toBe("1891.00");
    expect(estimatedValue(buy, undefined)).toBeNull();
  });

  it("asks above the threshold and when the value is unknown", () => {
    const order = validateTicket(form({ qty: "100", type: "limit", limitPrice: "100" })).order!;
    expect(needsConfirmation(estimatedValue(order, quote), "10000")).toBe(false); // exactly at it
    expect(needsConfirmation(estimatedValue(order, quote), "9999.99")).toBe(true);
    expect(needsConfirmation(null, "10000")).toBe(true);
    expect(needsConfirmation(estimatedValue(order, quote), "not a number")).toBe(true);
  });
});

describe("the API's errors next to the fields", () => {
  it("maps loc paths to fields", () => {
    expect(fieldOfLoc(["body", "qty"])).toBe("qty");
    expect(fieldOfLoc(["body", "take_profit", "limit_price"])).toBe("take_profit.limit_price");
    expect(fieldOfLoc(["body", "trail_percent"])).toBe("trail");
    expect(fieldOfLoc(["body"])).toBeNull();
  });

  it("places field details and splits model-level messages", () => {
    const error = new ApiError(422, "VALIDATION_ERROR", "request validation failed", [
      { loc: ["body", "qty"], msg: "Input should be greater than 0", type: "greater_than" },
      {
        loc: ["body"],
        msg: "Value error, limit_price is required for limit orders; tif ioc is only allowed for market and limit orders",
        type: "value_error",
      },
    ]);
    expect(ticketErrorsFromApi(error, "limit")).toEqual({
      qty: "Input should be greater than 0.",
      limit_price: "Limit price is required for limit orders.",
      tif: "Immediate or cancel is only allowed for market and limit orders.",
    });
  });

  it("places each failed risk check beside the field to change", () => {
    const error = new ApiError(
      422,
      "RISK_REJECTED",
      "the order failed risk checks: max_order_value, price_band, trading_state",
      [
        {
          check: "max_order_value",
          message: "order value 1900 is above 1000",
          limit: "1000",
          value: "1900",
          order_id: 7,
        },
        {
          check: "price_band",
          message: "price 1 is 99.47% from the last price",
          limit: "10",
          value: "99.47",
          order_id: 7,
        },
        { check: "trading_state", message: "trading is halted", limit: null, value: null, order_id: 7 },
      ],
    );
    expect(ticketErrorsFromApi(error, "limit")).toEqual({
      qty: "Order value 1900 is above 1000.",
      limit_price: "Price 1 is 99.47% from the last price.",
      form: "Trading is halted. (trading state)",
    });
    const single = new ApiError(422, "RISK_REJECTED", "the order failed risk checks: max_order_qty", [
      { check: "max_order_qty", message: "quantity 50 is above 10", limit: "10", value: "50", order_id: 8 },
    ]);
    expect(ticketErrorsFromApi(single, "market")).toEqual({
      qty: "Quantity 50 is above 10.",
      form: "The order failed risk checks: max_order_qty.",
    });
  });

  it("puts errors without details on the form", () => {
    const error = new ApiError(403, "LIVE_TRADING_DISABLED", "live trading is disabled");
    expect(ticketErrorsFromApi(error, "market")).toEqual({ form: "Live trading is disabled." });
    expect(ticketErrorsFromApi(new Error("boom"), "market")).toEqual({ form: "boom" });
  });
});
