/**
 * The market's state in words, from GET /api/v1/clock: the header's "Market closed · opens
 * Wed 09:30 EST" and the choice Positions → Close offers when the regular session is closed.
 * Times are shown in the exchange's zone (the clock's `timezone`), as traders read them.
 */
import type { MarketClock } from "../api/types";

/** "Wed 09:30 EST": an instant as the exchange's wall clock shows it. */
export function formatSessionTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("weekday")} ${part("hour")}:${part("minute")} ${part("timeZoneName")}`;
}

const LABELS: Record<MarketClock["session"], string> = {
  regular: "Market open",
  pre_market: "Pre-market",
  after_hours: "After hours",
  closed: "Market closed",
};

/** The header's words: what the market is doing now and what comes next. */
export function describeMarket(clock: MarketClock): { label: string; next: string } {
  const next = clock.is_open
    ? `closes ${formatSessionTime(clock.next_close, clock.timezone)}`
    : `opens ${formatSessionTime(clock.next_open, clock.timezone)}`;
  return { label: LABELS[clock.session], next };
}

/**
 * What closing a position offers now. In the regular session (or when the clock is
 * unknown) one market order; otherwise the choice between waiting for the open and
 * trading outside regular hours, which works now only in the pre-market or after hours.
 */
export function closeChoices(clock: MarketClock | undefined): {
  marketClosed: boolean;
  waitLabel: string;
  outsideRthLabel: string;
} {
  const marketClosed = clock !== undefined && !clock.is_open;
  const extendedNow = clock?.session === "pre_market" || clock?.session === "after_hours";
  return {
    marketClosed,
    waitLabel: "Close at the open (waits)",
    outsideRthLabel: extendedNow
      ? "Close now in extended hours (outside RTH)"
      : "Close in the next extended hours (outside RTH, waits)",
  };
}
