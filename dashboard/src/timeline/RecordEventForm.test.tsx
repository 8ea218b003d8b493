import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { VehicleEvent } from "../api/types";
import {
  demoVehicle,
  event,
  expectHelpLinked,
  json,
  mockFetch,
  problem,
  renderWithApi,
} from "../test-utils";
import { buildEvent, newKey, readTasks, RecordEventForm, today } from "./RecordEventForm";

const zone = process.env.TZ;
afterEach(() => {
  vi.unstubAllGlobals();
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
  price: "",
  volume: "",
  volumeUnit: "gal",
  fullTank: "yes",
  reason: "",
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

  it("reads a cost, a value and a volume typed with a decimal comma as written", () => {
    expect(
      buildEvent({ ...fields, kind: "fuel", cost: "62,40", volume: "38,5", volumeUnit: "l" }).body,
    ).toMatchObject({ costCents: 6240, details: { volume: 38.5, volumeUnit: "l" } });
    expect(buildEvent({ ...fields, cost: "89,99" }).body).toMatchObject({ costCents: 8999 });
    expect(buildEvent({ ...fields, kind: "valuation", amount: "24.500" }).body).toMatchObject({
      details: { amountCents: 2_450_000 },
    });
    expect(
      buildEvent({ ...fields, kind: "acquisition", cost: "27.490,50", price: "27.000" }).body,
    ).toMatchObject({ costCents: 2_749_050, details: { priceCents: 2_700_000 } });
  });

  it("sends a purchase price with its currency when no cost is written", () => {
    expect(
      buildEvent({ ...fields, kind: "acquisition", cost: "", currency: "EUR", price: "27000" })
        .body,
    ).toEqual(expect.objectContaining({ currency: "EUR", details: { priceCents: 2_700_000 } }));
  });

  it("says how to write an amount it cannot read without guessing", () => {
    const help = "Write the amount with at most 2 decimals, such as 1234.50, 1,234.50 or 1.234,50.";
    expect(buildEvent({ ...fields, cost: "1,2,3" }).errors).toEqual({ costCents: help });
    expect(buildEvent({ ...fields, kind: "valuation", amount: "12.345.6" }).errors).toEqual({
      "details.amountCents": help,
    });
    expect(buildEvent({ ...fields, kind: "fuel", volume: "11.235" }).errors).toEqual({
      "details.volume": "Write the volume with at most 2 decimals, such as 38.5 or 38,5.",
    });
  });

  it("records a task typed by its title as its code, and says when a task is not a known one", () => {
    const known = [
      { task: "cabin_air_filter", title: "Cabin air filter replacement" },
      { task: "oil_change", title: "Oil and filter change" },
    ];
    expect(readTasks("Cabin air filter replacement, oil_change, Brake pads", known)).toEqual({
      tasks: ["cabin_air_filter", "oil_change", "brake_pads"],
      unknown: ["Brake pads"],
    });
    expect(readTasks("cabin  AIR filter replacement, cabin_air_filter", known).tasks).toEqual([
      "cabin_air_filter",
    ]);
    expect(
      buildEvent({ ...fields, tasks: "Cabin air filter replacement" }, known).body,
    ).toMatchObject({ details: { tasks: ["cabin_air_filter"] } });
  });

  it("offers the vehicle's maintenance items as tasks to tick, and warns of a task that is none of them", async () => {
    const items = [
      { task: "oil_change", title: "Oil and filter change" },
      { task: "cabin_air_filter", title: "Cabin air filter replacement" },
      { task: "wiper_blades", title: "Wiper blade replacement" },
    ].map((i) => ({ ...i, enabled: true, dueCycle: "c1", reason: "", status: "overdue" }));
    const fetch = mockFetch((url, init) =>
      init.method === "POST"
        ? json({ event: event("evt_1", "2026-03-02T12:00:00Z") }, 201)
        : url.pathname === "/v1/vehicles/veh_1/maintenance"
          ? json({ vehicleId: "veh_1", items })
          : problem(404, "not found"),
    );
    renderWithApi(<RecordEventForm vehicle={demoVehicle()} onCancel={() => {}} />);
    const form = screen.getByRole("form", { name: "Record an event" });
    const items_ = await within(form).findByRole("group", {
      name: "This vehicle's maintenance items",
    });
    expect(within(items_).getByRole("checkbox", { name: "Oil and filter change" })).toBeChecked();
    const tasks = within(form).getByLabelText("Tasks");
    await userEvent.clear(tasks);
    await userEvent.type(tasks, "Cabin air filter replacement, Brake pads");
    expect(
      within(items_).getByRole("checkbox", { name: "Oil and filter change" }),
    ).not.toBeChecked();
    expect(
      within(items_).getByRole("checkbox", { name: "Cabin air filter replacement" }),
    ).toBeChecked();
    const warning =
      "“Brake pads” is not one of this vehicle's maintenance items: recorded as a custom task, it clears nothing on the schedule.";
    expect(within(form).getByText(warning)).toBeVisible();
    expect(tasks).toHaveAccessibleDescription(
      `${warning} Tick this vehicle's items below, or type tasks by name or code, comma-separated`,
    );
    await userEvent.click(
      within(items_).getByRole("checkbox", { name: "Wiper blade replacement" }),
    );
    expect(tasks).toHaveValue("Cabin air filter replacement, Brake pads, wiper_blades");
    await userEvent.click(
      within(items_).getByRole("checkbox", { name: "Cabin air filter replacement" }),
    );
    expect(tasks).toHaveValue("Brake pads, wiper_blades");
    await userEvent.click(
      within(items_).getByRole("checkbox", { name: "Cabin air filter replacement" }),
    );
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() => expect(fetch.mock.calls.some((c) => c[1]?.method === "POST")).toBe(true));
    const post = fetch.mock.calls.find((c) => c[1]?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body)).details).toEqual({
      tasks: ["brake_pads", "wiper_blades", "cabin_air_filter"],
    });
  });

  it("refuses a missing or impossible date before sending", () => {
    expect(buildEvent({ ...fields, date: "" }).errors).toEqual({
      occurredAt: "Enter the date, such as 2026-03-02.",
    });
    expect(buildEvent({ ...fields, date: "2026-02-30" }).body).toBeUndefined();
  });

  it("keeps focus on Record while it records, and records once however often it is pressed", async () => {
    let answer: (r: Response) => void = () => {};
    const fetch = mockFetch((url) =>
      url.pathname.endsWith("/maintenance")
        ? json({ vehicleId: "veh_1", items: [] })
        : new Promise<Response>((r) => (answer = r)),
    );
    const posts = () => fetch.mock.calls.filter((c) => c[1]?.method === "POST");
    const onRecorded = vi.fn();
    renderWithApi(
      <RecordEventForm vehicle={demoVehicle()} onRecorded={onRecorded} onCancel={() => {}} />,
    );
    await userEvent.click(screen.getByRole("button", { name: "Record" }));
    const recording = screen.getByRole("button", { name: "Recording…" });
    // aria-disabled, not disabled: a disabled button drops focus to <body>.
    expect(recording).toHaveAttribute("aria-disabled", "true");
    expect(recording).not.toBeDisabled();
    expect(recording).toHaveFocus();
    await userEvent.click(recording);
    expect(posts()).toHaveLength(1);
    const recorded: VehicleEvent = event("evt_1", "2026-03-02T12:00:00Z");
    answer(json({ event: recorded }, 201));
    await waitFor(() => expect(onRecorded).toHaveBeenCalledWith(recorded, []));
  });

  it("hands on the server's warnings about the record it kept, as sentences", async () => {
    const recorded: VehicleEvent = event("evt_1", "2026-03-02T12:00:00Z");
    mockFetch((url) =>
      url.pathname.endsWith("/maintenance")
        ? json({ vehicleId: "veh_1", items: [] })
        : json(
            {
              event: recorded,
              warnings: [
                {
                  field: "odometer",
                  message: "4,125 mi is lower than the 41,250 mi recorded on 2026-02-01",
                },
              ],
            },
            201,
          ),
    );
    const onRecorded = vi.fn();
    renderWithApi(
      <RecordEventForm vehicle={demoVehicle()} onRecorded={onRecorded} onCancel={() => {}} />,
    );
    await userEvent.click(screen.getByRole("button", { name: "Record" }));
    await waitFor(() =>
      expect(onRecorded).toHaveBeenCalledWith(recorded, [
        "4,125 mi is lower than the 41,250 mi recorded on 2026-02-01.",
      ]),
    );
  });

  it("opens and records on plain http from another machine, where crypto.randomUUID is missing", async () => {
    const real = globalThis.crypto;
    vi.stubGlobal("crypto", {
      getRandomValues: <T extends ArrayBufferView>(a: T) => real.getRandomValues(a),
      subtle: real.subtle,
    });
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(newKey()).toMatch(uuid);
    expect(newKey()).not.toBe(newKey());
    const fetch = mockFetch(() => json({ event: event("evt_1", "2026-03-02T12:00:00Z") }, 201));
    const onRecorded = vi.fn();
    renderWithApi(
      <RecordEventForm vehicle={demoVehicle()} onRecorded={onRecorded} onCancel={() => {}} />,
    );
    await userEvent.click(screen.getByRole("button", { name: "Record" }));
    await waitFor(() => expect(onRecorded).toHaveBeenCalled());
    const post = fetch.mock.calls.find((c) => c[1]?.method === "POST");
    const headers = post![1]!.headers as Record<string, string>;
    expect(headers["Idempotency-Key"]).toMatch(uuid);
  });

  it("moves focus to the first field with an error once the server's 422 has rendered", async () => {
    mockFetch((url) =>
      url.pathname.endsWith("/maintenance")
        ? json({ vehicleId: "veh_1", items: [] })
        : problem(422, "invalid", [{ field: "odometer", message: "must be below 5000000" }]),
    );
    renderWithApi(<RecordEventForm vehicle={demoVehicle()} onCancel={() => {}} />);
    const form = screen.getByRole("form", { name: "Record an event" });
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    const odometer = within(form).getByLabelText("Odometer (mi)");
    await waitFor(() => expect(odometer).toHaveAttribute("aria-invalid", "true"));
    await waitFor(() => expect(odometer).toHaveFocus());
  });

  it("keeps an acquisition's purchase price following a cost typed key by key with decimals or separators", async () => {
    const fetch = mockFetch((url, init) =>
      url.pathname.endsWith("/maintenance")
        ? json({ vehicleId: "veh_1", items: [] })
        : init.method === "POST"
          ? json({ event: event("evt_1", "2026-03-02T00:00:00Z", "acquisition") }, 201)
          : json({ items: [] }),
    );
    renderWithApi(<RecordEventForm vehicle={demoVehicle()} onCancel={() => {}} />);
    const form = screen.getByRole("form", { name: "Record an event" });
    await userEvent.selectOptions(within(form).getByLabelText("Kind"), "acquisition");
    const cost = within(form).getByLabelText("Cost (USD)");
    const price = within(form).getByLabelText("Purchase price (USD)");
    for (const typed of ["99.9", "8,500.00", "1234,50", "1234.50"]) {
      await userEvent.clear(cost);
      await userEvent.type(cost, typed);
      expect(price).toHaveValue(typed);
    }
    // Deleting back through the decimal point follows too.
    await userEvent.type(cost, "{Backspace}{Backspace}{Backspace}75");
    expect(cost).toHaveValue("123475");
    expect(price).toHaveValue("123475");
    // Once the price is changed on its own, the cost no longer moves it.
    await userEvent.clear(price);
    await userEvent.type(price, "1200.");
    await userEvent.type(cost, "0");
    expect(price).toHaveValue("1200.");
    await userEvent.type(price, "5");
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() =>
      expect(fetch.mock.calls.filter(([, i]) => i?.method === "POST")).toHaveLength(1),
    );
    const [, init] = fetch.mock.calls.find(([, i]) => i?.method === "POST")!;
    const body = JSON.parse(String(init!.body)) as Record<string, unknown>;
    expect(body.costCents).toBe(123_475_000);
    expect(body.details).toEqual({ priceCents: 120_050 });
  });

  it("takes a field's error away once that field is changed, or a task is ticked", async () => {
    mockFetch((url, init) =>
      init.method === "POST"
        ? problem(422, "invalid", [
            { field: "costCents", message: "must not be negative" },
            { field: "details.tasks", message: "must name at least one task" },
          ])
        : url.pathname.endsWith("/maintenance")
          ? json({
              vehicleId: "veh_1",
              items: [
                {
                  task: "oil_change",
                  title: "Oil change",
                  enabled: true,
                  dueCycle: "c1",
                  reason: "",
                  status: "overdue",
                },
              ],
            })
          : json({ items: [] }),
    );
    renderWithApi(<RecordEventForm vehicle={demoVehicle()} onCancel={() => {}} />);
    const form = screen.getByRole("form", { name: "Record an event" });
    const cost = within(form).getByLabelText("Cost (USD)");
    await userEvent.type(cost, "12");
    await userEvent.click(await within(form).findByRole("checkbox", { name: "Oil change" }));
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() => expect(cost).toHaveAttribute("aria-invalid", "true"));
    const tasks = within(form).getByLabelText("Tasks");
    expect(tasks).toHaveAttribute("aria-invalid", "true");
    await userEvent.type(cost, "{Backspace}");
    expect(cost).not.toHaveAttribute("aria-invalid");
    expect(tasks).toHaveAttribute("aria-invalid", "true");
    await userEvent.click(within(form).getByRole("checkbox", { name: "Oil change" }));
    expect(tasks).not.toHaveAttribute("aria-invalid");
  });

  it("takes a two-field error away when either field changes: a price following its cost, a currency's", async () => {
    let answer = problem(422, "invalid", [
      { field: "details.priceCents", message: "must not be negative" },
    ]);
    mockFetch((url, init) =>
      init.method === "POST"
        ? answer
        : url.pathname.endsWith("/maintenance")
          ? json({ vehicleId: "veh_1", items: [] })
          : json({ items: [] }),
    );
    renderWithApi(
      <RecordEventForm vehicle={demoVehicle()} currencies={["USD", "EUR"]} onCancel={() => {}} />,
    );
    const form = screen.getByRole("form", { name: "Record an event" });
    await userEvent.selectOptions(within(form).getByLabelText("Kind"), "acquisition");
    const cost = within(form).getByLabelText("Cost (USD)");
    const price = within(form).getByLabelText("Purchase price (USD)");
    await userEvent.type(cost, "120");
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() => expect(price).toHaveAttribute("aria-invalid", "true"));
    // The price follows the cost: typing in Cost changes it, so its error goes too.
    await userEvent.type(cost, "0");
    expect(price).toHaveValue("1200");
    expect(price).not.toHaveAttribute("aria-invalid");

    // The server's error about the currency, shown under Cost, goes when the currency is changed.
    answer = problem(422, "invalid", [{ field: "currency", message: "is not an active currency" }]);
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() => expect(cost).toHaveAttribute("aria-invalid", "true"));
    await userEvent.selectOptions(within(form).getByLabelText("Currency"), "EUR");
    expect(within(form).getByLabelText("Cost (EUR)")).not.toHaveAttribute("aria-invalid");

    // A cost that cannot be read is not the currency's doing: changing the currency leaves its error.
    const euros = within(form).getByLabelText("Cost (EUR)");
    await userEvent.clear(euros);
    await userEvent.type(euros, "twelve");
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() => expect(euros).toHaveAttribute("aria-invalid", "true"));
    await userEvent.selectOptions(within(form).getByLabelText("Currency"), "USD");
    expect(within(form).getByLabelText("Cost (USD)")).toHaveAttribute("aria-invalid", "true");
  });

  it("names each hint and field error in its field's description, and marks a field in error invalid", async () => {
    mockFetch(() =>
      problem(422, "invalid", [
        { field: "details.tasks", message: "must name at least one task" },
        { field: "odometer", message: "must be below 5000000" },
      ]),
    );
    renderWithApi(<RecordEventForm vehicle={demoVehicle()} onCancel={() => {}} />);
    const form = screen.getByRole("form", { name: "Record an event" });
    const tasks = within(form).getByLabelText("Tasks");
    expect(tasks).toHaveAccessibleDescription("Comma-separated, e.g. oil_change, tire_rotation");
    expect(expectHelpLinked(form)).toBe(1);

    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    // The hint stays beside the error, and the field names both, the error first.
    expect(await within(form).findByText("Must name at least one task.")).toBeVisible();
    expect(tasks).toHaveAccessibleDescription(
      "Must name at least one task. Comma-separated, e.g. oil_change, tire_rotation",
    );
    expect(tasks).toHaveAttribute("aria-invalid", "true");
    expect(within(form).getByLabelText("Odometer (mi)")).toHaveAccessibleDescription(
      "Must be below 5000000.",
    );
    expect(expectHelpLinked(form)).toBe(3);

    // The kinds whose fields have hints: an acquisition's cost and price, a fuel fill's "Filled to full".
    await userEvent.selectOptions(within(form).getByLabelText("Kind"), "acquisition");
    expect(within(form).getByLabelText("Cost (USD)")).toHaveAccessibleDescription(
      "What was paid in all, fees and taxes included",
    );
    expect(within(form).getByLabelText("Purchase price (USD)")).toHaveAccessibleDescription(
      /^The vehicle's own price/,
    );
    expect(expectHelpLinked(form)).toBeGreaterThanOrEqual(2);
    await userEvent.selectOptions(within(form).getByLabelText("Kind"), "fuel");
    expect(within(form).getByLabelText("Filled to full")).toHaveAccessibleDescription(
      "A partial fill counts toward the next full one",
    );
    expect(expectHelpLinked(form)).toBeGreaterThanOrEqual(1);
  });
});
