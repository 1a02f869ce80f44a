/** The ticket's fields: symbol, side, quantity, type and prices, TIF, bracket legs, and send. */
import type { QuoteRead } from "../../api/types";
import type { OrderTicketState } from "../../hooks/useOrderTicket";
import { toFixedString, type Decimal } from "../../lib/decimal";
import { formatMoney, formatPrice } from "../../lib/format";
import {
  allowsIoc,
  needsLimit,
  needsStop,
  ORDER_TYPES,
  TIFS,
  type TicketErrors,
  type TicketForm,
} from "../../lib/ticket";
import { DecimalField, Field, FIELD_INPUT, invalidProps } from "./TicketField";

export interface OrderFieldsProps {
  form: TicketForm;
  errors: TicketErrors;
  symbols: readonly string[];
  quote: QuoteRead | undefined;
  value: Decimal | null;
  update: OrderTicketState["update"];
  /** Orders cannot be placed now. */
  locked: boolean;
  /** An order waits for confirmation. */
  staged: boolean;
  /** An order is on its way. */
  pending: boolean;
}

export function OrderFields({
  form,
  errors,
  symbols,
  quote,
  value,
  update,
  locked,
  staged,
  pending,
}: OrderFieldsProps) {
  const sideClass = form.side === "buy" ? "button-buy" : "button-sell";
  return (
    <fieldset disabled={locked || staged || pending} className="ticket-fields">
      <legend className="visually-hidden">Order</legend>
      <Field field="symbol" label="Symbol" errors={errors}>
        <input
          id={FIELD_INPUT.symbol}
          value={form.symbol}
          onChange={(e) => update("symbol", e.target.value.toUpperCase(), ["symbol", "form"])}
          list="ticket-symbols"
          autoComplete="off"
          spellCheck={false}
          {...invalidProps("symbol", errors)}
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
        <DecimalField
          field="qty"
          label="Quantity"
          value={form.qty}
          errors={errors}
          onChange={(text) => update("qty", text, ["qty", "form"])}
        />
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
            <DecimalField
              field="stop_price"
              label="Stop price"
              value={form.stopPrice}
              errors={errors}
              onChange={(text) => update("stopPrice", text, ["stop_price", "form"])}
            />
          ) : null}
          {needsLimit(form.type) ? (
            <DecimalField
              field="limit_price"
              label="Limit price"
              value={form.limitPrice}
              errors={errors}
              onChange={(text) => update("limitPrice", text, ["limit_price", "form"])}
            />
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
          <DecimalField
            field="trail"
            label={form.trailMode === "percent" ? "Trail (%)" : "Trail amount"}
            value={form.trail}
            errors={errors}
            onChange={(text) => update("trail", text, ["trail", "form"])}
          />
        </div>
      ) : null}

      <div className="field-row">
        <Field field="tif" label="Time in force" errors={errors}>
          <select
            id={FIELD_INPUT.tif}
            value={form.tif}
            onChange={(e) => update("tif", e.target.value as TicketForm["tif"], ["tif", "form"])}
            {...invalidProps("tif", errors)}
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
        <div className="field field-check">
          <input
            type="checkbox"
            id="ticket-keep-terms"
            checked={form.keepTerms}
            onChange={(e) => update("keepTerms", e.target.checked)}
          />
          <label htmlFor="ticket-keep-terms">Keep both for the next order</label>
        </div>
      </div>

      <BracketFields form={form} errors={errors} update={update} />

      <p className="estimate" data-testid="ticket-estimate">
        Estimated value: <span className="num">{value ? formatMoney(toFixedString(value)) : "—"}</span>
      </p>

      <button type="submit" className={`button-primary ${sideClass}`} disabled={locked || pending}>
        {pending ? "Sending…" : form.side === "buy" ? "Review & buy" : "Review & sell"}
      </button>
    </fieldset>
  );
}

/** The bracket switch and, when on, its take-profit and stop-loss legs. */
function BracketFields({ form, errors, update }: Pick<OrderFieldsProps, "form" | "errors" | "update">) {
  return (
    <>
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
          <DecimalField
            field="take_profit.limit_price"
            label="Take-profit limit"
            value={form.takeProfit}
            errors={errors}
            onChange={(text) => update("takeProfit", text, ["take_profit.limit_price", "form"])}
          />
          <DecimalField
            field="stop_loss.stop_price"
            label="Stop-loss stop"
            value={form.stopLoss}
            errors={errors}
            onChange={(text) => update("stopLoss", text, ["stop_loss.stop_price", "form"])}
          />
          <DecimalField
            field="stop_loss.limit_price"
            label="Stop-loss limit (optional)"
            value={form.stopLossLimit}
            errors={errors}
            onChange={(text) => update("stopLossLimit", text, ["stop_loss.limit_price", "form"])}
          />
        </div>
      ) : null}
    </>
  );
}
