/**
 * Display formatting for the API's decimal strings: fixed decimals, thousands separators,
 * and an explicit sign for P&L. Exact: values are rounded as decimals, never as floats.
 */
import { decimalPlaces, groupThousands, parseDecimal, shift, sign, toFixedString, type Decimal } from "./decimal";

/** Shown for a value the API does not have (no price yet, no fills). */
export const MISSING = "—";

type Input = string | number | null | undefined;

function toDecimal(value: Input): Decimal | null {
  if (value == null) return null;
  // Integers from JSON (counts, order ids) are exact; money always comes as strings.
  return parseDecimal(typeof value === "number" ? String(value) : value);
}

/** A fixed number of decimals with thousands separators: "1234.5" -> "1,234.50". */
export function formatFixed(value: Input, places: number): string {
  const decimal = toDecimal(value);
  return decimal ? groupThousands(toFixedString(decimal, places)) : MISSING;
}

/** Money: two decimals ("1,000,000.00"). */
export function formatMoney(value: Input): string {
  return formatFixed(value, 2);
}

/**
 * A price: at least `places` decimals (two; four for an average, as the API sends it), and
 * every decimal the price has beyond them. Never rounded: a sub-penny price the API shows
 * as "186.123" is shown as "186.123", not "186.12".
 */
export function formatPrice(value: Input, places = 2): string {
  const decimal = toDecimal(value);
  return decimal ? groupThousands(toFixedString(decimal, Math.max(places, decimalPlaces(decimal)))) : MISSING;
}

/** P&L and other signed amounts: "+12.50", "-3.00", "0.00". */
export function formatSigned(value: Input, places = 2): string {
  const decimal = toDecimal(value);
  if (!decimal) return MISSING;
  const text = groupThousands(toFixedString(decimal, places));
  return sign(decimal) > 0 && !/^[0.,]+$/.test(text) ? "+" + text : text;
}

/** -1, 0 or 1 for colouring P&L; 0 when unknown. */
export function signOf(value: Input): -1 | 0 | 1 {
  const decimal = toDecimal(value);
  return decimal ? sign(decimal) : 0;
}

/** Quantities, exact: whole shares without decimals, fractional ones with at least four. */
export function formatQty(value: Input): string {
  const decimal = toDecimal(value);
  if (!decimal) return MISSING;
  const places = decimalPlaces(decimal);
  return groupThousands(toFixedString(decimal, places === 0 ? 0 : Math.max(4, places)));
}

/** A ratio as a percentage: "0.1234" -> "12.3%". */
export function formatRatioPercent(value: Input, places = 1): string {
  const decimal = toDecimal(value);
  return decimal ? toFixedString(shift(decimal, 2), places) + "%" : MISSING;
}

/** A number that already is a percentage: "10" -> "10.00%". */
export function formatPercent(value: Input, places = 2): string {
  const decimal = toDecimal(value);
  return decimal ? toFixedString(decimal, places) + "%" : MISSING;
}

// Times carry their zone (the browser's, e.g. "14:03:07 UTC" or "09:03:07 EST"): a time
// on a trading screen without one is a guess.
const TIME = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
  timeZoneName: "short",
});
const DATE_TIME_OPTIONS: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
  timeZoneName: "short",
};
const DATE_TIME = new Intl.DateTimeFormat(undefined, DATE_TIME_OPTIONS);

/** A timestamp in local time: only the time when it is today, else date and time. */
export function formatTimestamp(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return MISSING;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return MISSING;
  return date.toDateString() === now.toDateString() ? TIME.format(date) : DATE_TIME.format(date);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return MISSING;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? MISSING : DATE_TIME.format(date);
}

const ZONED = new Map<string, Intl.DateTimeFormat>();

/** A timestamp as the clock of `zone` (an IANA zone, e.g. the exchange's) reads it, date and all. */
export function formatInZone(iso: string | null | undefined, zone: string): string {
  if (!iso) return MISSING;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return MISSING;
  let format = ZONED.get(zone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat(undefined, { ...DATE_TIME_OPTIONS, timeZone: zone });
    } catch {
      return MISSING; // a zone this browser does not know
    }
    ZONED.set(zone, format);
  }
  return format.format(date);
}

/**
 * A span of time, to the unit that matters: "<1 s", "45 s", "3 min 20 s", "42 min",
 * "1 h 05 min", "2 d 3 h".
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return MISSING;
  if (seconds === 0) return "0 s";
  if (seconds < 1) return "<1 s";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 ? `${minutes} min ${s % 60} s` : `${minutes} min`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** Seconds from `startIso` to `endIso` (or to `now` when it has not ended); null if unknown. */
export function secondsBetween(
  startIso: string | null | undefined,
  endIso: string | null | undefined,
  now: Date = new Date(),
): number | null {
  if (!startIso) return null;
  const start = new Date(startIso).getTime();
  const end = endIso ? new Date(endIso).getTime() : now.getTime();
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

/** "stop_limit" -> "stop limit", for enum values shown to people. */
export function humanize(value: string): string {
  return value.replace(/_/g, " ");
}
