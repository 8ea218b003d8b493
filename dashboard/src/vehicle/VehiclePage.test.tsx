import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MaintenanceItem } from "../api/types";
import { RELOAD_AFTER_WRITE_MS } from "../api/useQuery";
import {
  demoVehicle,
  soldDemoVehicle,
  event,
  json,
  mockFetch,
  problem,
  renderWithApi,
} from "../test-utils";
import { PICKER_SETTLE_MS, pickerLabels, VehiclePage } from "./VehiclePage";

const vehicle = demoVehicle();
const oilChange = (status: MaintenanceItem["status"], reason: string) =>
  ({
    task: "oil_change",
    title: "Oil and filter change",
    status,
    reason,
    dueCycle: "1",
    enabled: true,
  }) as MaintenanceItem;

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

/** The chat pane's "Recommended maintenance" list, or null when it shows none. */
function recommended(): HTMLElement | null {
  return screen.queryByRole("heading", { name: "Recommended maintenance" })?.parentElement ?? null;
}

describe("VehiclePage", () => {
  it("tells vehicles with the same name apart in the picker, and only those", async () => {
    const a = demoVehicle({
      id: "veh_a",
      make: "Honda",
      model: "Accord",
      year: 2003,
      vin: "1HGCM82633A004352",
    });
    const b = demoVehicle({
      id: "veh_b",
      make: "Honda",
      model: "Accord",
      year: 2003,
      vin: "1HGCM82613A009999",
    });
    const rav4 = demoVehicle({ id: "veh_c" });
    mockFetch((url) => {
      if (url.pathname === "/v1/vehicles") return json({ items: [a, b, rav4], nextCursor: null });
      if (url.pathname.endsWith("/events")) return json({ items: [], nextCursor: null });
      if (url.pathname.endsWith("/overview"))
        return json({ vehicle: rav4, maintenance: [], costs: [] });
      return json({ items: [], prompts: [], recommendations: [] });
    });
    renderWithApi(<VehiclePage vehicleId="veh_c" />);
    const picker = await screen.findByLabelText("Vehicle");
    await within(picker).findByRole("option", { name: "2021 Toyota RAV4" });
    expect(
      within(picker)
        .getAllByRole("option")
        .map((o) => o.textContent),
    ).toEqual([
      "2003 Honda Accord · VIN …004352",
      "2003 Honda Accord · VIN …009999",
      "2021 Toyota RAV4",
    ]);
    // A plate each tells them apart as well; a nickname makes the names differ already.
    const labels = pickerLabels([
      { ...a, plate: "AB 123" },
      { ...b, plate: "CD 456" },
      { ...rav4, id: "veh_d", nickname: "Blue" },
      rav4,
    ]);
    expect([...labels.values()]).toEqual([
      "2003 Honda Accord · plate AB 123",
      "2003 Honda Accord · plate CD 456",
      "2021 Toyota RAV4 “Blue”",
      "2021 Toyota RAV4",
    ]);
  });

  it("reads a new vehicle's views again until they have caught up (404, then no value, then the value)", async () => {
    // Registered a moment ago in another tab: the read models have not seen it yet.
    const fresh = demoVehicle({ registeredAt: new Date().toISOString(), eventCount: 0 });
    const reads = { overview: 0, events: 0 };
    const valued = {
      amountCents: 277_700,
      currency: "USD",
      asOf: "2026-12-02",
      method: "fallback_average_new_price",
    };
    mockFetch((url) => {
      const path = url.pathname;
      if (path === "/v1/vehicles") return json({ items: [fresh], nextCursor: null });
      if (path.endsWith("/events")) {
        reads.events += 1;
        return reads.events === 1
          ? problem(404, "vehicle not found")
          : json({ items: [], nextCursor: null });
      }
      if (path.endsWith("/valuations")) return problem(404, "vehicle not found");
      if (path.endsWith("/overview")) {
        reads.overview += 1;
        if (reads.overview === 1) return problem(404, "vehicle not found");
        return json({
          vehicle: fresh,
          maintenance: [oilChange("ok", "Due in 6 months")],
          costs: [],
          valuation: reads.overview >= 3 ? valued : null,
        });
      }
      if (path.endsWith("/chat/suggestions")) return json({ prompts: [], recommendations: [] });
      return json({}, 404);
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />);
    // The 404 while it catches up is not said as an error.
    await screen.findByRole("heading", { level: 1, name: /RAV4/ });
    expect(await screen.findByRole("button", { name: "$2,777" }, { timeout: 4_000 })).toBeVisible();
    expect(screen.queryByText(/vehicle not found/i)).toBeNull();
    // Caught up: it stops reading.
    const after = reads.overview;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(reads.overview).toBe(after);
  });

  it("reads the chat's recommended maintenance again after an event is recorded", async () => {
    Element.prototype.scrollIntoView = vi.fn(); // the recorded event is scrolled to; jsdom has no layout
    // The read models catch up through the bus: the first read of each after the write still gets the old
    // state, the next one the new. (Counted, not timed: on a busy machine the "at once" read came late enough
    // to pass a 500 ms clock, and the test saw two reads instead of three.)
    let recordedAt: number | undefined;
    const readsAfterWrite = { overview: 0, suggestions: 0 };
    const caughtUp = (what: keyof typeof readsAfterWrite) => {
      if (recordedAt === undefined) return false;
      readsAfterWrite[what] += 1;
      return readsAfterWrite[what] >= 2;
    };
    const suggestionReads: number[] = [];
    const fetch = mockFetch((url, init) => {
      const path = url.pathname;
      if (init.method === "POST") {
        recordedAt = Date.now();
        return json({ event: event("evt_new", "2026-03-21T12:00:00Z") }, 201);
      }
      if (path === "/v1/vehicles") return json({ items: [vehicle], nextCursor: null });
      if (path.endsWith("/events")) return json({ items: [], nextCursor: null });
      if (path.endsWith("/valuations")) return json({ items: [] });
      if (path.endsWith("/overview")) {
        const item = caughtUp("overview")
          ? oilChange("ok", "Done today")
          : oilChange("overdue", "Overdue by 30 days");
        return json({ vehicle, maintenance: [item], costs: [], recentEvents: [] });
      }
      if (path.endsWith("/chat/suggestions")) {
        suggestionReads.push(Date.now());
        const due = [
          { title: "Oil and filter change", reason: "Overdue by 30 days", status: "overdue" },
        ];
        return json({
          prompts: [],
          recommendations: caughtUp("suggestions") ? [] : due,
          recordCount: 3,
        });
      }
      return json({}, 404);
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />);

    await waitFor(() =>
      expect(recommended()).toHaveTextContent(/Oil and filter change.*Overdue by 30 days/),
    );
    await userEvent.click(screen.getByRole("button", { name: "Record event" }));
    const form = screen.getByRole("form", { name: "Record an event" });
    await userEvent.type(within(form).getByLabelText("Title"), "Oil and filter change");
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));

    // Read at once (still the old list) and again once the read models have caught up: none is due now.
    const [, secondRead] = RELOAD_AFTER_WRITE_MS;
    await waitFor(() => expect(recommended()).toBeNull(), { timeout: secondRead! + 2000 });
    expect(suggestionReads).toHaveLength(3);
    expect(suggestionReads[2]! - recordedAt!).toBeGreaterThanOrEqual(secondRead! - 50);
    const posts = fetch.mock.calls.filter((c) => c[1]?.method === "POST");
    expect(posts).toHaveLength(1);
    // Only the newest value is shown: the history is not read whole on every write.
    const valuationUrls = fetch.mock.calls
      .map((c) => String(c[0]))
      .filter((u) => u.includes("/valuations"));
    expect(valuationUrls.length).toBeGreaterThan(1);
    expect(valuationUrls.every((u) => u.endsWith("/valuations?limit=1"))).toBe(true);
  });

  it("offers to try again when the vehicles cannot be read, and claims nothing while requests fail", async () => {
    let up = false;
    mockFetch((url) => {
      const path = url.pathname;
      if (!up) throw new TypeError("Failed to fetch");
      if (path === "/v1/vehicles") return json({ items: [vehicle], nextCursor: null });
      if (path.endsWith("/events")) return json({ items: [], nextCursor: null });
      // The value and the overview fail (not a 404: the valuation service is there, the store is not).
      if (path.endsWith("/valuations")) return problem(503, "the store is unavailable");
      if (path.endsWith("/overview")) return problem(503, "the store is unavailable");
      if (path.endsWith("/chat/suggestions")) return json({ prompts: [], recommendations: [] });
      return json({}, 404);
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />);
    expect(await screen.findByRole("alert")).toHaveTextContent("The server could not be reached.");
    up = true;
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("heading", { level: 1, name: /RAV4/ })).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByText("Unavailable")).toHaveLength(2));
    expect(screen.queryByText("Not valued yet")).toBeNull();
    expect(screen.queryByText("No maintenance schedule yet.")).toBeNull();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("shows a sold vehicle as sold and recommends no maintenance for it", async () => {
    const sold = soldDemoVehicle();
    mockFetch((url) => {
      const path = url.pathname;
      if (path === "/v1/vehicles") return json({ items: [sold], nextCursor: null });
      if (path.endsWith("/events")) return json({ items: [], nextCursor: null });
      if (path.endsWith("/valuations")) return json({ items: [] });
      if (path.endsWith("/overview"))
        return json({
          vehicle: sold,
          maintenance: [oilChange("overdue", "Overdue by 30 days")],
          costs: [],
          recentEvents: [],
        });
      // The historian is not deployed: its fallback would be the scheduler's items.
      return problem(404, "route not found");
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />);
    expect(await screen.findByTestId("vehicle-retired")).toHaveTextContent("Sold on 2 Mar 2026");
    await screen.findByText(/not available on this server yet/);
    expect(recommended()).toBeNull();
  });

  it("lists vehicles by name and opens one once the arrow keys stop, not at every key", async () => {
    window.location.hash = "#/vehicles/veh_1";
    const b = demoVehicle({ id: "veh_b", make: "Audi", model: "A4", year: 2019 });
    const c = demoVehicle({ id: "veh_c", make: "Ford", model: "Focus", year: 2020 });
    const a = demoVehicle({ id: "veh_a", make: "Ford", model: "Focus", year: 2020 });
    const fetch = mockFetch((url) => {
      if (url.pathname === "/v1/vehicles") return json({ items: [vehicle, c, b, a] });
      if (url.pathname.endsWith("/overview"))
        return json({ vehicle, maintenance: [], costs: [], recentEvents: [] });
      return json({ items: [], nextCursor: null });
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />);
    await screen.findByRole("option", { name: "2019 Audi A4" });
    const picker = screen.getByRole("combobox", { name: "Vehicle" });
    // By name, then id (the two Focuses).
    expect(
      within(picker)
        .getAllByRole("option")
        .map((o) => o.getAttribute("value")),
    ).toEqual(["veh_b", "veh_a", "veh_c", "veh_1"]);
    const overviews = () =>
      fetch.mock.calls.filter((call) => String(call[0]).endsWith("/overview")).length;
    // The page's own overview request may come after the options are listed: count from after it.
    await waitFor(() => expect(overviews()).toBeGreaterThan(0));
    const before = overviews();

    // Chromium's closed select: every arrow key changes the value.
    for (const id of ["veh_c", "veh_a", "veh_b"]) {
      fireEvent.keyDown(picker, { key: "ArrowUp" });
      fireEvent.change(picker, { target: { value: id } });
    }
    expect(picker).toHaveValue("veh_b");
    expect(window.location.hash).toBe("#/vehicles/veh_1");
    await waitFor(() => expect(window.location.hash).toBe("#/vehicles/veh_b"), {
      timeout: PICKER_SETTLE_MS + 1000,
    });
    expect(overviews()).toBe(before);

    // Enter opens the choice at once.
    fireEvent.keyDown(picker, { key: "ArrowDown" });
    fireEvent.change(picker, { target: { value: "veh_a" } });
    fireEvent.keyDown(picker, { key: "Enter" });
    expect(window.location.hash).toBe("#/vehicles/veh_a");

    // A choice with the pointer opens at once.
    await new Promise((r) => setTimeout(r, 150));
    await userEvent.selectOptions(picker, "veh_c");
    expect(window.location.hash).toBe("#/vehicles/veh_c");
    window.location.hash = "";
  });
});
