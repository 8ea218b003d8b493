import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FleetRow } from "../api/types";
import { json, mockFetch, renderWithApi } from "../test-utils";
import { FLEET_PAGE_SIZE, FleetPage } from "./FleetPage";

function row(i: number, overdue: number): FleetRow {
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
  };
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

    await userEvent.click(screen.getByRole("button", { name: /^Vehicle/ }));
    expect(within(table).getAllByRole("row")[1]).toHaveTextContent("Transit 000");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByText(/^Page 2 of/)).toBeInTheDocument();
  });

  it("sums each vehicle's cost over every page of the costs by vehicle", async () => {
    // Two vehicles; the costs route answers one group a page, the second vehicle's on the second page.
    const pages: Record<string, { key: string; totalCents: number; next: string | null }> = {
      "": { key: "veh_0", totalCents: 1_000, next: "c2" },
      c2: { key: "veh_1", totalCents: 24_000, next: null },
    };
    const fetch = mockFetch((url) => {
      if (url.pathname === "/v1/fleet/overview")
        return json({ items: [row(0, 0), row(1, 0)], nextCursor: null, totals: {} });
      if (url.pathname === "/v1/fleet/costs" && url.searchParams.get("groupBy") === "vehicle") {
        const page = pages[url.searchParams.get("cursor") ?? ""]!;
        return json({
          groupBy: "vehicle",
          items: [{ key: page.key, currency: "USD", totalCents: page.totalCents, events: 1 }],
          nextCursor: page.next,
          totals: [{ currency: "USD", totalCents: 25_000, events: 2 }],
        });
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
    const costCalls = fetch.mock.calls
      .map(([input]) => new URL(String(input), "http://localhost"))
      .filter((u) => u.searchParams.get("groupBy") === "vehicle");
    expect(costCalls.map((u) => u.searchParams.get("cursor"))).toEqual([null, "c2"]);
  });
});
