import { describe, expect, it } from "vitest";
import { lastMonths, monthBars, monthRange, niceMax } from "./costs";

describe("cost chart data", () => {
  it("lists the last months across a year boundary", () => {
    expect(lastMonths("2026-02", 4)).toEqual(["2025-11", "2025-12", "2026-01", "2026-02"]);
  });
  it("knows the last day of each month", () => {
    expect(monthRange("2024-02")).toEqual({ from: "2024-02-01", to: "2024-02-29" });
    expect(monthRange("2025-12")).toEqual({ from: "2025-12-01", to: "2025-12-31" });
  });
  it("splits each month by kind in one currency, and leaves empty months at zero", () => {
    const bars = monthBars(
      ["2026-01", "2026-02"],
      {
        "2026-01": [
          { key: "maintenance", currency: "USD", totalCents: 1000, events: 1 },
          { key: "repair", currency: "USD", totalCents: 500, events: 1 },
          { key: "repair", currency: "EUR", totalCents: 999, events: 1 },
        ],
      },
      "USD",
    );
    expect(bars).toEqual([
      { month: "2026-01", totalCents: 1500, byKind: { maintenance: 1000, repair: 500 } },
      { month: "2026-02", totalCents: 0, byKind: {} },
    ]);
  });
  it("rounds the axis up to a readable number", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(130)).toBe(200);
    expect(niceMax(4999)).toBe(5000);
    expect(niceMax(100)).toBe(100);
  });
});
