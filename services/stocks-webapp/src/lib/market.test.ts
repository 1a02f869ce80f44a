import { describe, expect, it } from "vitest";
import type { MarketClock } from "../api/types";
import { closeChoices, describeMarket, formatSessionTime } from "./market";

function clock(overrides: Partial<MarketClock>): MarketClock {
  return {
    timestamp: "2026-12-01T17:00:00-05:00",
    is_open: false,
    session: "after_hours",
    next_open: "2026-12-02T09:30:00-05:00",
    next_close: "2026-12-02T16:00:00-05:00",
    timezone: "America/New_York",
    ...overrides,
  };
}

describe("formatSessionTime", () => {
  it("shows the exchange's wall clock, whatever the browser's zone", () => {
    expect(formatSessionTime("2026-12-02T14:30:00Z", "America/New_York")).toBe("Wed 09:30 EST");
    expect(formatSessionTime("2026-07-07T13:30:00Z", "America/New_York")).toBe("Tue 09:30 EDT");
  });
});

describe("describeMarket", () => {
  it("says when an open market closes", () => {
    const open = clock({ is_open: true, session: "regular", next_close: "2026-11-27T13:00:00-05:00" });
    expect(describeMarket(open)).toEqual({ label: "Market open", next: "closes Fri 13:00 EST" });
  });

  it("says when a closed market opens", () => {
    expect(describeMarket(clock({ session: "closed" }))).toEqual({
      label: "Market closed",
      next: "opens Wed 09:30 EST",
    });
    expect(describeMarket(clock({})).label).toBe("After hours");
    expect(describeMarket(clock({ session: "pre_market" })).label).toBe("Pre-market");
  });
});

describe("closeChoices", () => {
  it("offers one market order while the regular session is open or the clock is unknown", () => {
    expect(closeChoices(clock({ is_open: true, session: "regular" })).marketClosed).toBe(false);
    expect(closeChoices(undefined).marketClosed).toBe(false);
  });

  it("offers waiting or trading outside RTH when the session is closed", () => {
    const afterHours = closeChoices(clock({}));
    expect(afterHours.marketClosed).toBe(true);
    expect(afterHours.waitLabel).toBe("Close at the open (waits)");
    expect(afterHours.outsideRthLabel).toBe("Close now in extended hours (outside RTH)");
    expect(closeChoices(clock({ session: "closed" })).outsideRthLabel).toBe(
      "Close in the next extended hours (outside RTH, waits)",
    );
  });
});
