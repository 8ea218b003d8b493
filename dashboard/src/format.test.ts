import { afterEach, describe, expect, it, vi } from "vitest";
import {
  formatDate,
  formatDistance,
  formatMoney,
  formatMonth,
  formatMonthShort,
  formatRate,
  humanize,
  parseMoneyToCents,
} from "./format";

describe("money", () => {
  it("formats cents with two decimals and grouping", () => {
    expect(formatMoney(899999, "USD")).toBe("$8,999.99");
  });
  it("formats whole units when asked", () => {
    expect(formatMoney(2_450_000, "USD", true)).toBe("$24,500");
  });
  it("uses the currency's own symbol", () => {
    expect(formatMoney(1050, "EUR")).toBe("€10.50");
  });
  it("shows a rate below one cent as under a cent, zero as zero", () => {
    expect(formatRate(0.33, "GBP")).toBe("< £0.01");
    expect(formatRate(0.5, "USD")).toBe("$0.01");
    expect(formatRate(7.14, "USD")).toBe("$0.07");
    expect(formatRate(0, "USD")).toBe("$0.00");
  });
  it("falls back to the code for an unknown currency", () => {
    expect(formatMoney(1050, "X1")).toBe("10.50 X1");
  });
  it("reads what a person types into cents", () => {
    expect(parseMoneyToCents("89.99")).toBe(8999);
    expect(parseMoneyToCents("$1,200")).toBe(120000);
    expect(parseMoneyToCents("0.5")).toBe(50);
    expect(parseMoneyToCents("")).toBeUndefined();
    expect(parseMoneyToCents("abc")).toBeNaN();
  });
  it("reads a decimal comma as a decimal, never as a thousands separator", () => {
    // A EUR owner's fuel cost of 62,40 was recorded as 6,240.00.
    expect(parseMoneyToCents("62,40")).toBe(6240);
    expect(parseMoneyToCents("89,99")).toBe(8999);
    expect(parseMoneyToCents("0,5")).toBe(50);
    expect(parseMoneyToCents("€ 62,40")).toBe(6240);
  });
  it("reads separators followed by three digits as thousands, in either convention", () => {
    expect(parseMoneyToCents("24.500")).toBe(2_450_000);
    expect(parseMoneyToCents("24,500")).toBe(2_450_000);
    expect(parseMoneyToCents("12.345")).toBe(1_234_500);
    expect(parseMoneyToCents("1.234.567")).toBe(123_456_700);
    expect(parseMoneyToCents("1 234,5")).toBe(123_450);
  });
  it("takes the later of a comma and a point as the decimal separator", () => {
    expect(parseMoneyToCents("1.234,56")).toBe(123_456);
    expect(parseMoneyToCents("1,234.56")).toBe(123_456);
    expect(parseMoneyToCents("1.234.567,8")).toBe(123_456_780);
  });
  it("refuses what it could only guess at", () => {
    for (const text of [
      "1,2,3",
      "12.345.6",
      "1,234.567",
      "1.2,34",
      "1,234.5.6",
      "12,3456",
      "5.",
      "0.500",
      "1234.567",
      "1,23,456",
    ])
      expect(parseMoneyToCents(text), text).toBeNaN();
  });
});

describe("dates", () => {
  it("formats an instant in UTC whatever the viewer's zone", () => {
    expect(formatDate("2026-03-02T23:30:00Z")).toBe("2 Mar 2026");
    expect(formatDate("2026-03-02")).toBe("2 Mar 2026");
  });
  it("leaves something that is not a date as it was", () => {
    expect(formatDate("soon")).toBe("soon");
  });
  it("names months", () => {
    expect(formatMonth("2026-03")).toBe("March 2026");
    expect(formatMonth("2025-12-31T23:59:59Z")).toBe("December 2025");
    expect(formatMonthShort("2025-12")).toBe("Dec 25");
  });
});

describe("words", () => {
  it("formats distances with their unit", () => {
    expect(formatDistance(41250, "mi")).toBe("41,250 mi");
  });
  it("turns codes into words", () => {
    expect(humanize("odometer_reading")).toBe("Odometer reading");
  });
});

describe("formatters", () => {
  afterEach(() => vi.restoreAllMocks());

  it("builds each Intl formatter once, not once per value (3,000 timeline rows)", () => {
    const dates = vi.spyOn(Intl, "DateTimeFormat");
    const numbers = vi.spyOn(Intl, "NumberFormat");
    for (let i = 0; i < 3000; i++) {
      formatDate(`2026-03-${String((i % 28) + 1).padStart(2, "0")}T09:30:00Z`);
      formatMonth("2026-03");
      formatMoney(1000 + i, i % 2 ? "USD" : "EUR");
      formatMoney(1000 + i, "USD", true);
      formatDistance(i, "mi");
    }
    // One per options (date, month; USD, EUR, whole USD; plain number) at most: none if already built.
    expect(dates.mock.calls.length).toBeLessThanOrEqual(2);
    expect(numbers.mock.calls.length).toBeLessThanOrEqual(4);
    // Still right after caching.
    expect(formatDate("2026-03-02T09:30:00Z")).toBe("2 Mar 2026");
    expect(formatMoney(1050, "EUR")).toBe("€10.50");
    expect(formatMoney(2_450_000, "USD", true)).toBe("$24,500");
    expect(formatDistance(41250, "mi")).toBe("41,250 mi");
  });
});
