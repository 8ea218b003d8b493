import { afterEach, describe, expect, it } from "vitest";
import { buildEvent, today } from "./RecordEventForm";

const zone = process.env.TZ;
afterEach(() => {
  // Node reads TZ again whenever it is set.
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

const fields = {
  kind: "maintenance" as const,
  date: "2026-03-02",
  title: "",
  odometer: "",
  cost: "12.50",
  currency: "GBP",
  vendor: "",
  notes: "",
  tasks: "oil_change",
  severity: "minor",
  amount: "",
  volume: "",
  volumeUnit: "gal",
  fullTank: "yes",
};

describe("record form", () => {
  it("defaults the date to the user's own day, not UTC's", () => {
    // 20:00 UTC on 1 March is already 2 March in Auckland, and still 1 March in Los Angeles (12:00).
    const instant = new Date("2026-03-01T20:00:00Z");
    process.env.TZ = "Pacific/Auckland";
    expect(today(instant)).toBe("2026-03-02");
    process.env.TZ = "America/Los_Angeles";
    expect(today(instant)).toBe("2026-03-01");
  });

  it("records the cost in the chosen currency", () => {
    expect(buildEvent(fields).body).toMatchObject({ costCents: 1250, currency: "GBP" });
  });

  it("refuses a missing or impossible date before sending", () => {
    expect(buildEvent({ ...fields, date: "" }).errors).toEqual({
      occurredAt: "Enter the date, such as 2026-03-02.",
    });
    expect(buildEvent({ ...fields, date: "2026-02-30" }).body).toBeUndefined();
  });
});
