import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QuoteRead } from "../api/types";
import { toFixedString } from "../lib/decimal";
import { makeOrder } from "../test/factories";
import { AuthProvider } from "./auth";
import { firstErrorField, newClientOrderId, useOrderTicket, type UseOrderTicketOptions } from "./useOrderTicket";

const AAPL: QuoteRead = {
  symbol: "AAPL",
  bid: "189.10",
  ask: "189.15",
  last: "189.12",
  bid_size: "100",
  ask_size: "100",
  volume: "1000",
  ts: "2026-01-02T15:00:00Z",
};

type Answer = { status: number; body: unknown } | Error;

/** The API as seen by fetch: each POST gets the next answer; the bodies are kept. */
function fakeApi(...answers: Answer[]) {
  const bodies: Record<string, unknown>[] = [];
  const fetchMock = vi.fn(async (request: Request) => {
    bodies.push((await request.clone().json()) as Record<string, unknown>);
    const answer = answers.shift() ?? { status: 500, body: {} };
    if (answer instanceof Error) throw answer;
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "content-type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { bodies, fetchMock };
}

function renderTicket(options: Partial<UseOrderTicketOptions> = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">{children}</AuthProvider>
    </QueryClientProvider>
  );
  const onErrors = vi.fn();
  const initial: UseOrderTicketOptions = {
    symbol: "AAPL",
    quotes: new Map([["AAPL", AAPL]]),
    disabled: false,
    onErrors,
    ...options,
  };
  const hook = renderHook((props: UseOrderTicketOptions) => useOrderTicket(props), { wrapper, initialProps: initial });
  return { ...hook, onErrors, initial };
}

/** A limit buy of `qty` AAPL at `price`, typed into the ticket. */
function typeLimitOrder(result: { current: ReturnType<typeof useOrderTicket> }, qty: string, price: string) {
  act(() => result.current.update("qty", qty, ["qty", "form"]));
  act(() => result.current.update("limitPrice", price, ["limit_price", "form"]));
}

beforeEach(() => {
  window.localStorage.clear();
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("useOrderTicket", () => {
  it("starts from the given symbol, follows a new one, and finds its quote", () => {
    const { result, rerender, initial } = renderTicket({ symbol: "AAPL" });
    expect(result.current.form.symbol).toBe("AAPL");
    expect(result.current.quote).toBe(AAPL);
    rerender({ ...initial, symbol: "MSFT" });
    expect(result.current.form.symbol).toBe("MSFT");
    expect(result.current.quote).toBeUndefined();
    rerender({ ...initial, symbol: null }); // nothing picked: the typed symbol stays
    expect(result.current.form.symbol).toBe("MSFT");
  });

  it("estimates the value of the order as the form stands", () => {
    const { result } = renderTicket();
    expect(result.current.value).toBeNull();
    typeLimitOrder(result, "10", "180.5");
    expect(toFixedString(result.current.value!, 2)).toBe("1805.00");
    act(() => result.current.update("type", "market"));
    expect(toFixedString(result.current.value!, 2)).toBe("1891.50"); // at the ask
  });

  it("keeps its own errors beside the fields and sends nothing", () => {
    const api = fakeApi();
    const { result, onErrors } = renderTicket();
    act(() => result.current.update("qty", "0"));
    act(() => result.current.submit());
    expect(result.current.errors.qty).toBe("A quantity must be greater than 0.");
    expect(result.current.errors.limit_price).toBe("Enter a limit price.");
    expect(onErrors).toHaveBeenCalledWith(result.current.errors);
    expect(firstErrorField(result.current.errors)).toBe("qty");
    expect(api.fetchMock).not.toHaveBeenCalled();
  });

  it("re-checks as the trader types once they tried, and only clears before", () => {
    const { result } = renderTicket();
    act(() => result.current.submit());
    expect(Object.keys(result.current.errors).sort()).toEqual(["limit_price", "qty"]);
    act(() => result.current.update("qty", "5", ["qty", "form"]));
    expect(result.current.errors).toEqual({ limit_price: "Enter a limit price." });
    act(() => result.current.update("qty", "-1", ["qty", "form"]));
    expect(result.current.errors.qty).toBe("A quantity must be greater than 0.");

    const fresh = renderTicket();
    act(() => fresh.result.current.update("qty", "-1", ["qty"]));
    expect(fresh.result.current.errors).toEqual({}); // not tried yet: no errors while typing
  });

  it("switches an IOC order to DAY when the new type cannot be IOC", () => {
    const { result } = renderTicket();
    act(() => result.current.update("tif", "ioc"));
    act(() => result.current.update("type", "stop"));
    expect(result.current.form.tif).toBe("day");
  });

  it("sends a small order at once with a new key, and a new order gets a new key", async () => {
    const api = fakeApi(
      { status: 201, body: makeOrder({ id: 12, status: "submitted" }) },
      { status: 201, body: makeOrder({ id: 13, status: "submitted" }) },
    );
    const { result } = renderTicket();
    typeLimitOrder(result, "10", "180.5");
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.placed?.id).toBe(12));
    expect(result.current.staged).toBeNull();
    expect(result.current.errors).toEqual({});
    act(() => result.current.submit()); // the same fields again: another order
    await waitFor(() => expect(result.current.placed?.id).toBe(13));
    const [first, second] = api.bodies.map((b) => b.client_order_id);
    expect(first).toMatch(/^ui-[0-9a-z]{1,24}$/);
    expect(second).not.toBe(first);
    expect(api.bodies[0]).toMatchObject({
      symbol: "AAPL",
      side: "buy",
      qty: "10",
      type: "limit",
      limit_price: "180.5",
    });
  });

  it("stages an order above the threshold; back sends nothing, confirm sends it", async () => {
    const api = fakeApi({ status: 201, body: makeOrder({ id: 14, status: "filled" }) });
    const { result } = renderTicket();
    typeLimitOrder(result, "100", "190");
    act(() => result.current.submit());
    expect(result.current.staged?.order).toMatchObject({ qty: "100", limit_price: "190" });
    expect(toFixedString(result.current.staged!.value!)).toBe("19000");
    act(() => result.current.back());
    expect(result.current.staged).toBeNull();
    expect(api.fetchMock).not.toHaveBeenCalled();

    act(() => result.current.submit());
    act(() => result.current.confirm());
    await waitFor(() => expect(result.current.placed?.id).toBe(14));
    expect(result.current.staged).toBeNull();
    expect(api.fetchMock).toHaveBeenCalledTimes(1);
  });

  it("asks for every order when the threshold is not a number, or the value unknown", () => {
    fakeApi();
    const { result } = renderTicket({ quotes: new Map() });
    act(() => result.current.update("qty", "1"));
    act(() => result.current.update("type", "market"));
    act(() => result.current.submit());
    expect(result.current.staged?.value).toBeNull(); // no quote: unknown value

    const other = renderTicket();
    act(() => other.result.current.setConfirmAbove("lots"));
    typeLimitOrder(other.result, "1", "1");
    act(() => other.result.current.submit());
    expect(other.result.current.staged).not.toBeNull();
  });

  it("keeps the key for a retry without an answer, and makes a new one after a refusal", async () => {
    const refusal = {
      status: 409,
      body: { error: { code: "IDEMPOTENCY_CONFLICT", message: "conflict", details: [] } },
    };
    const api = fakeApi(new TypeError("network down"), refusal, { status: 201, body: makeOrder({ id: 15 }) });
    const { result, onErrors } = renderTicket();
    typeLimitOrder(result, "1", "180");
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.errors.form).toMatch(/Cannot reach the API/));
    expect(onErrors).toHaveBeenLastCalledWith(result.current.errors);
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.errors.form).toBe("Conflict."));
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.placed?.id).toBe(15));
    const ids = api.bodies.map((b) => b.client_order_id);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[1]);
  });

  it("makes a new key when the order changes between retries", async () => {
    const api = fakeApi(new TypeError("network down"), { status: 201, body: makeOrder({ id: 16 }) });
    const { result } = renderTicket();
    typeLimitOrder(result, "1", "180");
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.errors.form).toBeTruthy());
    act(() => result.current.update("qty", "2", ["qty", "form"]));
    act(() => result.current.submit());
    await waitFor(() => expect(result.current.placed?.id).toBe(16));
    const ids = api.bodies.map((b) => b.client_order_id);
    expect(ids[1]).not.toBe(ids[0]);
  });

  it("does nothing while orders cannot be placed", () => {
    const api = fakeApi();
    const { result, onErrors } = renderTicket({ disabled: true });
    typeLimitOrder(result, "1", "180");
    act(() => result.current.submit());
    expect(result.current.errors).toEqual({});
    expect(result.current.staged).toBeNull();
    expect(onErrors).not.toHaveBeenCalled();
    expect(api.fetchMock).not.toHaveBeenCalled();
  });
});

describe("newClientOrderId", () => {
  it("makes distinct keys of the form the API takes", () => {
    const a = newClientOrderId();
    expect(a).toMatch(/^ui-[0-9a-z]{1,24}$/);
    expect(newClientOrderId()).not.toBe(a);
  });
});
