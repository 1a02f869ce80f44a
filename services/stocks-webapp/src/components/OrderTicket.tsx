/**
 * The order ticket: every order type the API takes (market, limit, stop, stop-limit,
 * trailing; brackets), TIF and outside-RTH. Mistakes show beside their field, the API's
 * validation and risk errors too; orders above the confirmation threshold (or of unknown
 * value) need a second, explicit step. Plain form controls: usable by keyboard alone.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { ApiError } from "../api/errors";
import type { OrderCreate, OrderRead, QuoteRead } from "../api/types";
import { DEFAULT_CONFIRM_ABOVE } from "../config";
import { usePlaceOrder } from "../hooks/queries";
import { isString, usePreference } from "../hooks/usePreference";
import { isPlainDecimal, toFixedString, type Decimal } from "../lib/decimal";
import { formatMoney, formatPrice, formatQty, humanize } from "../lib/format";
import {
  allowsIoc,
  EMPTY_TICKET,
  estimatedValue,
  needsConfirmation,
  needsLimit,
  needsStop,
  ORDER_TYPES,
  ticketErrorsFromApi,
  TIFS,
  validateTicket,
  type TicketErrors,
  type TicketField,
  type TicketForm,
} from "../lib/ticket";
import { Panel } from "./ui";

/** Which form control shows each field's error (and gets focus when it is wrong). */
const FIELD_INPUT: Record<TicketField, string> = {
  symbol: "ticket-symbol",
  side: "ticket-side-buy",
  qty: "ticket-qty",
  type: "ticket-type",
  limit_price: "ticket-limit",
  stop_price: "ticket-stop",
  trail: "ticket-trail",
  tif: "ticket-tif",
  outside_rth: "ticket-rth",
  "take_profit.limit_price": "ticket-tp",
  "stop_loss.stop_price": "ticket-sl",
  "stop_loss.limit_price": "ticket-sl-limit",
  form: "ticket-form",
};

const FIELD_ORDER: readonly TicketField[] = [
  "form",
  "symbol",
  "side",
  "qty",
  "type",
  "limit_price",
  "stop_price",
  "trail",
  "tif",
  "outside_rth",
  "take_profit.limit_price",
  "stop_loss.stop_price",
  "stop_loss.limit_price",
];

function errorId(field: TicketField): string {
  return `${FIELD_INPUT[field]}-error`;
}

function newClientOrderId(): string {
  const random = globalThis.crypto?.randomUUID?.().replace(/-/g, "") ?? Math.random().toString(36).slice(2);
  return `ui-${random.slice(0, 24)}`;
}

