/**
 * The order ticket's logic, apart from React: the form's fields, turning them into an
 * OrderCreate (with the same rules the API applies, so most mistakes show before sending),
 * the order's estimated value for the confirmation step, and placing the API's own
 * validation and risk errors next to the fields they are about.
 */
import { ApiError, isFieldDetail, isRiskDetail } from "../api/errors";
import type { OrderCreate, OrderType, QuoteRead, Side, TimeInForce } from "../api/types";
import {
  compare,
  decimalPlaces,
  isPlainDecimal,
  mul,
  parseDecimal,
  sign,
  toFixedString,
  type Decimal,
} from "./decimal";

export interface TicketForm {
  symbol: string;
  side: Side;
  qty: string;
  type: OrderType;
  limitPrice: string;
  stopPrice: string;
  trailMode: "amount" | "percent";
  trail: string;
  tif: TimeInForce;
  outsideRth: boolean;
  /** Keep TIF and outside-RTH for the next order (else both go back to their defaults). */
  keepTerms: boolean;
  bracket: boolean;
  takeProfit: string;
  stopLoss: string;
  stopLossLimit: string;
}

export const EMPTY_TICKET: TicketForm = {
  symbol: "",
  side: "buy",
  qty: "",
  type: "limit",
  limitPrice: "",
  stopPrice: "",
  trailMode: "amount",
  trail: "",
  tif: "day",
  outsideRth: false,
  keepTerms: false,
  bracket: false,
  takeProfit: "",
  stopLoss: "",
  stopLossLimit: "",
};

/** The ticket's fields that can carry an error (the API's `loc` paths below `body`). */
export type TicketField =
  | "symbol"
  | "side"
  | "qty"
  | "type"
  | "limit_price"
  | "stop_price"
  | "trail"
  | "tif"
  | "outside_rth"
  | "take_profit.limit_price"
  | "stop_loss.stop_price"
  | "stop_loss.limit_price"
  | "form";

export type TicketErrors = Partial<Record<TicketField, string>>;

export const ORDER_TYPES: readonly { value: OrderType; label: string }[] = [
  { value: "market", label: "Market" },
  { value: "limit", label: "Limit" },
  { value: "stop", label: "Stop" },
  { value: "stop_limit", label: "Stop limit" },
  { value: "trailing_stop", label: "Trailing stop" },
];

export const TIFS: readonly { value: TimeInForce; label: string }[] = [
  { value: "day", label: "Day" },
  { value: "gtc", label: "Good till cancelled" },
  { value: "ioc", label: "Immediate or cancel" },
];

export function needsLimit(type: OrderType): boolean {
  return type === "limit" || type === "stop_limit";
}

export function needsStop(type: OrderType): boolean {
  return type === "stop" || type === "stop_limit";
}

/** IOC is for market and limit orders only (as at IBKR). */
export function allowsIoc(type: OrderType): boolean {
  return type === "market" || type === "limit";
}

export const SYMBOL_RE = /^[A-Z][A-Z0-9.-]{0,11}$/;
const MAX_QTY = parseDecimal("10000000")!;
const MAX_PRICE = parseDecimal("1000000")!;
const HUNDRED = parseDecimal("100")!;

