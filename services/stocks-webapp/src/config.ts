/** Defaults a deployment can change at build time (VITE_* variables, see README). */

/** Orders worth more than this (in the account's currency) ask for confirmation first. */
export const DEFAULT_CONFIRM_ABOVE: string = import.meta.env.VITE_CONFIRM_ABOVE_DEFAULT ?? "10000";

/** The watchlist before the user changes it. */
export const DEFAULT_WATCHLIST: readonly string[] = (import.meta.env.VITE_WATCHLIST_DEFAULT ?? "AAPL,MSFT,NVDA,SPY")
  .split(",")
  .map((s: string) => s.trim().toUpperCase())
  .filter(Boolean);
