import { describe, expect, it } from "vitest";
import { add, compare, decimalPlaces, mul, parseDecimal, round, shift, sub, toFixedString } from "./decimal";

const d = (text: string) => {
  const value = parseDecimal(text);
  if (!value) throw new Error(`not a decimal: ${text}`);
  return value;
};

describe("decimal", () => {
  it("parses the API's decimal strings, exponents included", () => {
    expect(toFixedString(d("190.25"))).toBe("190.25");
    expect(toFixedString(d("-0.5"))).toBe("-0.5");
    expect(toFixedString(d("1E+7"))).toBe("10000000");
    expect(toFixedString(d("1.5e-3"))).toBe("0.0015");
    expect(toFixedString(d(".5"))).toBe("0.5");
    for (const bad of ["", "abc", "1.2.3", "NaN", "Infinity", "1e999", "--1", "."]) {
      expect(parseDecimal(bad)).toBeNull();
    }
  });

  it("adds, subtracts and multiplies exactly where floats do not", () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(toFixedString(add(d("0.1"), d("0.2")))).toBe("0.3");
    expect(toFixedString(sub(d("1000000.01"), d("0.02")))).toBe("999999.99");
    expect(toFixedString(mul(d("10"), d("190.25")))).toBe("1902.50");
    expect(toFixedString(mul(d("3"), d("1.1")))).toBe("3.3");
    // 9007199254740993 is not a double; BigInt keeps it.
    expect(toFixedString(mul(d("9007199254740993"), d("1.00")))).toBe("9007199254740993.00");
  });

  it("rounds half away from zero", () => {
    expect(toFixedString(round(d("1.005"), 2))).toBe("1.01");
    expect(toFixedString(round(d("-1.005"), 2))).toBe("-1.01");
    expect(toFixedString(round(d("2.344"), 2))).toBe("2.34");
    expect(toFixedString(d("1.2"), 4)).toBe("1.2000");
    expect(toFixedString(d("-0.001"), 2)).toBe("0.00");
  });

  it("compares, counts decimals and shifts the point", () => {
    expect(compare(d("1.50"), d("1.5"))).toBe(0);
    expect(compare(d("-2"), d("1"))).toBe(-1);
    expect(decimalPlaces(d("1.500"))).toBe(1);
    expect(decimalPlaces(d("100"))).toBe(0);
    expect(toFixedString(shift(d("0.1234"), 2))).toBe("12.34");
    expect(toFixedString(shift(d("5"), 2))).toBe("500");
  });
});
