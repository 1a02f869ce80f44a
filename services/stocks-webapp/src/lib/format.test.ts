import { describe, expect, it } from "vitest";
import {
  formatFixed,
  formatMoney,
  formatPercent,
  formatPrice,
  formatQty,
  formatRatioPercent,
  formatSigned,
  MISSING,
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

  it("formats prices, quantities and percentages", () => {
    expect(formatPrice("190.2")).toBe("190.20");
    expect(formatPrice("188.9612", 4)).toBe("188.9612");
    expect(formatQty("10")).toBe("10");
    expect(formatQty("10.00000000")).toBe("10");
    expect(formatQty("1500")).toBe("1,500");
    expect(formatQty("0.5")).toBe("0.5000");
    expect(formatRatioPercent("0.1234")).toBe("12.3%");
    expect(formatPercent("10")).toBe("10.00%");
    expect(formatFixed(2, 4)).toBe("2.0000");
  });
});
