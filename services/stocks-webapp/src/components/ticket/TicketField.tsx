/** One labelled field of the order ticket, its error beside it, and the ids that tie them. */
import type { ReactNode } from "react";
import type { TicketErrors, TicketField } from "../../lib/ticket";

/** Which form control shows each field's error (and gets focus when it is wrong). */
export const FIELD_INPUT: Record<TicketField, string> = {
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

export function errorId(field: TicketField): string {
  return `${FIELD_INPUT[field]}-error`;
}

/** The attributes that mark a control as wrong and point at its message. */
export function invalidProps(field: TicketField, errors: TicketErrors) {
  return {
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": errors[field] ? errorId(field) : undefined,
  } as const;
}

export function Field({
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

/** A decimal text field (quantity, prices, trail) with its label and error. */
export function DecimalField({
  field,
  label,
  value,
  errors,
  onChange,
}: {
  field: TicketField;
  label: string;
  value: string;
  errors: TicketErrors;
  onChange: (text: string) => void;
}) {
  return (
    <Field field={field} label={label} errors={errors}>
      <input
        id={FIELD_INPUT[field]}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        inputMode="decimal"
        autoComplete="off"
        className="num"
        {...invalidProps(field, errors)}
      />
    </Field>
  );
}