/** A positive decimal within bounds, or an error message. */
function positive(text: string, what: string, maxPlaces: number, max: Decimal, inclusiveMax = true): Decimal | string {
  const trimmed = text.trim();
  if (trimmed === "") return `Enter ${what}.`;
  if (!isPlainDecimal(trimmed)) return `${capitalize(what)} must be a number like 10 or 190.25.`;
  const value = parseDecimal(trimmed)!;
  if (sign(value) <= 0) return `${capitalize(what)} must be greater than 0.`;
  if (decimalPlaces(value) > maxPlaces) return `${capitalize(what)} allows at most ${maxPlaces} decimals.`;
  const over = compare(value, max);
  if (over > 0 || (!inclusiveMax && over === 0)) {
    return `${capitalize(what)} must be ${inclusiveMax ? "at most" : "below"} ${toFixedString(max)}.`;
  }
  return value;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The canonical string the API gets for a decimal input ("0190.50" -> "190.5"). */
function canonical(value: Decimal): string {
  return toFixedString(value, decimalPlaces(value));
}

export interface TicketResult {
  order: OrderCreate | null;
  errors: TicketErrors;
}

/** Check the form as the API would and build the order; `order` is null when errors exist. */
export function validateTicket(form: TicketForm): TicketResult {
  const errors: TicketErrors = {};
  const symbol = form.symbol.trim().toUpperCase();
  if (symbol === "") errors.symbol = "Enter a symbol.";
  else if (!SYMBOL_RE.test(symbol)) errors.symbol = "Use letters, digits, '.' or '-' (up to 12).";

  const qty = positive(form.qty, "a quantity", 8, MAX_QTY);
  if (typeof qty === "string") errors.qty = qty;

  let limit: Decimal | null = null;
  let stop: Decimal | null = null;
  if (needsLimit(form.type)) {
    const value = positive(form.limitPrice, "a limit price", 8, MAX_PRICE);
    if (typeof value === "string") errors.limit_price = value;
    else limit = value;
  }
  if (needsStop(form.type)) {
    const value = positive(form.stopPrice, "a stop price", 8, MAX_PRICE);
    if (typeof value === "string") errors.stop_price = value;
    else stop = value;
  }
  let trail: Decimal | null = null;
  if (form.type === "trailing_stop") {
    const value =
      form.trailMode === "percent"
        ? positive(form.trail, "a trail percentage", 4, HUNDRED, false)
        : positive(form.trail, "a trail amount", 8, MAX_PRICE);
    if (typeof value === "string") errors.trail = value;
    else trail = value;
  }
  if (form.tif === "ioc" && !allowsIoc(form.type)) {
    errors.tif = "Immediate or cancel is only for market and limit orders.";
  }

  let takeProfit: Decimal | null = null;
  let stopLoss: Decimal | null = null;
  let stopLossLimit: Decimal | null = null;
  if (form.bracket) {
    const wantsTp = form.takeProfit.trim() !== "";
    const wantsSl = form.stopLoss.trim() !== "";
    if (!wantsTp && !wantsSl) {
      errors["take_profit.limit_price"] = "Enter a take-profit price, a stop-loss price, or both.";
    }
    if (wantsTp) {
      const value = positive(form.takeProfit, "a take-profit price", 8, MAX_PRICE);
      if (typeof value === "string") errors["take_profit.limit_price"] = value;
      else takeProfit = value;
    }
    if (wantsSl) {
      const value = positive(form.stopLoss, "a stop-loss price", 8, MAX_PRICE);
      if (typeof value === "string") errors["stop_loss.stop_price"] = value;
      else stopLoss = value;
    }
    if (form.stopLossLimit.trim() !== "") {
      if (!wantsSl) errors["stop_loss.limit_price"] = "A stop-loss limit needs a stop-loss price.";
      else {
        const value = positive(form.stopLossLimit, "a stop-loss limit price", 8, MAX_PRICE);
        if (typeof value === "string") errors["stop_loss.limit_price"] = value;
        else stopLossLimit = value;
      }
    }
    // The legs must sit on the right sides of the entry (the API's own rule).
    const buy = form.side === "buy";
    const entry = limit ?? stop;
    if (takeProfit && entry && compare(takeProfit, entry) !== (buy ? 1 : -1)) {
      errors["take_profit.limit_price"] = `Take-profit must be ${buy ? "above" : "below"} the entry price.`;
    }
    if (stopLoss && entry && compare(stopLoss, entry) !== (buy ? -1 : 1)) {
      errors["stop_loss.stop_price"] = `Stop-loss must be ${buy ? "below" : "above"} the entry price.`;
    }
    if (takeProfit && stopLoss && compare(takeProfit, stopLoss) !== (buy ? 1 : -1)) {
      errors["take_profit.limit_price"] ??= `Take-profit must be ${buy ? "above" : "below"} the stop-loss.`;
    }
  }

  if (Object.keys(errors).length > 0 || typeof qty === "string") return { order: null, errors };

  const order: OrderCreate = {
    symbol,
    side: form.side,
    qty: canonical(qty),
    type: form.type,
    tif: form.tif,
    outside_rth: form.outsideRth,
  };
  if (limit) order.limit_price = canonical(limit);
  if (stop) order.stop_price = canonical(stop);
  if (trail) {
    if (form.trailMode === "percent") order.trail_percent = canonical(trail);
    else order.trail_amount = canonical(trail);
  }
  if (takeProfit) order.take_profit = { limit_price: canonical(takeProfit) };
  if (stopLoss) {
    order.stop_loss = { stop_price: canonical(stopLoss) };
    if (stopLossLimit) order.stop_loss.limit_price = canonical(stopLossLimit);
  }
  return { order, errors: {} };
}

/**
 * What the order is worth, as the risk check `max_order_value` values it: quantity times
 * the limit price (stop-limit too), the stop price of a stop, or the ask (buy) / bid (sell)
 * for market and trailing orders. Null when that price is not known.
 */
export function estimatedValue(order: OrderCreate, quote: QuoteRead | undefined): Decimal | null {
  const qty = parseDecimal(String(order.qty));
  let price: Decimal | null = null;
  if (order.limit_price != null) price = parseDecimal(String(order.limit_price));
  else if (order.stop_price != null) price = parseDecimal(String(order.stop_price));
  else if (quote) price = parseDecimal(order.side === "buy" ? quote.ask : quote.bid);
  return qty && price ? mul(qty, price) : null;
}

/** Ask before sending an order above the threshold, or one whose value is unknown. */
export function needsConfirmation(value: Decimal | null, threshold: string): boolean {
  const limit = parseDecimal(threshold);
  if (!limit) return true;
  return value === null || compare(value, limit) > 0;
}

// -- the API's errors, next to the fields ------------------------------------------------

const KNOWN_PATHS: readonly TicketField[] = [
  "take_profit.limit_price",
  "stop_loss.stop_price",
  "stop_loss.limit_price",
  "symbol",
  "side",
  "qty",
  "type",
  "limit_price",
  "stop_price",
  "tif",
  "outside_rth",
];

/** Map an API `loc` (["body", "take_profit", "limit_price"]) to the ticket's field. */
export function fieldOfLoc(loc: readonly string[]): TicketField | null {
  const path = (loc[0] === "body" ? loc.slice(1) : loc).join(".");
  if (path === "trail_amount" || path === "trail_percent") return "trail";
  if ((KNOWN_PATHS as readonly string[]).includes(path)) return path as TicketField;
  const head = loc[0] === "body" ? loc[1] : loc[0];
  if (head === "take_profit") return "take_profit.limit_price";
  if (head === "stop_loss") return "stop_loss.stop_price";
  return null;
}

/**
 * A model-level message ("Value error, limit_price is required for limit orders; tif ioc
 * is only ...") names its fields only in words: find the field each problem is about.
 */
function fieldOfProblem(problem: string): TicketField {
  for (const path of KNOWN_PATHS) {
    if (problem.includes(path)) return path;
  }
  if (problem.includes("trail_amount") || problem.includes("trail_percent")) return "trail";
  if (/\btif\b/.test(problem)) return "tif";
  return "form";
}

/** Risk checks and the field a trader would change to pass them. */
const CHECK_FIELDS: Readonly<Record<string, TicketField>> = {
  symbol_allow_list: "symbol",
  symbol_deny_list: "symbol",
  max_order_qty: "qty",
  max_order_value: "qty",
  max_position_value: "qty",
  max_gross_exposure: "qty",
  max_leverage: "qty",
};

const WORDS: readonly [RegExp, string][] = [
  [/take_profit\.limit_price/g, "take-profit price"],
  [/stop_loss\.stop_price/g, "stop-loss price"],
  [/stop_loss\.limit_price/g, "stop-loss limit price"],
  [/\btif ioc\b/g, "Immediate or cancel"],
];

/** The API's field names in words ("limit_price is required" -> "limit price is required"). */
function inWords(message: string): string {
  let text = message.replace(/^Value error, /, "");
  for (const [pattern, words] of WORDS) text = text.replace(pattern, words);
  return text.replace(/\b([a-z]+)_([a-z]+)\b/g, "$1 $2");
}

function addError(errors: TicketErrors, field: TicketField, message: string): void {
  errors[field] = errors[field] ? `${errors[field]} ${message}` : message;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : capital + ".";
}

/** Spread an API error over the ticket's fields; what belongs to no field goes to `form`. */
export function ticketErrorsFromApi(error: unknown, type: OrderType): TicketErrors {
  const errors: TicketErrors = {};
  if (!(error instanceof ApiError)) {
    errors.form = error instanceof Error ? error.message : String(error);
    return errors;
  }
  for (const detail of error.details) {
    if (isRiskDetail(detail)) {
      let field = CHECK_FIELDS[detail.check] ?? "form";
      if (detail.check === "price_band")
        field = needsLimit(type) ? "limit_price" : needsStop(type) ? "stop_price" : "form";
      const label = detail.check.replace(/_/g, " ");
      addError(errors, field, `${sentence(detail.message)}${field === "form" ? ` (${label})` : ""}`);
    } else if (isFieldDetail(detail)) {
      const field = fieldOfLoc(detail.loc);
      if (field) {
        addError(errors, field, sentence(inWords(detail.msg)));
        continue;
      }
      const problems = detail.msg.replace(/^Value error, /, "").split("; ");
      for (const problem of problems) addError(errors, fieldOfProblem(problem), sentence(inWords(problem)));
    }
  }
  if (Object.keys(errors).length === 0 || (error.code === "RISK_REJECTED" && !errors.form)) {
    // Always say what happened overall, too (e.g. "the order failed risk checks: ...").
    errors.form = sentence(error.message);
  }
  return errors;
}
