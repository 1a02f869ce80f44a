import { describe, expect, it } from "vitest";
import {
  formatDateTime,
  formatDuration,
  formatFixed,
  formatInZone,
  formatMoney,
  formatPercent,
  formatPrice,
  formatQty,
  formatRatioPercent,
  formatSigned,
  formatTimestamp,
  MISSING,
  secondsBetween,
} from "./format";

describe("money formatting", () => {
  it("shows two fixed decimals with thousands separators", () => {
    expect(formatMoney("1000000")).toBe("1,000,000.00");
    expect(formatMoney("999999.995")).toBe("1,000,000.00");
    expect(formatMoney("-1234.5")).toBe("-1,234.50");
    expect(formatMoney("0")).toBe("0.00");
    expect(formatMoney("0.1")).toBe("0.10");
  });

  it("keeps precision a float would lose", () => {
    expect(formatMoney("12345678901234567.89")).toBe("12,345,678,901,234,567.89");
    expect(formatMoney("0.015")).toBe("0.02"); // a float rounds 0.015 down to 0.01
  });

  it("shows a dash for values the API does not have", () => {
    expect(formatMoney(null)).toBe(MISSING);
    expect(formatMoney(undefined)).toBe(MISSING);
    expect(formatMoney("n/a")).toBe(MISSING);
  });

  it("signs P&L explicitly, but not zero", () => {
    expect(formatSigned("12.5")).toBe("+12.50");
    expect(formatSigned("-3")).toBe("-3.00");
    expect(formatSigned("0")).toBe("0.00");
    expect(formatSigned("0.001")).toBe("0.00");
    expect(formatSigned("-0.001")).toBe("0.00");
  });

  it("shows a price with every decimal the API gives, never rounded", () => {
    expect(formatPrice("186.123")).toBe("186.123");
    expect(formatPrice("0.1234")).toBe("0.1234");
    expect(formatPrice("1234.5")).toBe("1,234.50");
    expect(formatPrice("181.0067", 4)).toBe("181.0067");
    expect(formatPrice("190", 4)).toBe("190.0000");
  });

  it("formats prices, quantities and percentages", () => {
    expect(formatPrice("190.2")).toBe("190.20");
    expect(formatPrice("188.9612", 4)).toBe("188.9612");
    expect(formatQty("10")).toBe("10");
    expect(formatQty("10.00000000")).toBe("10");
    expect(formatQty("1500")).toBe("1,500");
    expect(formatQty("0.5")).toBe("0.5000");
    expect(formatQty("0.12345678")).toBe("0.12345678");
    expect(formatRatioPercent("0.1234")).toBe("12.3%");
    expect(formatPercent("10")).toBe("10.00%");
    expect(formatFixed(2, 4)).toBe("2.0000");
  });
});

describe("durations", () => {
  it("shows a span to the unit that matters", () => {
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(0.4)).toBe("<1 s");
    expect(formatDuration(45.9)).toBe("45 s");
    expect(formatDuration(200)).toBe("3 min 20 s");
    expect(formatDuration(180)).toBe("3 min");
    expect(formatDuration(42 * 60 + 10)).toBe("42 min");
    expect(formatDuration(3600 + 5 * 60)).toBe("1 h 05 min");
    expect(formatDuration(2 * 86400 + 3 * 3600 + 59)).toBe("2 d 3 h");
    expect(formatDuration(86400)).toBe("1 d");
    expect(formatDuration(null)).toBe(MISSING);
    expect(formatDuration(-1)).toBe(MISSING);
    expect(formatDuration(Number.NaN)).toBe(MISSING);
  });

  it("measures from a start to an end, or to now while it lasts", () => {
    expect(secondsBetween("2026-01-02T14:00:00Z", "2026-01-02T14:42:10Z")).toBe(2530);
    expect(secondsBetween("2026-01-02T14:00:00Z", null, new Date("2026-01-02T14:00:30Z"))).toBe(30);
    expect(secondsBetween(null, "2026-01-02T14:00:00Z")).toBeNull();
    expect(secondsBetween("soon", null)).toBeNull();
  });
});

describe("times", () => {
  it("carry their zone, today's as a time and other days' with the date", () => {
    const now = new Date("2026-12-03T15:00:00Z");
    expect(formatTimestamp("2026-12-03T14:03:07Z", now)).toMatch(/\d\d:\d\d:\d\d ([A-Z]{2,5}|GMT[+-]\d+)$/);
    expect(formatTimestamp("2026-12-01T14:03:07Z", now)).toMatch(/2026.*\d\d:\d\d:\d\d ([A-Z]{2,5}|GMT[+-]\d+)$/);
    expect(formatDateTime("2026-12-01T14:03:07Z")).toMatch(/([A-Z]{2,5}|GMT[+-]\d+)$/);
  });
});

describe("formatInZone", () => {
  it("reads a timestamp on another zone's clock, naming the zone", () => {
    // 14:03:07 UTC on 3 December is 09:03:07 in New York (EST, UTC-5).
    expect(formatInZone("2026-12-03T14:03:07Z", "America/New_York")).toMatch(/2026.*09:03:07 (EST|GMT-5)$/);
    expect(formatInZone("2026-07-01T14:03:07Z", "America/New_York")).toMatch(/10:03:07 (EDT|GMT-4)$/);
  });

  it("gives the missing mark for no time, a bad time or an unknown zone", () => {
    expect(formatInZone(null, "America/New_York")).toBe(MISSING);
    expect(formatInZone("not a time", "America/New_York")).toBe(MISSING);
    expect(formatInZone("2026-12-03T14:03:07Z", "Mars/Olympus_Mons")).toBe(MISSING);
  });
});
