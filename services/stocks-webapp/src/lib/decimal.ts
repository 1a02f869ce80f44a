/**
 * Exact decimal arithmetic on the API's decimal strings ("190.25", "-1", "1E+7").
 *
 * Money, prices and quantities arrive as strings and stay exact: a value is an integer
 * number of units (a BigInt) and a scale (digits after the point), so 0.1 + 0.2 is 0.3 and
 * 10 x 190.25 is 1902.50. Nothing here goes through a JS float.
 */

export interface Decimal {
  /** The value times 10^scale. */
  readonly units: bigint;
  /** How many digits of `units` are after the decimal point (>= 0). */
  readonly scale: number;
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?$/;
const MAX_EXPONENT = 64;

/** Parse a decimal string; null if it is not one (empty, "abc", "1.2.3", NaN, Infinity). */
export function parseDecimal(text: string | null | undefined): Decimal | null {
  if (text == null) return null;
  const match = DECIMAL_RE.exec(text.trim());
  if (!match) return null;
  const [, sign, intPart = "", fracPart = "", exponentText] = match;
  if (intPart === "" && fracPart === "") return null;
  const exponent = exponentText ? Number.parseInt(exponentText, 10) : 0;
  if (Math.abs(exponent) > MAX_EXPONENT) return null;
  let digits = intPart + fracPart;
  let scale = fracPart.length - exponent;
  if (scale < 0) {
    digits += "0".repeat(-scale);
    scale = 0;
  }
  const magnitude = BigInt(digits === "" ? "0" : digits);
  return { units: sign === "-" ? -magnitude : magnitude, scale };
}

/** Whether `text` is a plain decimal number (no exponent), optionally signed. */
export function isPlainDecimal(text: string): boolean {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text.trim());
}

export function fromBigInt(units: bigint, scale = 0): Decimal {
  return { units, scale };
}

export const ZERO: Decimal = { units: 0n, scale: 0 };

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** The same value at a larger scale (exact). */
function rescaleUp(value: Decimal, scale: number): bigint {
  return value.units * pow10(scale - value.scale);
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [rescaleUp(a, scale), rescaleUp(b, scale), scale];
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return { units: x + y, scale };
}

export function sub(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return { units: x - y, scale };
}

export function mul(a: Decimal, b: Decimal): Decimal {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

export function neg(a: Decimal): Decimal {
  return { units: -a.units, scale: a.scale };
}

export function abs(a: Decimal): Decimal {
  return a.units < 0n ? neg(a) : a;
}

/** -1, 0 or 1 as a < b, a == b, a > b. */
export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sign(a: Decimal): -1 | 0 | 1 {
  return a.units < 0n ? -1 : a.units > 0n ? 1 : 0;
}

/** Digits after the point once trailing zeros are dropped ("1.500" has 1). */
export function decimalPlaces(a: Decimal): number {
  let { units, scale } = a;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return scale;
}

/** Round to `places` digits after the point, half away from zero (as a trader rounds). */
export function round(a: Decimal, places: number): Decimal {
  if (a.scale <= places) return { units: rescaleUp(a, places), scale: places };
  const divisor = pow10(a.scale - places);
  const magnitude = a.units < 0n ? -a.units : a.units;
  let quotient = magnitude / divisor;
  if ((magnitude % divisor) * 2n >= divisor) quotient += 1n;
  return { units: a.units < 0n ? -quotient : quotient, scale: places };
}

/** Move the point: shift(a, n) is a x 10^n exactly (shift(ratio, 2) is a percentage). */
export function shift(a: Decimal, places: number): Decimal {
  if (places <= a.scale) return { units: a.units, scale: a.scale - places };
  return { units: a.units * pow10(places - a.scale), scale: 0 };
}

/**
 * The plain string of a decimal with exactly `places` digits after the point (rounded), or
 * every significant digit when `places` is undefined: toFixedString(1902.5, 2) = "1902.50".
 */
export function toFixedString(a: Decimal, places?: number): string {
  const value = places === undefined ? a : round(a, places);
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, "0");
  const intPart = digits.slice(0, digits.length - value.scale);
  const fracPart = digits.slice(digits.length - value.scale);
  const isZero = /^0*$/.test(intPart + fracPart);
  return (negative && !isZero ? "-" : "") + intPart + (value.scale > 0 ? "." + fracPart : "");
}

/** Group the integer part in thousands: "1234567.5" -> "1,234,567.5". */
export function groupThousands(plain: string, separator = ","): string {
  const negative = plain.startsWith("-");
  const body = negative ? plain.slice(1) : plain;
  const [intPart = "", fracPart] = body.split(".");
  const grouped = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
  return (negative ? "-" : "") + grouped + (fracPart !== undefined ? "." + fracPart : "");
}
