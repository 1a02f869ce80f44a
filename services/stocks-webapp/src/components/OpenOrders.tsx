/** Working orders, live: modify (qty / limit / stop), cancel one, or cancel all with confirmation. */
import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import type { OrderRead, OrderUpdate } from "../api/types";
import { useCancelAll, useCancelOrder, useModifyOrder, useOpenOrders } from "../hooks/queries";
import { isPlainDecimal } from "../lib/decimal";
import { formatPrice, formatQty, humanize, MISSING } from "../lib/format";
import { Empty, QueryState, StatusBadge } from "./ui";
import { Time } from "./Time";

function ModifyForm({ order, onDone }: { order: OrderRead; onDone: () => void }) {
  const modify = useModifyOrder();
  const [qty, setQty] = useState(order.qty);
  const [limit, setLimit] = useState(order.limit_price ?? "");
  const [stop, setStop] = useState(order.stop_price ?? "");
  const [problem, setProblem] = useState<string | null>(null);
  const prefix = `modify-${order.id}`;

  const save = (event: FormEvent) => {
    event.preventDefault();
    const change: OrderUpdate = {};
    if (qty !== order.qty) change.qty = qty.trim();
    if (order.limit_price !== null && limit !== order.limit_price) change.limit_price = limit.trim();
    if (order.stop_price !== null && stop !== order.stop_price) change.stop_price = stop.trim();
    const values = [change.qty, change.limit_price, change.stop_price].filter(
      (v): v is string => typeof v === "string",
    );
    if (values.length === 0) return setProblem("Change the quantity or a price first.");
    if (values.some((v) => !isPlainDecimal(v))) return setProblem("Enter numbers like 10 or 190.25.");
    // Checked here, as the API would: nothing is sent that it must refuse.
    if (values.some((v) => Number(v) <= 0)) return setProblem("Quantity and prices must be above 0.");
    if (change.qty !== undefined && Number(change.qty) <= Number(order.filled_qty)) {
      return setProblem(`The quantity must be above the ${formatQty(order.filled_qty)} already filled.`);
    }
    setProblem(null);
    modify.mutate(
      { id: order.id, change },
      {
        onSuccess: onDone,
        onError: (error) => setProblem(describeError(error)),
      },
    );
  };

  return (
    <form className="modify-form" onSubmit={save} noValidate aria-label={`Modify order ${order.id}`}>
      <label htmlFor={`${prefix}-qty`}>Qty</label>
      <input
        id={`${prefix}-qty`}
        className="num"
        size={7}
        value={qty}
        onChange={(e) => setQty(e.target.value)}
        inputMode="decimal"
        autoFocus
      />
      {order.limit_price !== null ? (
        <>
          <label htmlFor={`${prefix}-limit`}>Limit</label>
          <input
            id={`${prefix}-limit`}
            className="num"
            size={8}
            value={limit}
            onChange={(e) => setLimit(e.target.value)}
            inputMode="decimal"
          />
        </>
      ) : null}
      {order.stop_price !== null ? (
        <>
          <label htmlFor={`${prefix}-stop`}>Stop</label>
          <input
            id={`${prefix}-stop`}
            className="num"
            size={8}
            value={stop}
            onChange={(e) => setStop(e.target.value)}
            inputMode="decimal"
          />
        </>
      ) : null}
      <button type="submit" className="button-secondary" disabled={modify.isPending}>
        Save
      </button>
      <button type="button" className="button-secondary" onClick={onDone}>
        Discard
      </button>
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}

export function OpenOrders({ tradingLocked }: { tradingLocked: boolean }) {
  const orders = useOpenOrders();
  const cancel = useCancelOrder();
  const cancelAll = useCancelAll();
  const [editing, setEditing] = useState<number | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const rows = orders.data?.items ?? [];

  return (
    <QueryState query={orders} what="open orders" hasData={Boolean(orders.data)}>
      <div className="toolbar">
        <span className="muted">{rows.length} open</span>
        {confirmAll ? (
          <span className="confirm-inline" role="group" aria-label="Confirm cancelling all open orders">
            Cancel all {rows.length} open orders?{" "}
            <button
              type="button"
              className="button-danger"
              autoFocus
              disabled={cancelAll.isPending}
              onClick={() =>
                cancelAll.mutate(undefined, {
                  onSettled: () => setConfirmAll(false),
                  onError: (e) => setCancelError(describeError(e)),
                  onSuccess: (r) =>
                    setCancelError(
                      r.failed && r.failed.length > 0 ? `${r.failed.length} could not be cancelled.` : null,
                    ),
                })
              }
            >
              Cancel all
            </button>{" "}
            <button type="button" className="button-secondary" onClick={() => setConfirmAll(false)}>
              Keep them
            </button>
          </span>
        ) : (
          <button
            type="button"
            className="button-secondary"
            disabled={rows.length === 0}
            onClick={() => {
              setCancelError(null);
              setConfirmAll(true);
            }}
          >
            Cancel all…
          </button>
        )}
      </div>
      {cancelError ? (
        <p className="state state-error" role="alert">
          {cancelError}
        </p>
      ) : null}
      {rows.length === 0 ? (
        <Empty>No open orders.</Empty>
      ) : (
        <div className="table-scroll">
          <table data-testid="open-orders-table">
            <thead>
              <tr>
                <th scope="col" className="num">
                  #
                </th>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col">Type</th>
                <th scope="col" className="num">
                  Qty
                </th>
                <th scope="col" className="num">
                  Filled
                </th>
                <th scope="col" className="num">
                  Limit
                </th>
                <th scope="col" className="num">
                  Stop
                </th>
                <th scope="col">TIF</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Placed
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <tr key={o.id} data-order-id={o.id}>
                  <td className="num">
                    {o.id}
                    {o.parent_id !== null ? <span className="muted small"> ↳{o.parent_id}</span> : null}
                  </td>
                  <th scope="row">{o.symbol}</th>
                  <td className={`side-text side-${o.side}`}>{o.side}</td>
                  <td>{humanize(o.type)}</td>
                  <td className="num">{formatQty(o.qty)}</td>
                  <td className="num">{formatQty(o.filled_qty)}</td>
                  <td className="num">{o.limit_price ? formatPrice(o.limit_price) : MISSING}</td>
                  <td className="num">{o.stop_price ? formatPrice(o.stop_price) : MISSING}</td>
                  <td>
                    {o.tif.toUpperCase()}
                    {o.outside_rth ? " +RTH" : ""}
                  </td>
                  <td>
                    <StatusBadge status={o.status} />
                  </td>
                  <td className="num">
                    <Time iso={o.created_at} />
                  </td>
                  <td className="actions">
                    {editing === o.id ? (
                      <ModifyForm order={o} onDone={() => setEditing(null)} />
                    ) : (
                      <>
                        {o.type === "market" ? null : (
                          // A market order has no price to change and fills at once (or waits
                          // for the open): nothing to modify.
                          <>
                            <button
                              type="button"
                              className="button-secondary"
                              aria-label={`Modify order ${o.id}`}
                              disabled={tradingLocked || o.status === "pending_cancel"}
                              onClick={() => setEditing(o.id)}
                            >
                              Modify
                            </button>{" "}
                          </>
                        )}
                        <button
                          type="button"
                          className="button-secondary"
                          aria-label={`Cancel order ${o.id}`}
                          disabled={o.status === "pending_cancel" || (cancel.isPending && cancel.variables === o.id)}
                          onClick={() => {
                            setCancelError(null);
                            cancel.mutate(o.id, {
                              onError: (e) => setCancelError(`Order ${o.id}: ${describeError(e)}`),
                            });
                          }}
                        >
                          Cancel
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </QueryState>
  );
}
