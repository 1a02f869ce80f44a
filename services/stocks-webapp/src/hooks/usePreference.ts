/**
 * A user preference (watchlist, confirmation threshold) remembered in localStorage. Only
 * preferences: never a token or account data.
 */
import { useCallback, useState } from "react";

const PREFIX = "stocks.pref.";

function read<T>(key: string, fallback: T, valid: (value: unknown) => value is T): T {
  try {
    const raw = window.localStorage.getItem(PREFIX + key);
    if (raw === null) return fallback;
    const value: unknown = JSON.parse(raw);
    return valid(value) ? value : fallback;
  } catch {
    return fallback; // storage disabled or a bad value: use the default
  }
}

export function usePreference<T>(
  key: string,
  fallback: T,
  valid: (value: unknown) => value is T,
): [T, (value: T) => void] {
  const [value, setValue] = useState<T>(() => read(key, fallback, valid));
  const update = useCallback(
    (next: T) => {
      setValue(next);
      try {
        window.localStorage.setItem(PREFIX + key, JSON.stringify(next));
      } catch {
        // Not remembered across reloads; still works for this page.
      }
    },
    [key],
  );
  return [value, update];
}

export const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === "string");

export const isString = (value: unknown): value is string => typeof value === "string";
