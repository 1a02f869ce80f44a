/** The confirmation step of an order above the threshold (or of unknown value). */
import { useEffect, useRef } from "react";
import type { OrderCreate } from "../../api/types";
import type { StagedOrder } from "../../hooks/useOrderTicket";
import { toFixedString } from "../../lib/decimal";
import { formatMoney, formatPrice, formatQty, humanize } from "../../lib/format";

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

export interface ConfirmOrderProps {
  staged: StagedOrder;
  confirmAbove: string;
  pending: boolean;
  onConfirm: () => void;
  onBack: () => void;
}

export function ConfirmOrder({ staged, confirmAbove, pending, onConfirm, onBack }: ConfirmOrderProps) {
  const confirmRef = useRef<HTMLButtonElement | null>(null);
  useEffect(() => {
    confirmRef.current?.focus();
  }, [staged]);

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
        {staged.value
          ? `Estimated value ${formatMoney(toFixedString(staged.value))}: above your confirmation threshold of ${formatMoney(confirmAbove)}.`
          : "Its value cannot be estimated (no quote yet)."}
      </p>
      <div className="button-row">
        <button
          ref={confirmRef}
          type="button"
          className={`button-primary ${staged.order.side === "buy" ? "button-buy" : "button-sell"}`}
          onClick={onConfirm}
          disabled={pending}
        >
          Confirm {staged.order.side}
        </button>
        <button type="button" className="button-secondary" onClick={onBack}>
          Back
        </button>
      </div>
    </div>
  );
}
