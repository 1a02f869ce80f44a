/**
 * A time as the trader reads it: in the browser's zone, with its zone named, and the
 * exchange's clock (the market clock's zone) on hover, since sessions and fills are
 * reckoned in exchange time.
 */
import { createContext, useContext, type ReactNode } from "react";
import { useMarketClock } from "../hooks/queries";
import { formatInZone, formatTimestamp, MISSING } from "../lib/format";

const ExchangeZone = createContext<string | null>(null);

/** Provide the exchange's time zone (from GET /api/v1/clock) to every `Time` below. */
export function ExchangeZoneProvider({ children }: { children: ReactNode }) {
  const clock = useMarketClock();
  return <ExchangeZone.Provider value={clock.data?.timezone ?? null}>{children}</ExchangeZone.Provider>;
}

export function exchangeTitle(iso: string | null | undefined, zone: string | null): string | undefined {
  if (!iso || !zone) return undefined;
  const text = formatInZone(iso, zone);
  return text === MISSING ? undefined : `Exchange time (${zone}): ${text}`;
}

export function Time({ iso, now }: { iso: string | null | undefined; now?: Date }) {
  const zone = useContext(ExchangeZone);
  const text = formatTimestamp(iso, now);
  if (!iso) return <>{text}</>;
  return (
    <time dateTime={iso} title={exchangeTitle(iso, zone)}>
      {text}
    </time>
  );
}
