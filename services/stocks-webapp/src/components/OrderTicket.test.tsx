import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QuoteRead } from "../api/types";
import { AuthProvider } from "../hooks/auth";
import { makeOrder } from "../test/factories";
import { OrderTicket } from "./OrderTicket";

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

function renderTicket(disabledReason: string | null = null) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <OrderTicket
          symbol="AAPL"
          symbols={["AAPL"]}
          quotes={new Map([["AAPL", AAPL]])}
          disabledReason={disabledReason}
          notice={null}
        />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

function fill(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

const review = () => fireEvent.click(screen.getByRole("button", { name: "Review & buy" }));

beforeEach(() => {
  window.localStorage.clear();
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("OrderTicket", () => {
  it("says when an accepted order waits for the session", async () => {
    const notice = "waits for the regular session at 09:30 America/New_York (Thu 2026-12-03)";
    fakeApi({ status: 201, body: makeOrder({ id: 14, qty: "10", status: "submitted", notice }) });
    renderTicket();
    fill("Quantity", "10");
    fill("Limit price", "180.5");
    review();
    const result = await screen.findByTestId("ticket-result");
    expect(result.textContent).toContain(`It ${notice}.`);
  });

  it("sends a small order at once, with a generated client order id", async () => {
    const api = fakeApi({ status: 201, body: makeOrder({ id: 12, qty: "10", status: "submitted" }) });
    renderTicket();
    fill("Quantity", "10");
    fill("Limit price", "180.5");
    expect(screen.getByTestId("ticket-estimate").textContent).toBe("Estimated value: 1,805.00");
    review();
    await screen.findByText(/Order #12 buy 10 AAPL: submitted/);
    expect(api.bodies).toEqual([
      {
        symbol: "AAPL",
        side: "buy",
        qty: "10",
        type: "limit",
        limit_price: "180.5",
        tif: "day",
        outside_rth: false,
        client_order_id: expect.stringMatching(/^ui-[0-9a-z]+$/),
      },
    ]);
  });

  it("asks before sending an order above the threshold, and Back sends nothing", async () => {
    const api = fakeApi({ status: 201, body: makeOrder({ id: 13, qty: "100", status: "filled" }) });
    renderTicket();
    fill("Quantity", "100");
    fireEvent.change(screen.getByLabelText("Order type"), { target: { value: "market" } });
    review();
    const dialog = await screen.findByRole("alertdialog");
    expect(dialog.textContent).toContain("BUY 100 AAPL market DAY");
    expect(dialog.textContent).toContain("Estimated value 18,915.00: above your confirmation threshold of 10,000.00");
    // Back has the focus: a second Enter does not place the order.
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Back" }));
    fireEvent.click(screen.getByRole("button", { name: "Back" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(api.fetchMock).not.toHaveBeenCalled();

    review();
    fireEvent.click(await screen.findByRole("button", { name: "Confirm buy" }));
    await screen.findByText(/Order #13 buy 100 AAPL: filled/);
    expect(api.fetchMock).toHaveBeenCalledTimes(1);
  });

  it("lists every term that is not the default in words before confirming", async () => {
    fakeApi();
    renderTicket();
    fill("Quantity", "100");
    fill("Limit price", "189.00");
    fireEvent.change(screen.getByLabelText("Time in force"), { target: { value: "gtc" } });
    fireEvent.click(screen.getByLabelText("Outside regular hours"));
    review();
    const terms = await screen.findByTestId("ticket-confirm-terms");
    expect(terms.textContent).toContain("Time in force: Good till cancelled.");
    expect(terms.textContent).toContain("Also outside regular trading hours.");
  });

  it("puts TIF and outside-RTH back to their defaults after an order, unless kept", async () => {
    fakeApi(
      { status: 201, body: makeOrder({ id: 21, qty: "1", status: "submitted" }) },
      { status: 201, body: makeOrder({ id: 22, qty: "1", status: "submitted" }) },
    );
    renderTicket();
    const tif = () => (screen.getByLabelText("Time in force") as HTMLSelectElement).value;
    const rth = () => (screen.getByLabelText("Outside regular hours") as HTMLInputElement).checked;
    fill("Quantity", "1");
    fill("Limit price", "180.00");
    fireEvent.change(screen.getByLabelText("Time in force"), { target: { value: "gtc" } });
    fireEvent.click(screen.getByLabelText("Outside regular hours"));
    review();
    await screen.findByText(/Order #21/);
    expect([tif(), rth()]).toEqual(["day", false]);

    fireEvent.change(screen.getByLabelText("Time in force"), { target: { value: "gtc" } });
    fireEvent.click(screen.getByLabelText("Outside regular hours"));
    fireEvent.click(screen.getByLabelText("Keep both for the next order"));
    review();
    await screen.findByText(/Order #22/);
    expect([tif(), rth()]).toEqual(["gtc", true]);
  });

  it("catches a symbol the broker does not know as it is typed, before any confirmation", async () => {
    const posted: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (request: Request) => {
        const url = new URL(request.url);
        if (request.method === "POST") posted.push(url.pathname);
        const body =
          url.pathname === "/api/v1/marketdata/quotes"
            ? { quotes: [], errors: [{ symbol: "APPL", code: "UNKNOWN_SYMBOL", message: "not known to the broker" }] }
            : {};
        return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
      }),
    );
    renderTicket();
    fill("Symbol", "APPL");
    fill("Quantity", "100");
    fireEvent.change(screen.getByLabelText("Order type"), { target: { value: "market" } });
    expect(await screen.findByText("APPL: not known to the broker.")).toBeTruthy();
    review();
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(posted).toEqual([]);
  });

  it("shows its own checks beside the fields without calling the API", () => {
    const api = fakeApi();
    renderTicket();
    fill("Quantity", "0");
    review();
    const qty = screen.getByLabelText("Quantity");
    expect(qty.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(qty.getAttribute("aria-describedby")!)!.textContent).toBe(
      "A quantity must be greater than 0.",
    );
    expect(screen.getByText("Enter a limit price.")).toBeTruthy();
    expect(api.fetchMock).not.toHaveBeenCalled();
  });

  it("shows the API's risk refusal beside the field it is about", async () => {
    fakeApi({
      status: 422,
      body: {
        error: {
          code: "RISK_REJECTED",
          message: "the order failed risk checks: max_order_value",
          details: [
            {
              check: "max_order_value",
              message: "order value 1805 is above the limit 100",
              limit: "100",
              value: "1805",
            },
          ],
          request_id: "r1",
        },
      },
    });
    renderTicket();
    fill("Quantity", "10");
    fill("Limit price", "180.5");
    review();
    const qty = screen.getByLabelText("Quantity");
    await waitFor(() => expect(qty.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(qty.getAttribute("aria-describedby")!)!.textContent).toBe(
      "Order value 1805 is above the limit 100.",
    );
    expect(screen.getByRole("alert").textContent).toBe("The order failed risk checks: max_order_value.");
  });

  it("retries with the same client order id when no answer came, a new one after a refusal", async () => {
    const refusal = {
      status: 409,
      body: { error: { code: "IDEMPOTENCY_CONFLICT", message: "conflict", details: [] } },
    };
    const api = fakeApi(new TypeError("network down"), refusal, { status: 201, body: makeOrder({ id: 14 }) });
    renderTicket();
    fill("Quantity", "1");
    fill("Limit price", "180");
    review();
    await screen.findByText(/Cannot reach the API \(network down\)/);
    review();
    await screen.findByText("Conflict.");
    review();
    await screen.findByText(/Order #14/);
    const ids = api.bodies.map((b) => b.client_order_id);
    expect(ids[0]).toBe(ids[1]); // the same order, maybe already at the API: the same key
    expect(ids[2]).not.toBe(ids[1]); // refused: a new try is a new order
  });

  it("is locked while trading is halted", () => {
    renderTicket("Trading is halted.");
    expect(screen.getByTestId("ticket-disabled").textContent).toBe("Trading is halted.");
    // Inside a disabled fieldset: disabled for the browser, whatever the element's own flag.
    expect(screen.getByLabelText("Quantity").matches(":disabled")).toBe(true);
    expect(screen.getByRole("button", { name: "Review & buy" }).matches(":disabled")).toBe(true);
  });
});
