import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { exchangeTitle, Time } from "./Time";

describe("Time", () => {
  it("shows the browser's time with its zone, and says the exchange's on hover", () => {
    expect(exchangeTitle("2026-12-03T14:03:07Z", "America/New_York")).toMatch(
      /^Exchange time \(America\/New_York\): .*09:03:07 (EST|GMT-5)$/,
    );
    expect(exchangeTitle("2026-12-03T14:03:07Z", null)).toBeUndefined(); // the clock not read yet
    expect(exchangeTitle(null, "America/New_York")).toBeUndefined();
  });

  it("marks the time up as a <time> with its instant", () => {
    render(<Time iso="2026-12-03T14:03:07Z" now={new Date("2026-12-03T15:00:00Z")} />);
    const time = screen.getByText(/\d\d:\d\d:\d\d/);
    expect(time.tagName).toBe("TIME");
    expect(time.getAttribute("datetime")).toBe("2026-12-03T14:03:07Z");
  });
});
