import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FleetRow } from "../api/types";
import { json, mockFetch, renderWithApi } from "../test-utils";
import { FLEET_PAGE_SIZE, FleetPage } from "./FleetPage";

function row(i: number, overdue: number, overrides: Partial<FleetRow> = {}): FleetRow {
  return {
    id: `veh_${i}`,
    orgId: "org_demo",
    vin: `VIN${String(i).padStart(14, "0")}`,
    year: 2020,
    make: "Ford",
    model: `Transit ${String(i).padStart(3, "0")}`,
    odometerUnit: "mi",
    registeredAt: "2024-01-01T00:00:00Z",
    eventCount: 1,
    odometer: { value: 1000 * (i + 1), unit: "mi", asOf: "2026-01-01T00:00:00Z", estimated: false },
    dueSoon: 0,
    overdue,
    purchaseRecorded: false,
    lifetimeCost: [],
    ...overrides,
  };
}

/** A lifetime cost in one currency, as a fleet row carries it. */
function lifetime(totalCents: number, currency = "USD") {
  return { currency, totalCents };
}

/** The paths (with their queries) the page asked for. */
function asked(fetch: ReturnType<typeof mockFetch>): string[] {
  return fetch.mock.calls.map(([input]) => {
    const u = new URL(String(input), "http://localhost");
    return `${u.pathname}?${u.searchParams}`;
  });
}

/** The table's rows (not its header) by the vehicle's model. */
function tableRows(): HTMLElement[] {
  return within(screen.getByRole("table", { name: "" }))
    .getAllByRole("row")
    .slice(1);
}

function cells(model: string): string[] {
  const r = tableRows().find((tr) => tr.textContent?.includes(model));
  if (!r) throw new Error(`no row for ${model}`);
  return [...r.children].map((c) => c.textContent ?? "");
}

afterEach(() => vi.unstubAllGlobals());

