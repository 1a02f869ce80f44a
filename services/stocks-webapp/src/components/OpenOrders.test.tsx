import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../hooks/auth";
import { makeOrder } from "../test/factories";
import { OpenOrders } from "./OpenOrders";

const LIMIT = makeOrder({ id: 7, type: "limit", qty: "10", filled_qty: "4", status: "partially_filled" });
const MARKET = makeOrder({ id: 8, type: "market", limit_price: null, status: "submitted" });

function serve() {
  const changes: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      if (request.method !== "GET") changes.push(`${request.method} ${new URL(request.url).pathname}`);
      const body = { items: [LIMIT, MARKET], next_cursor: null };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }),
  );
  return changes;
}

function renderOrders() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider baseUrl="http://api.test">
        <OpenOrders tradingLocked={false} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("OpenOrders", () => {
  it("offers Modify for a limit order but not for a market order", async () => {
    serve();
    renderOrders();
    expect(await screen.findByRole("button", { name: "Modify order 7" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Cancel order 8" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Modify order 8" })).toBeNull();
  });

  it("checks a modification before sending it: no quantity of 0 or at or under the filled", async () => {
    const changes = serve();
    renderOrders();
    fireEvent.click(await screen.findByRole("button", { name: "Modify order 7" }));
    const qty = screen.getByLabelText("Qty");
    fireEvent.change(qty, { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Quantity and prices must be above 0.");
    fireEvent.change(qty, { target: { value: "4" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByRole("alert").textContent).toBe("The quantity must be above the 4 already filled.");
    expect(changes).toEqual([]);
  });
});
