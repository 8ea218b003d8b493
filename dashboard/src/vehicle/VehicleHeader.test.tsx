import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import type { MaintenanceItem, Overview, Valuation } from "../api/types";
import { demoVehicle, soldDemoVehicle } from "../test-utils";
import { VehicleHeader, nextDue } from "./VehicleHeader";

const vehicle = demoVehicle({ nickname: "Blue" });

function item(task: string, status: MaintenanceItem["status"], dueAt: string): MaintenanceItem {
  return {
    task,
    title: task.replace(/_/g, " "),
    status,
    reason: `${task} reason`,
    dueCycle: "1",
    enabled: true,
    dueAt,
  };
}

const overview = {
  vehicle,
  odometer: { value: 52500, unit: "mi", asOf: "2026-11-01", estimated: true },
  maintenance: [
    item("battery_test", "ok", "2027-03-19"),
    item("tire_rotation", "due_soon", "2027-01-02"),
    item("cabin_filter", "overdue", "2026-02-27"),
    item("wipers", "overdue", "2026-01-10"),
  ],
  costs: [{ currency: "USD", lifetimeCents: 100, last12MonthsCents: 169500, byKind: {} }],
  recentEvents: [],
  valuation: null,
} as unknown as Overview;

describe("VehicleHeader", () => {
  it("orders due items overdue first, then due soon, each by date", () => {
    expect(nextDue(overview.maintenance).map((i) => i.task)).toEqual([
      "wipers",
      "cabin_filter",
      "tire_rotation",
      "battery_test",
    ]);
  });

  it("shows the value with its factors on focus, the estimated odometer and status badges in words", async () => {
    render(
      <VehicleHeader
        vehicle={vehicle}
        overview={overview}
        valuation={{
          amountCents: 2_450_000,
          currency: "USD",
          asOf: "2026-11-01T00:00:00Z",
          method: "Depreciation model",
          factors: [
            { label: "Mileage above average", amountCents: -120_000 },
            { label: "Collision history", amountCents: -80_000, description: "minor, repaired" },
          ],
        }}
        loading={false}
        error={null}
      />,
    );
    const value = screen.getByRole("button", { name: "$24,500" });
    await userEvent.tab();
    expect(value).toHaveFocus();
    expect(value).toHaveAccessibleDescription(
      /Depreciation model as of 1 Nov 2026:.*Mileage above average −\$1,200.*Collision history −\$800 \(minor, repaired\)/,
    );
    expect(screen.getByText("estimated")).toBeInTheDocument();
    expect(screen.getByText(/≈/)).toHaveTextContent("≈ 52,500 mi");
    // The badge is a word of its own: a screen reader heard "52,500 miestimated".
    expect(screen.getByText("estimated").closest("dd")?.textContent).toBe("≈ 52,500 mi estimated");
    const badges = within(screen.getByRole("list", { name: "Maintenance status" })).getAllByRole(
      "listitem",
    );
    expect(badges[0]).toHaveTextContent("wipers · Overdue");
    expect(badges[2]).toHaveTextContent("tire rotation · Due soon");
    expect(badges[3]).toHaveTextContent("battery test · OK");
  });

  it("humanises the value's method and hides its tooltip on Escape until focus leaves", async () => {
    render(
      <VehicleHeader
        vehicle={vehicle}
        overview={overview}
        valuation={{
          amountCents: 2_450_000,
          currency: "USD",
          asOf: "2026-11-01T00:00:00Z",
          method: "dealer_appraisal",
          factors: [{ name: "high_mileage", amountCents: -120_000 }],
        }}
        loading={false}
        error={null}
      />,
    );
    const value = screen.getByRole("button", { name: "$24,500" });
    await userEvent.tab();
    expect(value).toHaveFocus();
    const tip = screen.getByRole("tooltip");
    expect(tip).toHaveTextContent(/^Dealer appraisal as of 1 Nov 2026:High mileage −\$1,200$/);
    expect(tip).toBeVisible();
    await userEvent.keyboard("{Escape}");
    expect(tip).not.toBeVisible();
    expect(value).toHaveFocus();
    // Focus leaves and comes back: the tooltip shows again.
    await userEvent.tab({ shift: true });
    await userEvent.tab();
    expect(value).toHaveFocus();
    expect(screen.getByRole("tooltip")).toBeVisible();
  });

  it("shows the fuel economy and a drop against the trailing average", () => {
    const withFuel = {
      ...overview,
      fuel: {
        unit: "mpg",
        distanceUnit: "mi",
        volumeUnit: "gal",
        fillUps: 5,
        totalVolume: 42.5,
        measuredDistance: 900,
        average: 27.69,
        latest: 24,
        trailingAverage: 30,
        drop: {
          eventId: "evt_5",
          economy: 24,
          trailingAverage: 30,
          dropPercent: 20,
          message: "fuel economy fell 20.0 % below this vehicle's trailing average",
        },
        costs: [],
        intervals: [],
      },
    } as unknown as Overview;
    render(<VehicleHeader vehicle={vehicle} overview={withFuel} loading={false} error={null} />);
    const economy = screen.getByText("Fuel economy").nextElementSibling!;
    expect(economy).toHaveTextContent("27.7 mpg");
    expect(within(economy as HTMLElement).getByRole("note")).toHaveTextContent(
      "latest 24.0 mpg, down 20 %",
    );
  });

  it("says when there is no value or reading yet", () => {
    render(<VehicleHeader vehicle={vehicle} loading={false} error={null} />);
    expect(screen.getByText("Not valued yet")).toBeInTheDocument();
    expect(screen.getByText("No reading yet")).toBeInTheDocument();
    expect(screen.getByText("No maintenance schedule yet.")).toBeInTheDocument();
  });

  it("shows what was spent in every currency, not only the first", () => {
    const twoCurrencies = {
      ...overview,
      costs: [
        { currency: "EUR", lifetimeCents: 100, last12MonthsCents: 120_000, byKind: {} },
        { currency: "USD", lifetimeCents: 100, last12MonthsCents: 169_500, byKind: {} },
      ],
    } as Overview;
    render(
      <VehicleHeader vehicle={vehicle} overview={twoCurrencies} loading={false} error={null} />,
    );
    expect(screen.getByTestId("spent-12-months")).toHaveTextContent("€1,200 · $1,695");
  });

  it("says when the vehicle was sold or archived, and tracks no maintenance for it", () => {
    const sold = soldDemoVehicle();
    const { unmount } = render(
      <VehicleHeader vehicle={sold} overview={overview} loading={false} error={null} />,
    );
    expect(screen.getByTestId("vehicle-retired")).toHaveTextContent(
      "Sold on 2 Mar 2026 for $12,000.",
    );
    expect(screen.queryByRole("list", { name: "Maintenance status" })).toBeNull();
    expect(screen.getByText("Not tracked: the vehicle is sold.")).toBeInTheDocument();
    unmount();
    const archived = demoVehicle({ status: "archived", archivedAt: "2026-01-05T10:00:00Z" });
    render(<VehicleHeader vehicle={archived} loading={false} error={null} />);
    expect(screen.getByTestId("vehicle-retired")).toHaveTextContent("Archived on 5 Jan 2026.");
  });

  it("marks a sold or archived vehicle's header, which lays it out for its notice (styles.css)", () => {
    const header = () => screen.getByRole("region", { name: /Toyota RAV4/ });
    const { unmount } = render(
      <VehicleHeader vehicle={soldDemoVehicle()} loading={false} error={null} />,
    );
    expect(header()).toHaveClass("vehicle-header", "retired-vehicle");
    unmount();
    const archived = demoVehicle({ status: "archived", archivedAt: "2026-01-05T10:00:00Z" });
    const again = render(<VehicleHeader vehicle={archived} loading={false} error={null} />);
    expect(header()).toHaveClass("retired-vehicle");
    again.unmount();
    render(<VehicleHeader vehicle={demoVehicle()} loading={false} error={null} />);
    expect(header()).not.toHaveClass("retired-vehicle");
  });

  it("shows a sold vehicle's sale, total cost of ownership and odometer at sale, not a value or estimate", () => {
    const sold = soldDemoVehicle();
    const value = {
      amountCents: 2_884_500,
      currency: "USD",
      asOf: "2026-12-02",
      kind: "current",
    } as Valuation;
    render(
      <VehicleHeader
        vehicle={sold}
        overview={{ ...overview, vehicle: sold }}
        valuation={value}
        loading={false}
        error={null}
      />,
    );
    expect(screen.queryByText("Current value")).toBeNull();
    expect(screen.queryByText("$28,845")).toBeNull();
    expect(screen.getByTestId("sale-price")).toHaveTextContent("$12,000 on 2 Mar 2026");
    expect(screen.getByTestId("total-cost-of-ownership")).toHaveTextContent(
      "$9,500 (purchase $20,000 + costs $1,500 − sale $12,000; 1 record in other currencies left out)",
    );
    // The odometer at the sale, never the estimate past it (52,500 mi "estimated" in the overview).
    expect(screen.getByText("Odometer at sale")).toBeInTheDocument();
    expect(screen.getByText("60,000 mi")).toBeInTheDocument();
    expect(screen.queryByText("estimated")).toBeNull();
  });

  it("does not claim there is no value or schedule yet when the overview could not be read", async () => {
    const onRetry = vi.fn();
    render(
      <VehicleHeader
        vehicle={vehicle}
        loading={false}
        error={new ApiError(0, "The server could not be reached. Check that vwc is running.")}
        onRetry={onRetry}
      />,
    );
    expect(screen.queryByText("Not valued yet")).toBeNull();
    expect(screen.queryByText("No maintenance schedule yet.")).toBeNull();
    expect(screen.getAllByText("Unavailable")).toHaveLength(2);
    expect(screen.getByRole("alert")).toHaveTextContent("The server could not be reached.");
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(onRetry).toHaveBeenCalled();
  });
});
