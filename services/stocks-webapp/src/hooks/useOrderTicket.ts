/**
 * The order ticket's state, apart from its markup: the form, its errors (the ticket's own
 * checks and the API's), the confirmation step for orders above the threshold (or of
 * unknown value), the idempotency key, and placing the order. The rules themselves are in
 * lib/ticket.ts; components/OrderTicket.tsx draws it.
 *
 * The idempotency key (`client_order_id`) belongs to one order: it is made when the order is
 * first sent and kept for every retry of it, so a retry after no answer is answered by the
 * API as a replay instead of trading twice. A change to the form, a success or a refusal
 * (4xx) ends it.
 */
import { useRef, useState } from "react";
import { ApiError } from "../api/errors";
import type { OrderCreate, OrderRead, QuoteRead } from "../api/types";
import { DEFAULT_CONFIRM_ABOVE } from "../config";
import type { Decimal } from "../lib/decimal";
import {
  allowsIoc,
  EMPTY_TICKET,
  estimatedValue,
  needsConfirmation,
  SYMBOL_RE,
  ticketErrorsFromApi,
  validateTicket,
  type TicketErrors,
  type TicketField,
  type TicketForm,
} from "../lib/ticket";
import { usePlaceOrder, useQuotes } from "./queries";
import { isString, usePreference } from "./usePreference";

/** The ticket's fields from top to bottom: the first wrong one gets the focus. */
export const FIELD_ORDER: readonly TicketField[] = [
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

export function firstErrorField(errors: TicketErrors): TicketField | undefined {
  return FIELD_ORDER.find((f) => errors[f]);
}

/** A new idempotency key: "ui-" and 24 random characters. */
export function newClientOrderId(): string {
  const random = globalThis.crypto?.randomUUID?.().replace(/-/g, "") ?? Math.random().toString(36).slice(2);
  return `ui-${random.slice(0, 24)}`;
}

/** An order waiting for the trader's confirmation, with its estimated value (null: unknown). */
export interface StagedOrder {
  order: OrderCreate;
  value: Decimal | null;
}

export interface UseOrderTicketOptions {
  /** The symbol picked elsewhere (watchlist, positions): the ticket follows it. */
  symbol: string | null;
  quotes: ReadonlyMap<string, QuoteRead>;
  /** Orders cannot be placed now (halted, standby, ...): submitting does nothing. */
  disabled: boolean;
  /** An attempt ended with these errors (the ticket's own or the API's), e.g. to focus the first. */
  onErrors?: (errors: TicketErrors) => void;
}

export interface OrderTicketState {
  form: TicketForm;
  errors: TicketErrors;
  /** The quote of the form's symbol, if followed. */
  quote: QuoteRead | undefined;
  /** The estimated value of the order as the form stands (null: invalid or unknown). */
  value: Decimal | null;
  /** The typed symbol once the API has quoted it (null: not known, or not yet). */
  knownSymbol: string | null;
  staged: StagedOrder | null;
  /** The order the API took last (cleared by any change). */
  placed: OrderRead | null;
  /** An order is on its way to the API. */
  pending: boolean;
  /** The confirmation threshold (a preference, kept in localStorage). */
  confirmAbove: string;
  setConfirmAbove: (value: string) => void;
  /** Change one field; `fields` are the errors the change answers (cleared, or re-checked). */
  update: <K extends keyof TicketForm>(key: K, value: TicketForm[K], fields?: TicketField[]) => void;
  /** Check the form, then send the order, or stage it for confirmation. */
  submit: () => void;
  /** Send the staged order. */
  confirm: () => void;
  /** Leave the confirmation step without sending. */
  back: () => void;
}

export function useOrderTicket({ symbol, quotes, disabled, onErrors }: UseOrderTicketOptions): OrderTicketState {
  const [form, setForm] = useState<TicketForm>({ ...EMPTY_TICKET, symbol: symbol ?? "" });
  const [errors, setErrors] = useState<TicketErrors>({});
  const [attempted, setAttempted] = useState(false);
  const [staged, setStaged] = useState<StagedOrder | null>(null);
  const [placed, setPlaced] = useState<OrderRead | null>(null);
  const [confirmAbove, setConfirmAbove] = usePreference("confirmAbove", DEFAULT_CONFIRM_ABOVE, isString);
  const place = usePlaceOrder();
  const clientOrderId = useRef<string | null>(null);

  // Picking a symbol elsewhere fills it in (adjusted while rendering, as React recommends
  // for state that follows a prop).
  const [followedSymbol, setFollowedSymbol] = useState(symbol);
  if (symbol !== followedSymbol) {
    setFollowedSymbol(symbol);
    if (symbol) setForm((f) => (f.symbol === symbol ? f : { ...f, symbol }));
  }

  // The typed symbol is looked up as it is typed (its quote, from the API): a symbol the
  // broker does not know is caught here, before any confirmation, and one off the
  // watchlist still gets an estimate.
  const typed = form.symbol.trim().toUpperCase();
  const lookup = useQuotes(SYMBOL_RE.test(typed) && !quotes.has(typed) ? [typed] : []);
  const looked = lookup.data && !lookup.isPlaceholderData ? lookup.data : undefined;
  const quote = quotes.get(typed) ?? looked?.quotes.find((q) => q.symbol === typed);
  const unknownSymbol = looked?.errors?.find((e) => e.symbol === typed)?.message ?? null;
  const preview = validateTicket(form);
  const value = preview.order ? estimatedValue(preview.order, quote) : null;

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
          // An order's unusual terms must not ride along silently into the next one.
          setForm((f) => (f.keepTerms ? f : { ...f, tif: EMPTY_TICKET.tif, outsideRth: EMPTY_TICKET.outsideRth }));
          setStaged(null);
          setErrors({});
          setAttempted(false);
          clientOrderId.current = null;
        },
        onError: (error) => {
          const found = ticketErrorsFromApi(error, order.type);
          setStaged(null);
          setErrors(found);
          onErrors?.(found);
          // A refusal (4xx) is final for this key: a replay would get the same answer, so the
          // next try needs a new one. Without an answer (network, 5xx) the order may exist:
          // a retry keeps the key, and the API answers it as a replay instead of trading twice.
          const answered = error instanceof ApiError && error.status >= 400 && error.status < 500;
          if (answered) clientOrderId.current = null;
        },
      },
    );
  };

  const submit = () => {
    if (disabled || place.isPending) return;
    setAttempted(true);
    setPlaced(null);
    const { order, errors: found } = validateTicket(form);
    if (!found.symbol && unknownSymbol) found.symbol = `${typed}: ${unknownSymbol}.`;
    setErrors(found);
    if (!order || found.symbol) {
      onErrors?.(found);
      return;
    }
    const orderValue = estimatedValue(order, quote);
    if (needsConfirmation(orderValue, confirmAbove)) setStaged({ order, value: orderValue });
    else send(order);
  };

  const confirm = () => {
    if (staged) send(staged.order);
  };

  const back = () => setStaged(null);

  return {
    form,
    errors: !errors.symbol && unknownSymbol ? { ...errors, symbol: `${typed}: ${unknownSymbol}.` } : errors,
    knownSymbol: quote ? typed : null,
    quote,
    value,
    staged,
    placed,
    pending: place.isPending,
    confirmAbove,
    setConfirmAbove,
    update,
    submit,
    confirm,
    back,
  };
}
