/**
 * The order ticket: every order type the API takes (market, limit, stop, stop-limit,
 * trailing; brackets), TIF and outside-RTH. Mistakes show beside their field, the API's
 * validation and risk errors too; orders above the confirmation threshold (or of unknown
 * value) need a second, explicit step. Plain form controls: usable by keyboard alone.
 *
 * Its state, checks, idempotency key and sending are in hooks/useOrderTicket; this puts the
 * parts (components/ticket/) together and moves the focus.
 */
import { useEffect, useRef, type FormEvent } from "react";
import type { QuoteRead } from "../api/types";
import { firstErrorField, useOrderTicket } from "../hooks/useOrderTicket";
import { formatQty, humanize } from "../lib/format";
import type { TicketErrors } from "../lib/ticket";
import { ConfirmOrder } from "./ticket/ConfirmOrder";
import { OrderFields } from "./ticket/OrderFields";
import { errorId, FIELD_INPUT } from "./ticket/TicketField";
import { TicketSettings } from "./ticket/TicketSettings";
import { Panel } from "./ui";

export interface OrderTicketProps {
  symbol: string | null;
  symbols: readonly string[];
  quotes: ReadonlyMap<string, QuoteRead>;
  /** Why orders cannot be placed now (halted, standby, ...), or null. */
  disabledReason: string | null;
  /** Shown but not blocking (e.g. reducing-only). */
  notice: string | null;
  /** The symbol being traded, once the API knows it (the chart follows it). */
  onSymbol?: (symbol: string) => void;
}

function focusFirstError(found: TicketErrors): void {
  const first = firstErrorField(found);
  if (!first) return;
  // After React has rendered the messages.
  requestAnimationFrame(() => document.getElementById(FIELD_INPUT[first])?.focus());
}

export function OrderTicket({ symbol, symbols, quotes, disabledReason, notice, onSymbol }: OrderTicketProps) {
  const disabled = disabledReason !== null;
  const ticket = useOrderTicket({ symbol, quotes, disabled, onErrors: focusFirstError });
  const known = ticket.knownSymbol;
  useEffect(() => {
    if (known) onSymbol?.(known);
  }, [known, onSymbol]);
  const { errors, staged, placed } = ticket;
  const formRef = useRef<HTMLFormElement | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    ticket.submit();
  };

  const back = () => {
    ticket.back();
    requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>("button[type=submit]")?.focus());
  };

  return (
    <Panel title="Order ticket" className="ticket" id="order-ticket">
      {disabledReason ? (
        <p className="state state-blocked" role="status" data-testid="ticket-disabled">
          {disabledReason}
        </p>
      ) : null}
      {notice ? <p className="state state-stale">{notice}</p> : null}
      <form
        ref={formRef}
        onSubmit={submit}
        noValidate
        aria-describedby={errors.form ? errorId("form") : undefined}
        data-testid="order-ticket"
      >
        {errors.form ? (
          <div className="form-error" id={errorId("form")} role="alert" tabIndex={-1} data-field="form">
            {errors.form}
          </div>
        ) : null}
        <OrderFields
          form={ticket.form}
          errors={errors}
          symbols={symbols}
          quote={ticket.quote}
          value={ticket.value}
          update={ticket.update}
          locked={disabled}
          staged={staged !== null}
          pending={ticket.pending}
        />
      </form>

      {staged ? (
        <ConfirmOrder
          staged={staged}
          liveValue={ticket.value}
          confirmAbove={ticket.confirmAbove}
          pending={ticket.pending}
          onConfirm={ticket.confirm}
          onBack={back}
        />
      ) : null}

      {placed ? (
        <p className="state state-success" role="status" data-testid="ticket-result">
          Order #{placed.id} {placed.side} {formatQty(placed.qty)} {placed.symbol}: {humanize(placed.status)}
          {placed.status === "rejected" && placed.reject_reason ? ` (${placed.reject_reason})` : ""}.
          {placed.notice ? ` It ${placed.notice}.` : ""}
        </p>
      ) : null}

      <TicketSettings confirmAbove={ticket.confirmAbove} onChange={ticket.setConfirmAbove} />
    </Panel>
  );
}
