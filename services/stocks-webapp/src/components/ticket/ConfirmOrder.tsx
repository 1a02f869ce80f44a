/** The confirmation step of an order above the threshold (or of unknown value). */
import { useEffect, useRef } from "react";
import type { OrderCreate } from "../../api/types";
import type { StagedOrder } from "../../hooks/useOrderTicket";
import { type Decimal, toFixedString } from "../../lib/decimal";
import { formatMoney, formatPrice, formatQty, humanize } from "../../lib/format";
import { TIFS } from "../../lib/ticket";

export function describeOrder(order: OrderCreate): string {
  const parts = [order.side.toUpperCase(), formatQty(String(order.qty)), order.symbol, humanize(order.type)];
  if (order.limit_price != null) parts.push(`limit ${formatPrice(String(order.limit_price))}`);
  if (order.stop_price != null) parts.push(`stop ${formatPrice(String(order.stop_price))}`);
  if (order.trail_amount != null) parts.push(`trail ${formatPrice(String(order.trail_amount))}`);
  if (order.trail_percent != null) parts.push(`trail ${String(order.trail_percent)}%`);
  parts.push((order.tif ?? "day").toUpperCase());
  if (order.outside_rth) parts.push("outside RTH");
  if (order.take_profit) parts.push(`take-profit ${formatPrice(String(order.take_profit.limit_price))}`);
  if (order.stop_loss) parts.push(`stop-loss ${formatPrice(String(order.stop_loss.stop_price))}`);
  return parts.join(" ");
}

/** Every term that is not the default, in words (the one line above abbreviates them). */
export function describeTerms(order: OrderCreate): string[] {
  const terms: string[] = [];
  const tif = order.tif ?? "day";
  if (tif !== "day") terms.push(`Time in force: ${TIFS.find((t) => t.value === tif)?.label ?? tif}.`);
  if (order.outside_rth) terms.push("Also outside regular trading hours.");
  if (order.take_profit) terms.push(`Take-profit leg: limit ${formatPrice(String(order.take_profit.limit_price))}.`);
  if (order.stop_loss) {
    const limit = order.stop_loss.limit_price;
    terms.push(
      `Stop-loss leg: stop ${formatPrice(String(order.stop_loss.stop_price))}` +
        (limit != null ? `, limit ${formatPrice(String(limit))}.` : "."),
    );
  }
  return terms;
}

export interface ConfirmOrderProps {
  staged: StagedOrder;
  /** The ticket's estimate now (it follows the quote), shown instead of the staged one. */
  liveValue: Decimal | null;
  confirmAbove: string;
  pending: boolean;
  onConfirm: () => void;
  onBack: () => void;
}

export function ConfirmOrder({ staged, liveValue, confirmAbove, pending, onConfirm, onBack }: ConfirmOrderProps) {
  // The focus goes to Back, not Confirm: a second Enter (a double press) never places it.
  const backRef = useRef<HTMLButtonElement | null>(null);
  useEffect(() => {
    backRef.current?.focus();
  }, [staged]);
  const value = liveValue ?? staged.value;
  const terms = describeTerms(staged.order);

  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-labelledby="ticket-confirm-title"
      aria-describedby="ticket-confirm-text"
      data-testid="ticket-confirm"
      onKeyDown={(e) => {
        if (e.key === "Escape") onBack();
      }}
    >
      <h3 id="ticket-confirm-title">Confirm the order</h3>
      <p id="ticket-confirm-text">
        <strong>{describeOrder(staged.order)}</strong>
        <br />
        {value
          ? `Estimated value ${formatMoney(toFixedString(value))}: above your confirmation threshold of ${formatMoney(confirmAbove)}.`
          : "Its value cannot be estimated (no quote yet)."}
      </p>
      {terms.length ? (
        <ul className="confirm-terms" data-testid="ticket-confirm-terms">
          {terms.map((term) => (
            <li key={term}>{term}</li>
          ))}
        </ul>
      ) : null}
      <div className="button-row">
        <button
          type="button"
          className={`button-primary ${staged.order.side === "buy" ? "button-buy" : "button-sell"}`}
          onClick={onConfirm}
          disabled={pending}
        >
          Confirm {staged.order.side}
        </button>
        <button ref={backRef} type="button" className="button-secondary" onClick={onBack}>
          Back
        </button>
      </div>
    </div>
  );
}