function describeOrder(order: OrderCreate): string {
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

function Field({
  field,
  label,
  errors,
  children,
  hint,
}: {
  field: TicketField;
  label: string;
  errors: TicketErrors;
  children: ReactNode;
  hint?: ReactNode;
}) {
  return (
    <div className={`field ${errors[field] ? "field-invalid" : ""}`}>
      <label htmlFor={FIELD_INPUT[field]}>{label}</label>
      {children}
      {hint ? <p className="field-hint">{hint}</p> : null}
      {errors[field] ? (
        <p className="field-error" id={errorId(field)} data-field={field}>
          {errors[field]}
        </p>
      ) : null}
    </div>
  );
}

interface Staged {
  order: OrderCreate;
  value: Decimal | null;
}

export interface OrderTicketProps {
  symbol: string | null;
  symbols: readonly string[];
  quotes: ReadonlyMap<string, QuoteRead>;
  /** Why orders cannot be placed now (halted, standby, ...), or null. */
  disabledReason: string | null;
  /** Shown but not blocking (e.g. reducing-only). */
  notice: string | null;
}

export function OrderTicket({ symbol, symbols, quotes, disabledReason, notice }: OrderTicketProps) {
  const [form, setForm] = useState<TicketForm>({ ...EMPTY_TICKET, symbol: symbol ?? "" });
  const [errors, setErrors] = useState<TicketErrors>({});
  const [attempted, setAttempted] = useState(false);
  const [staged, setStaged] = useState<Staged | null>(null);
  const [placed, setPlaced] = useState<OrderRead | null>(null);
  const [confirmAbove, setConfirmAbove] = usePreference("confirmAbove", DEFAULT_CONFIRM_ABOVE, isString);
  const place = usePlaceOrder();
  const clientOrderId = useRef<string | null>(null);
  const formRef = useRef<HTMLFormElement | null>(null);
  const confirmRef = useRef<HTMLButtonElement | null>(null);

  // Picking a symbol elsewhere (watchlist, positions) fills it in (adjusted while
  // rendering, as React recommends for state that follows a prop).
  const [followedSymbol, setFollowedSymbol] = useState(symbol);
  if (symbol !== followedSymbol) {
    setFollowedSymbol(symbol);
    if (symbol) setForm((f) => (f.symbol === symbol ? f : { ...f, symbol }));
  }

  useEffect(() => {
    if (staged) confirmRef.current?.focus();
  }, [staged]);

  const quote = quotes.get(form.symbol.trim().toUpperCase());
  const preview = validateTicket(form);
  const value = preview.order ? estimatedValue(preview.order, quote) : null;
  const disabled = disabledReason !== null;

  const focusFirstError = (found: TicketErrors) => {
    const first = FIELD_ORDER.find((f) => found[f]);
    if (!first) return;
    // After React has rendered the messages.
    requestAnimationFrame(() => document.getElementById(FIELD_INPUT[first])?.focus());
  };

  const update = <K extends keyof TicketForm>(key: K, value: TicketForm[K], fields: TicketField[] = []) => {
    setForm((f) => {
      const next = { ...f, [key]: value };
      if (key === "type" && next.tif === "ioc" && !allowsIoc(next.type)) next.tif = "day";
      return next;
    });
    clientOrderId.current = null; // a different order: a new idempotency key
    setPlaced(null);
    if (attempted) {
      // Re-check as the trader types, once they have tried to send it.
      setErrors((old) => {
        const { errors: fresh } = validateTicket({ ...form, [key]: value });
        const kept: TicketErrors = {};
        for (const f of FIELD_ORDER) if (f !== "form" && !fields.includes(f) && old[f] && !fresh[f]) kept[f] = old[f];
        return { ...kept, ...fresh };
      });
    } else if (fields.length > 0) {
      setErrors((old) => {
        const next = { ...old };
        for (const f of fields) delete next[f];
        return next;
      });
    }
  };

  const send = (order: OrderCreate) => {
    clientOrderId.current ??= newClientOrderId();
    place.mutate(
      { ...order, client_order_id: clientOrderId.current },
      {
        onSuccess: (result) => {
          setPlaced(result);
          setStaged(null);
          setErrors({});
          setAttempted(false);
          clientOrderId.current = null;
        },
        onError: (error) => {
          const found = ticketErrorsFromApi(error, order.type);
          setStaged(null);
          setErrors(found);
          focusFirstError(found);
          // A refusal (4xx) is final for this key: a replay would get the same answer, so the
          // next try needs a new one. Without an answer (network, 5xx) the order may exist:
          // a retry keeps the key, and the API answers it as a replay instead of trading twice.
          const answered = error instanceof ApiError && error.status >= 400 && error.status < 500;
          if (answered) clientOrderId.current = null;
        },
      },
    );
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (disabled || place.isPending) return;
    setAttempted(true);
    setPlaced(null);
    const { order, errors: found } = validateTicket(form);
    setErrors(found);
    if (!order) {
      focusFirstError(found);
      return;
    }
    const orderValue = estimatedValue(order, quote);
    if (needsConfirmation(orderValue, confirmAbove)) setStaged({ order, value: orderValue });
    else send(order);
  };

  const back = () => {
    setStaged(null);
    requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>("button[type=submit]")?.focus());
  };

  const sideClass = form.side === "buy" ? "button-buy" : "button-sell";
  const thresholdValid = isPlainDecimal(confirmAbove);

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
        <fieldset disabled={disabled || staged !== null || place.isPending} className="ticket-fields">
          <legend className="visually-hidden">Order</legend>
          <Field field="symbol" label="Symbol" errors={errors}>
            <input
              id={FIELD_INPUT.symbol}
              value={form.symbol}
              onChange={(e) => update("symbol", e.target.value.toUpperCase(), ["symbol", "form"])}
              list="ticket-symbols"
              autoComplete="off"
              spellCheck={false}
              aria-invalid={errors.symbol ? true : undefined}
              aria-describedby={errors.symbol ? errorId("symbol") : undefined}
            />
            <datalist id="ticket-symbols">
              {symbols.map((s) => (
                <option key={s} value={s} />
              ))}
            </datalist>
          </Field>
          {quote ? (
            <p className="quote-line num" aria-live="off" data-testid="ticket-quote">
              Bid {formatPrice(quote.bid)} · Ask {formatPrice(quote.ask)} · Last {formatPrice(quote.last)}
            </p>
          ) : null}

          <fieldset className="side-group">
            <legend>Side</legend>
            <div className="side-options">
              {(["buy", "sell"] as const).map((side) => (
                <label key={side} className={`side side-${side} ${form.side === side ? "checked" : ""}`}>
                  <input
                    type="radio"
                    name="ticket-side"
                    id={`ticket-side-${side}`}
                    value={side}
                    checked={form.side === side}
                    onChange={() => update("side", side, ["side"])}
                  />
                  {side === "buy" ? "Buy" : "Sell"}
                </label>
              ))}
            </div>
          </fieldset>

          <div className="field-row">
            <Field field="qty" label="Quantity" errors={errors}>
              <input
                id={FIELD_INPUT.qty}
                value={form.qty}
                onChange={(e) => update("qty", e.target.value, ["qty", "form"])}
                inputMode="decimal"
                autoComplete="off"
                className="num"
                aria-invalid={errors.qty ? true : undefined}
                aria-describedby={errors.qty ? errorId("qty") : undefined}
              />
            </Field>
            <Field field="type" label="Order type" errors={errors}>
              <select
                id={FIELD_INPUT.type}
                value={form.type}
                onChange={(e) =>
                  update("type", e.target.value as TicketForm["type"], [
                    "type",
                    "limit_price",
                    "stop_price",
                    "trail",
                    "tif",
                    "form",
                  ])
                }
              >
                {ORDER_TYPES.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </select>
            </Field>
          </div>

          {needsStop(form.type) || needsLimit(form.type) ? (
            <div className="field-row">
              {needsStop(form.type) ? (
                <Field field="stop_price" label="Stop price" errors={errors}>
                  <input
                    id={FIELD_INPUT.stop_price}
                    value={form.stopPrice}
                    onChange={(e) => update("stopPrice", e.target.value, ["stop_price", "form"])}
                    inputMode="decimal"
                    autoComplete="off"
                    className="num"
                    aria-invalid={errors.stop_price ? true : undefined}
                    aria-describedby={errors.stop_price ? errorId("stop_price") : undefined}
                  />
                </Field>
              ) : null}
              {needsLimit(form.type) ? (
                <Field field="limit_price" label="Limit price" errors={errors}>
                  <input
                    id={FIELD_INPUT.limit_price}
                    value={form.limitPrice}
                    onChange={(e) => update("limitPrice", e.target.value, ["limit_price", "form"])}
                    inputMode="decimal"
                    autoComplete="off"
                    className="num"
                    aria-invalid={errors.limit_price ? true : undefined}
                    aria-describedby={errors.limit_price ? errorId("limit_price") : undefined}
                  />
                </Field>
              ) : null}
            </div>
          ) : null}

          {form.type === "trailing_stop" ? (
            <div className="field-row">
              <div className="field">
                <label htmlFor="ticket-trail-mode">Trail by</label>
                <select
                  id="ticket-trail-mode"
                  value={form.trailMode}
                  onChange={(e) => update("trailMode", e.target.value as TicketForm["trailMode"], ["trail"])}
                >
                  <option value="amount">Amount</option>
                  <option value="percent">Percent</option>
                </select>
              </div>
              <Field field="trail" label={form.trailMode === "percent" ? "Trail (%)" : "Trail amount"} errors={errors}>
                <input
                  id={FIELD_INPUT.trail}
                  value={form.trail}
                  onChange={(e) => update("trail", e.target.value, ["trail", "form"])}
                  inputMode="decimal"
                  autoComplete="off"
                  className="num"
                  aria-invalid={errors.trail ? true : undefined}
                  aria-describedby={errors.trail ? errorId("trail") : undefined}
                />
              </Field>
            </div>
          ) : null}

          <div className="field-row">
            <Field field="tif" label="Time in force" errors={errors}>
              <select
                id={FIELD_INPUT.tif}
                value={form.tif}
                onChange={(e) => update("tif", e.target.value as TicketForm["tif"], ["tif", "form"])}
                aria-invalid={errors.tif ? true : undefined}
                aria-describedby={errors.tif ? errorId("tif") : undefined}
              >
                {TIFS.map((t) => (
                  <option key={t.value} value={t.value} disabled={t.value === "ioc" && !allowsIoc(form.type)}>
                    {t.label}
                  </option>
                ))}
              </select>
            </Field>
            <div className="field field-check">
              <input
                type="checkbox"
                id={FIELD_INPUT.outside_rth}
                checked={form.outsideRth}
                onChange={(e) => update("outsideRth", e.target.checked, ["outside_rth"])}
              />
              <label htmlFor={FIELD_INPUT.outside_rth}>Outside regular hours</label>
            </div>
          </div>

          <div className="field field-check">
            <input
              type="checkbox"
              id="ticket-bracket"
              checked={form.bracket}
              onChange={(e) =>
                update("bracket", e.target.checked, [
                  "take_profit.limit_price",
                  "stop_loss.stop_price",
                  "stop_loss.limit_price",
                ])
              }
            />
            <label htmlFor="ticket-bracket">Bracket: attach take-profit and/or stop-loss</label>
          </div>
          {form.bracket ? (
            <div className="field-row bracket-row">
              <Field field="take_profit.limit_price" label="Take-profit limit" errors={errors}>
                <input
                  id={FIELD_INPUT["take_profit.limit_price"]}
                  value={form.takeProfit}
                  onChange={(e) => update("takeProfit", e.target.value, ["take_profit.limit_price", "form"])}
                  inputMode="decimal"
                  autoComplete="off"
                  className="num"
                  aria-invalid={errors["take_profit.limit_price"] ? true : undefined}
                  aria-describedby={errors["take_profit.limit_price"] ? errorId("take_profit.limit_price") : undefined}
                />
              </Field>
              <Field field="stop_loss.stop_price" label="Stop-loss stop" errors={errors}>
                <input
                  id={FIELD_INPUT["stop_loss.stop_price"]}
                  value={form.stopLoss}
                  onChange={(e) => update("stopLoss", e.target.value, ["stop_loss.stop_price", "form"])}
                  inputMode="decimal"
                  autoComplete="off"
                  className="num"
                  aria-invalid={errors["stop_loss.stop_price"] ? true : undefined}
                  aria-describedby={errors["stop_loss.stop_price"] ? errorId("stop_loss.stop_price") : undefined}
                />
              </Field>
              <Field field="stop_loss.limit_price" label="Stop-loss limit (optional)" errors={errors}>
                <input
                  id={FIELD_INPUT["stop_loss.limit_price"]}
                  value={form.stopLossLimit}
                  onChange={(e) => update("stopLossLimit", e.target.value, ["stop_loss.limit_price", "form"])}
                  inputMode="decimal"
                  autoComplete="off"
                  className="num"
                  aria-invalid={errors["stop_loss.limit_price"] ? true : undefined}
                  aria-describedby={errors["stop_loss.limit_price"] ? errorId("stop_loss.limit_price") : undefined}
                />
              </Field>
            </div>
          ) : null}

          <p className="estimate" data-testid="ticket-estimate">
            Estimated value: <span className="num">{value ? formatMoney(toFixedString(value)) : "—"}</span>
          </p>

          <button type="submit" className={`button-primary ${sideClass}`} disabled={disabled || place.isPending}>
            {place.isPending ? "Sending…" : form.side === "buy" ? "Review & buy" : "Review & sell"}
          </button>
        </fieldset>
      </form>

      {staged ? (
        <div
          className="confirm"
          role="alertdialog"
          aria-labelledby="ticket-confirm-title"
          aria-describedby="ticket-confirm-text"
          data-testid="ticket-confirm"
          onKeyDown={(e) => {
            if (e.key === "Escape") back();
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
              onClick={() => send(staged.order)}
              disabled={place.isPending}
            >
              Confirm {staged.order.side}
            </button>
            <button type="button" className="button-secondary" onClick={back}>
              Back
            </button>
          </div>
        </div>
      ) : null}

      {placed ? (
        <p className="state state-success" role="status" data-testid="ticket-result">
          Order #{placed.id} {placed.side} {formatQty(placed.qty)} {placed.symbol}: {humanize(placed.status)}
          {placed.status === "rejected" && placed.reject_reason ? ` (${placed.reject_reason})` : ""}.
        </p>
      ) : null}

      <details className="ticket-settings">
        <summary>Ticket settings</summary>
        <div className="field">
          <label htmlFor="ticket-confirm-above">Confirm orders worth more than</label>
          <input
            id="ticket-confirm-above"
            value={confirmAbove}
            onChange={(e) => setConfirmAbove(e.target.value.trim())}
            inputMode="decimal"
            className="num"
            aria-invalid={thresholdValid ? undefined : true}
            aria-describedby="ticket-confirm-above-hint"
          />
          <p className="field-hint" id="ticket-confirm-above-hint">
            {thresholdValid
              ? "Orders of unknown value (no quote yet) always ask."
              : "Not a number: every order asks for confirmation."}
          </p>
        </div>
      </details>
    </Panel>
  );
}