describe("FleetPage", () => {
  it("reads every page of the fleet, sorts across all of them and pages the table", async () => {
    // 230 vehicles over two API pages; the one with the most overdue items is on the second page.
    const all = Array.from({ length: 230 }, (_, i) => row(i, i === 220 ? 9 : i % 3));
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview") {
        const second = url.searchParams.get("cursor") === "next";
        const items = second ? all.slice(200) : all.slice(0, 200);
        return json({
          items,
          nextCursor: second ? null : "next",
          totals: { vehicles: items.length, dueSoon: 0, overdue: 0 },
        });
      }
      if (url.pathname === "/v1/fleet/costs") return json({ groupBy: "kind", items: [] });
      return json({ items: [] });
    });
    renderWithApi(<FleetPage />);
    expect(
      await screen.findByText(`Page 1 of ${Math.ceil(230 / FLEET_PAGE_SIZE)} · 230 vehicles`),
    ).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "" });
    const firstRow = within(table).getAllByRole("row")[1]!;
    expect(firstRow).toHaveTextContent("Transit 220");
    expect(within(table).getAllByRole("row")).toHaveLength(FLEET_PAGE_SIZE + 1);
    expect(screen.getByTestId("fleet-vehicles")).toHaveTextContent("230");
    // Items overdue (0, 1 or 2 a vehicle, 9 for one) against the vehicles with any: 153 of the 230.
    const items = all.reduce((n, r) => n + r.overdue, 0);
    expect(screen.getByTestId("fleet-overdue")).toHaveTextContent(String(items));
    expect(screen.getByTestId("fleet-vehicles-overdue")).toHaveTextContent("153");

    await userEvent.click(screen.getByRole("button", { name: /^Vehicle/ }));
    expect(within(table).getAllByRole("row")[1]).toHaveTextContent("Transit 000");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByText(/^Page 2 of/)).toBeInTheDocument();
  });

  it("takes each vehicle's lifetime cost from its fleet row, over every page, reading no cost or timeline per vehicle", async () => {
    // Two vehicles on two pages of the fleet, each row with its lifetime cost.
    const pages: Record<string, { row: FleetRow; next: string | null }> = {
      "": { row: row(0, 0, { lifetimeCost: [lifetime(1_000)] }), next: "f2" },
      f2: {
        row: row(1, 0, { lifetimeCost: [lifetime(24_000)], purchaseRecorded: true }),
        next: null,
      },
    };
    const fetch = mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview") {
        const page = pages[url.searchParams.get("cursor") ?? ""]!;
        return json({ items: [page.row], nextCursor: page.next, totals: {} });
      }
      if (url.pathname === "/v1/fleet/costs") return json({ groupBy: "kind", items: [] });
      return json({ items: [] });
    });
    renderWithApi(<FleetPage />);
    expect(await screen.findByText("$250")).toBeInTheDocument();
    // Cost per mile, in dollars: $10 over 1,000 mi, $240 over 2,000 mi, and the fleet's $250 over 3,000 mi.
    const table = screen.getByRole("table", { name: "" });
    const perMile = within(table)
      .getAllByRole("row")
      .slice(1)
      .map((r) => r.lastElementChild?.textContent);
    expect(perMile.sort()).toEqual(["$0.01", "$0.12"]);
    expect(screen.getByText("$0.08")).toBeInTheDocument();
    // The fleet's two pages and the chart's months: no costs by vehicle, no vehicle's timeline.
    const paths = asked(fetch);
    expect(paths.filter((p) => p.startsWith("/v1/fleet/overview"))).toHaveLength(2);
    expect(paths.filter((p) => p.includes("groupBy=vehicle"))).toEqual([]);
    expect(paths.filter((p) => p.startsWith("/v1/vehicles/"))).toEqual([]);
  });

  it("shows a cost per distance below one cent as under a cent, not as nothing", async () => {
    // £30 over 9,000 mi: a third of a penny a mile.
    const rav4 = row(0, 0, {
      make: "Toyota",
      model: "RAV4",
      odometer: { value: 9_000, unit: "mi", asOf: "2026-01-01T00:00:00Z", estimated: false },
      lifetimeCost: [lifetime(3_000, "GBP")],
    });
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [rav4], nextCursor: null, totals: {} });
      if (url.pathname === "/v1/fleet/costs") return json({ groupBy: "kind", items: [] });
      return json({ items: [] });
    });
    renderWithApi(<FleetPage />);
    await waitFor(() => expect(screen.getByTestId("fleet-cost")).toHaveTextContent("£30"));
    expect(cells("RAV4").slice(-1)).toEqual(["< £0.01"]);
    expect(screen.getByTestId("fleet-cost-per-distance")).toHaveTextContent("< £0.01");
  });

  it("shows every currency and each vehicle's own unit, converting only across units and saying so", async () => {
    // The first vehicle costs euros and reads in km; the second costs only dollars and reads in miles.
    const golf = row(0, 0, {
      make: "Volkswagen",
      model: "Golf",
      odometerUnit: "km",
      odometer: { value: 10_000, unit: "km", asOf: "2026-01-01T00:00:00Z", estimated: false },
      lifetimeCost: [lifetime(100_000, "EUR")],
    });
    const rav4 = row(1, 0, {
      make: "Toyota",
      model: "RAV4",
      odometer: { value: 7_000, unit: "mi", asOf: "2026-01-01T00:00:00Z", estimated: false },
      lifetimeCost: [lifetime(50_000)],
    });
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [golf, rav4], nextCursor: null, totals: {} });
      if (url.pathname === "/v1/fleet/costs")
        return json({
          groupBy: "kind",
          items: [
            { key: "maintenance", currency: "EUR", totalCents: 1_000, events: 1 },
            { key: "repair", currency: "USD", totalCents: 2_000, events: 1 },
          ],
          totals: [],
          fuel: [],
        });
      return json({ items: [] });
    });
    renderWithApi(<FleetPage />);
    await waitFor(() =>
      expect(screen.getByTestId("fleet-cost")).toHaveTextContent("€1,000 · $500"),
    );
    // Each vehicle's cost in its own currency (not €0 for the dollar one), per distance in its own unit.
    expect(cells("RAV4").slice(-2)).toEqual(["$500", "$0.07/mi"]);
    expect(cells("Golf").slice(-2)).toEqual(["€1,000", "€0.10/km"]);
    expect(screen.getByRole("button", { name: /^Cost per distance/ })).toBeInTheDocument();
    // The fleet's cost per km: euros over the Golf's 10,000 km, dollars over the RAV4's 7,000 mi in km.
    expect(screen.getByText("Cost per km (miles converted)")).toBeInTheDocument();
    expect(screen.getByTestId("fleet-cost-per-distance")).toHaveTextContent("€0.10 · $0.04");
    expect(screen.getByTestId("fleet-cost-per-distance")).toHaveAttribute(
      "title",
      expect.stringContaining("1 mi = 1.609344 km"),
    );
    // A chart per currency.
    const charts = await screen.findAllByTestId("cost-chart");
    expect(charts.map((c) => c.getAttribute("aria-label"))).toEqual([
      expect.stringContaining("in EUR: €120"),
      expect.stringContaining("in USD: $240"),
    ]);
    // 7,000 mi is farther than 10,000 km.
    await userEvent.click(screen.getByRole("button", { name: /^Odometer/ }));
    expect(tableRows()[0]).toHaveTextContent("RAV4");
    await userEvent.click(screen.getByRole("button", { name: /^Odometer/ }));
    expect(tableRows()[0]).toHaveTextContent("Golf");
  });

  it("shows each row's current value from the fleet rows, sorts by it and totals it, reading no valuation", async () => {
    const value = (amountCents: number) => ({ amountCents, currency: "USD", asOf: "2026-12-02" });
    const fetch = mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({
          items: [
            row(0, 2, { currentValue: value(1_000_000) }),
            row(1, 1, { currentValue: value(2_896_500) }),
            row(2, 0, { currentValue: null }),
          ],
          nextCursor: null,
          totals: {
            vehicles: 3,
            dueSoon: 0,
            overdue: 3,
            value: [{ currency: "USD", totalCents: 3_896_500, vehicles: 2 }],
          },
        });
      return json({ groupBy: "kind", items: [], totals: [], fuel: [] });
    });
    renderWithApi(<FleetPage />);
    await screen.findByText("$28,965");
    expect(cells("Transit 000")[4]).toBe("$10,000");
    expect(cells("Transit 002")[4]).toBe("—");
    expect(screen.getByTestId("fleet-value")).toHaveTextContent("$38,965");
    expect(screen.getByTestId("fleet-totals-scope")).toHaveTextContent(
      "sold and archived vehicles are left out",
    );
    await userEvent.click(screen.getByRole("button", { name: /^Value/ }));
    expect(tableRows().map((r) => r.querySelector("a")?.textContent)).toEqual([
      "2020 Ford Transit 001",
      "2020 Ford Transit 000",
      "2020 Ford Transit 002",
    ]);
    expect(screen.getByRole("columnheader", { name: /Value/ })).toHaveAttribute(
      "aria-sort",
      "descending",
    );
    const paths = fetch.mock.calls.map(
      ([input]) => new URL(String(input), "http://localhost").pathname,
    );
    expect(paths.filter((p) => p.includes("/valuations"))).toEqual([]);
  });

  it("totals the lifetime cost over the rows (the fleet now), not the API's total with sold vehicles", async () => {
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({
          items: [
            row(0, 0, { lifetimeCost: [lifetime(10_000)] }),
            row(1, 0, { lifetimeCost: [lifetime(20_000)] }),
          ],
          nextCursor: null,
          totals: { value: [] },
        });
      // The costs' totals hold a vehicle sold since: not in the fleet's rows, not in its lifetime cost.
      return json({
        groupBy: "kind",
        items: [],
        totals: [{ currency: "USD", totalCents: 3_555_200, events: 11 }],
        fuel: [],
      });
    });
    renderWithApi(<FleetPage />);
    await waitFor(() => expect(screen.getByTestId("fleet-cost")).toHaveTextContent("$300"));
    expect(screen.getByTestId("fleet-vehicles")).toHaveTextContent("2");
    // $300 over the two vehicles' 1,000 + 2,000 mi: the same vehicles as the cost.
    expect(screen.getByTestId("fleet-cost-per-distance")).toHaveTextContent("$0.10");
  });

  it("shows the lifetime cost the server counted, the registration's price included, in its own currency", async () => {
    // A Golf registered with a price in euros and nothing recorded (the row's cost is that price); a RAV4
    // whose acquisition record is the purchase, and a repair in euros; a Transit with neither.
    const golf = row(0, 0, {
      make: "Volkswagen",
      model: "Golf",
      odometerUnit: "km",
      odometer: null,
      eventCount: 0,
      purchasePriceCents: 3_150_000,
      purchaseCurrency: "EUR",
      lifetimeCost: [lifetime(3_150_000, "EUR")],
      currentValue: { amountCents: 3_150_000, currency: "EUR", asOf: "2026-12-02" },
    });
    const rav4 = row(1, 0, {
      make: "Toyota",
      model: "RAV4",
      eventCount: 3,
      purchasePriceCents: 2_000_000,
      purchaseCurrency: "USD",
      purchaseRecorded: true,
      lifetimeCost: [lifetime(2_050_000), lifetime(10_000, "EUR")],
    });
    const transit = row(2, 0, { odometer: null, eventCount: 0 });
    const fetch = mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [golf, rav4, transit], nextCursor: null, totals: {} });
      return json({ groupBy: "kind", items: [], totals: [], fuel: [] });
    });
    renderWithApi(<FleetPage />);
    await waitFor(() =>
      expect(screen.getByTestId("fleet-cost")).toHaveTextContent("€31,600 · $20,500"),
    );
    expect(cells("Golf")[5]).toBe("€31,500");
    // By currency code, as every amount list.
    expect(cells("RAV4")[5]).toBe("€100 · $20,500");
    // Nothing recorded and no price: no amount, in no currency.
    expect(cells("Transit 002")[5]).toBe("—");
    // No vehicle was asked for its acquisition records.
    expect(asked(fetch).filter((p) => p.startsWith("/v1/vehicles/"))).toEqual([]);
  });

  it("says no lifetime cost is recorded rather than $0 in a currency the fleet has not", async () => {
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [row(0, 0, { eventCount: 0 })], nextCursor: null, totals: {} });
      return json({ groupBy: "vehicle", items: [], nextCursor: null, totals: [], fuel: [] });
    });
    renderWithApi(<FleetPage />);
    await waitFor(() =>
      expect(screen.getByTestId("fleet-cost")).toHaveTextContent("None recorded"),
    );
    expect(cells("Transit 000")[5]).toBe("—");
  });

  it("offers to try again when the server cannot be reached", async () => {
    let up = false;
    mockFetch((url) => {
      if (!up) throw new TypeError("Failed to fetch");
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [row(0, 0)], nextCursor: null, totals: {} });
      return json({ groupBy: "kind", items: [], totals: [], fuel: [] });
    });
    renderWithApi(<FleetPage />);
    // Every read failed the same way: said once, with one "Try again" that reads everything again.
    const retry = await screen.findByRole("button", { name: "Try again" });
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(1));
    expect(screen.getAllByRole("button", { name: "Try again" })).toHaveLength(1);
    expect(screen.getByRole("alert")).toHaveTextContent("The server could not be reached.");
    // Without vehicles to say a unit, the tile does not guess one.
    expect(screen.getByText("Cost per distance")).toBeInTheDocument();
    // The totals say they are unavailable rather than "…" for good.
    for (const id of [
      "fleet-vehicles",
      "fleet-due-soon",
      "fleet-overdue",
      "fleet-vehicles-overdue",
      "fleet-value",
      "fleet-cost",
      "fleet-cost-per-distance",
    ])
      expect(screen.getByTestId(id)).toHaveTextContent("Unavailable");
    up = true;
    await userEvent.click(retry);
    expect(await screen.findByText("2020 Ford Transit 000")).toBeInTheDocument();
    expect(await screen.findByTestId("cost-chart")).toBeInTheDocument();
    expect(screen.getByText("Page 1 of 1 · 1 vehicle")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
  });

  it("keeps focus on the pager's buttons at either end and announces the page", async () => {
    const all = Array.from({ length: FLEET_PAGE_SIZE + 5 }, (_, i) => row(i, 0));
    mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: all, nextCursor: null, totals: {} });
      return json({ groupBy: "kind", items: [], totals: [] });
    });
    renderWithApi(<FleetPage />);
    const status = await screen.findByText(/^Page 1 of 2/);
    expect(status).toHaveAttribute("role", "status");
    const next = screen.getByRole("button", { name: "Next" });
    const previous = screen.getByRole("button", { name: "Previous" });
    expect(previous).toHaveAttribute("aria-disabled", "true");

    await userEvent.click(next);
    expect(status).toHaveTextContent(/^Page 2 of 2/);
    // The last page: "Next" stays focusable (aria-disabled, not disabled) and does nothing.
    expect(next).not.toBeDisabled();
    expect(next).toHaveAttribute("aria-disabled", "true");
    expect(next).toHaveFocus();
    await userEvent.click(next);
    expect(status).toHaveTextContent(/^Page 2 of 2/);

    await userEvent.click(previous);
    expect(status).toHaveTextContent(/^Page 1 of 2/);
    expect(previous).not.toBeDisabled();
    expect(previous).toHaveFocus();
  });
});
