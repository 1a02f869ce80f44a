/** The ticket's settings: the value above which an order asks for confirmation. */
import { isPlainDecimal } from "../../lib/decimal";

export function TicketSettings({
  confirmAbove,
  onChange,
}: {
  confirmAbove: string;
  onChange: (value: string) => void;
}) {
  const thresholdValid = isPlainDecimal(confirmAbove);
  return (
    <details className="ticket-settings">
      <summary>Ticket settings</summary>
      <div className="field">
        <label htmlFor="ticket-confirm-above">Confirm orders worth more than</label>
        <input
          id="ticket-confirm-above"
          value={confirmAbove}
          onChange={(e) => onChange(e.target.value.trim())}
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
  );
}
