import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Vehicle } from "../api/types";
import {
  demoVehicle,
  expectHelpLinked,
  json,
  mockFetch,
  problem,
  renderWithApi,
  soldDemoVehicle,
  type Handler,
} from "../test-utils";
import {
  buildChanges,
  buildSale,
  detailFields,
  exportFileName,
  importQuery,
  importSummary,
  saleInstant,
  saleMessage,
  vehicleActions,
} from "./VehicleActions";
import { sameState, VehiclePage, withChange } from "./VehiclePage";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const rav4 = demoVehicle({
  status: "active",
  nickname: "Blue",
  trim: "XLE",
  purchaseCurrency: "USD",
  lastEventAt: "2026-11-20T12:00:00Z",
  odometer: { value: 52_500, unit: "mi", asOf: "2026-11-20T12:00:00Z", estimated: false },
});

/** The vehicle page of an organisation with `vehicle`; `onWrite` answers PATCH and POST requests. */
function serve(vehicle: Vehicle, onWrite: Handler = () => json({}, 500)) {
  return mockFetch((url, init) => {
    const path = url.pathname;
    if (init.method && init.method !== "GET") return onWrite(url, init);
    if (path === "/v1/vehicles") return json({ items: [vehicle], nextCursor: null });
    if (path.endsWith("/events")) return json({ items: [], nextCursor: null });
    if (path.endsWith("/valuations")) return json({ items: [] });
    if (path.endsWith("/overview")) return json({ vehicle, maintenance: [], costs: [] });
    if (path.endsWith("/maintenance/calendar"))
      return json({
        calendarUrl: `http://localhost/calendar/org_demo/s1g/vehicles/${vehicle.id}/maintenance.ics`,
        calendarPath: `/calendar/org_demo/s1g/vehicles/${vehicle.id}/maintenance.ics`,
        rotatedAt: "2026-11-01T09:00:00Z",
      });
    return json({ items: [] });
  });
}

function writes(fetch: ReturnType<typeof mockFetch>) {
  return fetch.mock.calls
    .filter(([, i]) => i?.method && i.method !== "GET")
    .map(([u, i]) => ({
      url: String(u),
      method: i!.method,
      body: i!.body ? (JSON.parse(String(i!.body)) as Record<string, unknown>) : undefined,
    }));
}

async function openPage(vehicle: Vehicle, roles = ["owner"], onWrite?: Handler) {
  const fetch = serve(vehicle, onWrite);
  renderWithApi(<VehiclePage vehicleId={vehicle.id} />, vi.fn(), roles);
  const group = await screen.findByRole("group", { name: "Vehicle actions" });
  return { fetch, group, user: userEvent.setup() };
}

function buttonNames(group: HTMLElement): string[] {
  return within(group)
    .getAllByRole("button")
    .map((b) => b.textContent ?? "");
}

describe("the vehicle's actions", () => {
  it("are offered by role and by the vehicle's state", async () => {
    const all = [
      "Edit details",
      "Sell",
      "Archive",
      "Import records",
      "Export history",
      "Calendar link",
    ];
    expect(vehicleActions(rav4, ["owner"])).toEqual([
      "edit",
      "sell",
      "archive",
      "import",
      "export",
      "calendar",
    ]);
    expect(vehicleActions(rav4, ["fleet_manager"])).toHaveLength(6);
    expect(vehicleActions(rav4, ["viewer"])).toEqual(["export", "calendar"]);
    // A technician records service kinds only; an import may record any kind.
    expect(vehicleActions(rav4, ["technician", "viewer"])).toEqual(["export", "calendar"]);
    // Sold: archiving and the history's export still make sense; its feed has no events any more.
    expect(vehicleActions(soldDemoVehicle(), ["owner"])).toEqual(["archive", "export"]);
    expect(
      vehicleActions(demoVehicle({ status: "archived", archivedAt: "2026-11-01T00:00:00Z" }), [
        "owner",
      ]),
    ).toEqual(["export"]);

    const { group } = await openPage(rav4, ["owner"]);
    expect(buttonNames(group)).toEqual(all);
  });

  it("shows a viewer only the export and the calendar link", async () => {
    const { group } = await openPage(rav4, ["viewer"]);
    expect(buttonNames(group)).toEqual(["Export history", "Calendar link"]);
  });
});

describe("editing the details", () => {
  it("sends only what changed, a cleared field as null, and shows the new name", async () => {
    const { fetch, group, user } = await openPage(rav4, ["owner"], (_u, init) =>
      json({ ...rav4, ...JSON.parse(String(init.body)), trim: undefined, nickname: "Ruby" }),
    );
    await user.click(within(group).getByRole("button", { name: "Edit details" }));
    const dialog = await screen.findByRole("dialog", { name: "Edit the vehicle's details" });
    const nickname = within(dialog).getByLabelText("Nickname (optional)");
    await waitFor(() => expect(nickname).toHaveFocus());
    expect(nickname).toHaveValue("Blue");
    // Its odometer is on record: the unit cannot change, and is not offered.
    expect(within(dialog).queryByRole("group", { name: "Odometer unit" })).toBeNull();

    await user.clear(nickname);
    await user.type(nickname, "Ruby");
    await user.clear(within(dialog).getByLabelText("Trim (optional)"));
    await user.type(within(dialog).getByLabelText("Registration plate (optional)"), " 7ABC123 ");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));

    await waitFor(() =>
      expect(screen.queryByRole("dialog", { name: "Edit the vehicle's details" })).toBeNull(),
    );
    expect(writes(fetch)).toEqual([
      {
        url: "/v1/vehicles/veh_1",
        method: "PATCH",
        body: { nickname: "Ruby", trim: null, plate: "7ABC123" },
      },
    ]);
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("2021 Toyota RAV4 “Ruby”");
    expect(screen.getByText("7ABC123").parentElement).toHaveTextContent(/^plate 7ABC123 · VIN/);
    // The picker names it so too, before the list reads so.
    expect(screen.getByLabelText("Vehicle")).toHaveDisplayValue("2021 Toyota RAV4 “Ruby”");
    expect(screen.getByRole("button", { name: "Edit details" })).toHaveFocus();
    expect(screen.getByTestId("vehicle-action-status")).toHaveTextContent(
      "The vehicle's details were saved.",
    );
  });

  it("sends nothing when nothing changed, and shows a 422 beside its field", async () => {
    const { fetch, group, user } = await openPage(rav4, ["owner"], () =>
      problem(422, "invalid request", [
        { field: "plate", message: "must be at most 20 characters" },
      ]),
    );
    const opener = within(group).getByRole("button", { name: "Edit details" });
    await user.click(opener);
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Nothing has changed");
    expect(writes(fetch)).toEqual([]);

    const plate = within(dialog).getByLabelText("Registration plate (optional)");
    await user.type(plate, "7ABC123");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    await within(dialog).findByText("Must be at most 20 characters.");
    expect(plate).toHaveAttribute("aria-invalid", "true");
    expect(plate.getAttribute("aria-describedby")).toContain(
      within(dialog).getByText("Must be at most 20 characters.").id,
    );
    await waitFor(() => expect(plate).toHaveFocus());
    expect(expectHelpLinked(dialog)).toBeGreaterThan(1);

    // Escape closes it and focus returns to its button.
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(opener).toHaveFocus();
  });

  it("says beside the unit when the API keeps it, its readings recorded meanwhile", async () => {
    const fresh = demoVehicle({ status: "active", eventCount: 0 });
    const { fetch, group, user } = await openPage(fresh, ["owner"], () =>
      problem(
        409,
        "the odometer unit stays mi: the vehicle has odometer readings in it; correct or void them first",
      ),
    );
    await user.click(within(group).getByRole("button", { name: "Edit details" }));
    const dialog = await screen.findByRole("dialog");
    const units = within(dialog).getByRole("group", { name: "Odometer unit" });
    await user.click(within(units).getByLabelText("Kilometres (km)"));
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    const error = await within(units).findByRole("alert");
    expect(error).toHaveTextContent(/^The odometer unit stays mi/);
    expect(units.getAttribute("aria-describedby")).toContain(error.id);
    expect(within(units).getByLabelText("Kilometres (km)")).toHaveAttribute("aria-invalid", "true");
    expect(writes(fetch)[0]!.body).toEqual({ odometerUnit: "km" });
  });

  it("offers the odometer unit only while no reading is on record", () => {
    const fresh = demoVehicle({ status: "active", eventCount: 0 });
    const f = { ...detailFields(fresh), unit: "km" as const };
    expect(buildChanges(fresh, f, true)).toEqual({ odometerUnit: "km" });
    expect(buildChanges(fresh, f, false)).toBeUndefined();
    expect(buildChanges(rav4, { ...detailFields(rav4), plate: "  " }, false)).toBeUndefined();
  });
});

describe("selling", () => {
  it("checks the form, confirms what selling does, then shows the sale", async () => {
    const sold = {
      ...soldDemoVehicle(),
      nickname: "Blue",
      sale: {
        ...soldDemoVehicle().sale!,
        soldAt: "2026-11-30T12:00:00Z",
        priceCents: 2_000_000,
        odometer: 53_000,
      },
    };
    let answer: () => Response = () =>
      problem(422, "invalid request", [
        { field: "odometer", message: "must not be below the last recorded odometer (52500)" },
      ]);
    const { fetch, group, user } = await openPage(rav4, ["fleet_manager"], () => answer());
    await user.click(within(group).getByRole("button", { name: "Sell" }));
    const dialog = await screen.findByRole("dialog", { name: /^Sell 2021 Toyota RAV4/ });
    const date = within(dialog).getByLabelText("Date of sale");
    await waitFor(() => expect(date).toHaveFocus());
    expect(within(dialog).getByLabelText("Currency")).toHaveValue("USD");
    expect(
      within(dialog).getByText(/not below the last recorded reading, 52,500 mi/),
    ).toBeVisible();

    // Nothing typed: said before sending.
    await user.click(within(dialog).getByRole("button", { name: "Continue" }));
    expect(await within(dialog).findByText("Write the sale price.")).toBeVisible();
    expect(within(dialog).getByLabelText(/^Odometer at sale/)).toHaveAttribute(
      "aria-invalid",
      "true",
    );
    expect(writes(fetch)).toEqual([]);

    await user.clear(date);
    await user.type(date, "2026-11-30");
    await user.type(within(dialog).getByLabelText("Sale price (USD)"), "20.000");
    await user.type(within(dialog).getByLabelText(/^Odometer at sale/), "52,000");
    await user.click(within(dialog).getByRole("button", { name: "Continue" }));

    // The confirm step says what selling does; nothing is sent yet.
    const question = await within(dialog).findByText(
      /on 30 Nov 2026 for \$20,000\.00 at 52,000 mi\?$/,
    );
    await waitFor(() => expect(question).toHaveFocus());
    expect(question).toHaveTextContent("Sell 2021 Toyota RAV4 “Blue” on 30 Nov 2026");
    expect(dialog).toHaveTextContent(/No record dated after the sale can be added/);
    expect(dialog).toHaveTextContent(/value stops/);
    expect(dialog).toHaveTextContent(/leaves the fleet.s counts and totals/);
    expect(writes(fetch)).toEqual([]);

    // The API's 422: back to the form, beside the odometer, in words.
    await user.click(within(dialog).getByRole("button", { name: "Sell the vehicle" }));
    const odometer = await within(dialog).findByLabelText(/^Odometer at sale/);
    await within(dialog).findByText(
      "The odometer at the sale cannot be below the last recorded reading, 52,500 mi.",
    );
    expect(odometer).toHaveAttribute("aria-invalid", "true");
    await waitFor(() => expect(odometer).toHaveFocus());
    expect(writes(fetch)[0]).toEqual({
      url: "/v1/vehicles/veh_1/sell",
      method: "POST",
      body: {
        soldAt: "2026-11-30T12:00:00Z",
        priceCents: 2_000_000,
        currency: "USD",
        odometer: 52_000,
      },
    });

    answer = () => json(sold);
    await user.clear(odometer);
    await user.type(odometer, "53000");
    await user.click(within(dialog).getByRole("button", { name: "Continue" }));
    await user.click(await within(dialog).findByRole("button", { name: "Sell the vehicle" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(screen.getByTestId("sale-price")).toHaveTextContent("$20,000");
    expect(screen.getByTestId("vehicle-retired")).toHaveTextContent("Sold on 30 Nov 2026");
    const status = screen.getByTestId("vehicle-action-status");
    expect(status).toHaveTextContent("The vehicle is sold: it has left the fleet.");
    expect(status).toHaveFocus();
    expect(buttonNames(screen.getByRole("group", { name: "Vehicle actions" }))).toEqual([
      "Archive",
      "Export history",
    ]);
  });

  it("dates a sale on the day of the last record at that record, not before it", () => {
    expect(saleInstant("2026-11-30")).toBe("2026-11-30T12:00:00Z");
    expect(saleInstant("2026-11-30", "2026-11-30T08:00:00Z")).toBe("2026-11-30T12:00:00Z");
    expect(saleInstant("2026-11-30", "2026-11-30T17:45:10.250Z")).toBe("2026-11-30T17:45:10.250Z");
    expect(
      buildSale({ date: "2026-02-30", price: "1,2,3", currency: "EUR", odometer: "12.5" }).errors,
    ).toEqual({
      date: expect.stringMatching(/^Enter the date/),
      price: expect.stringMatching(/^Write the amount/),
      odometer: "Enter a whole number.",
    });
    expect(
      saleMessage(
        "soldAt",
        "must not be before the vehicle's last record (2026-11-20T12:00:00+00:00)",
        "mi",
      ),
    ).toBe("The sale cannot be dated before the vehicle's last record, of 20 Nov 2026.");
    expect(saleMessage("currency", '"XYZ" is not an ISO 4217 currency code', "mi")).toBe(
      '"XYZ" is not an ISO 4217 currency code.',
    );
  });
});

describe("archiving", () => {
  it("reads the chat's suggestions again once the vehicle is archived", async () => {
    const archived = { ...rav4, status: "archived", archivedAt: "2026-12-02T10:00:00Z" };
    const { fetch, group, user } = await openPage(rav4, ["owner"], () => json(archived));
    const suggestionReads = () =>
      fetch.mock.calls.filter((c) => String(c[0]).includes("/chat/suggestions")).length;
    await waitFor(() => expect(suggestionReads()).toBe(1));
    await user.click(within(group).getByRole("button", { name: "Archive" }));
    const confirm = await screen.findByRole("dialog");
    await user.click(within(confirm).getByRole("button", { name: "Archive the vehicle" }));
    await waitFor(() => expect(suggestionReads()).toBeGreaterThan(1));
  });

  it("asks first, then shows the vehicle archived", async () => {
    const archived = { ...rav4, status: "archived", archivedAt: "2026-12-02T10:00:00Z" };
    let answer = () => problem(409, "the vehicle is already archived");
    const { fetch, group, user } = await openPage(rav4, ["owner"], () => answer());
    const opener = within(group).getByRole("button", { name: "Archive" });
    await user.click(opener);
    const dialog = await screen.findByRole("dialog", { name: /^Archive 2021 Toyota RAV4/ });
    // Focus on the question's heading, not on the button that archives.
    await waitFor(() => expect(within(dialog).getByRole("heading")).toHaveFocus());
    expect(dialog).toHaveTextContent(/leaves the fleet/);
    expect(dialog).toHaveTextContent(/reminders stop/);
    expect(dialog).toHaveTextContent(/history is kept/);
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(opener).toHaveFocus();
    expect(writes(fetch)).toEqual([]);

    await user.click(opener);
    let confirm = await screen.findByRole("dialog");
    await user.click(within(confirm).getByRole("button", { name: "Archive the vehicle" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent(
      "The vehicle is already archived.",
    );

    answer = () => json(archived);
    confirm = screen.getByRole("dialog");
    await user.click(within(confirm).getByRole("button", { name: "Archive the vehicle" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(writes(fetch).map((w) => `${w.method} ${w.url}`)).toEqual([
      "POST /v1/vehicles/veh_1/archive",
      "POST /v1/vehicles/veh_1/archive",
    ]);
    expect(screen.getByTestId("vehicle-retired")).toHaveTextContent("Archived on 2 Dec 2026");
    expect(screen.getByTestId("vehicle-action-status")).toHaveFocus();
    expect(buttonNames(screen.getByRole("group", { name: "Vehicle actions" }))).toEqual([
      "Export history",
    ]);
  });
});

describe("importing", () => {
  const report = (over: Partial<Parameters<typeof importSummary>[0]>) => ({
    format: "lubelogger_records" as const,
    dryRun: false,
    imported: 0,
    skipped: 0,
    errors: [],
    warnings: [],
    ...over,
  });

  it("asks for what the dialog chose and says what the report holds", () => {
    expect(importQuery("repair", "EUR", false)).toBe("kind=repair&currency=EUR");
    expect(importQuery("maintenance", "USD", true)).toBe(
      "kind=maintenance&currency=USD&dryRun=true",
    );
    expect(importSummary(report({ imported: 1 }))).toBe("Recorded 1 row, none refused.");
    const twoBadRows = [
      { row: 3, field: "Date", message: "not a date" },
      { row: 3, field: "Cost", message: "not an amount" },
      { row: 7, field: "row", message: "5 fields" },
    ];
    expect(importSummary(report({ imported: 1200, skipped: 4, errors: twoBadRows }))).toBe(
      "Recorded 1,200 rows, 4 rows imported before (skipped), 2 rows refused (below).",
    );
    expect(importSummary(report({ dryRun: true, imported: 3 }))).toBe(
      "Checked: 3 rows would be recorded, none refused. Nothing was recorded.",
    );
    const doubtful = { row: 3, field: "odometer", message: "3,100 mi is lower than …" };
    expect(importSummary(report({ imported: 3, warnings: [doubtful] }))).toBe(
      "Recorded 3 rows, none refused. 1 row has a doubtful odometer (below).",
    );
    expect(
      importSummary(
        report({ dryRun: true, imported: 3, warnings: [doubtful, { ...doubtful, row: 5 }] }),
      ),
    ).toBe(
      "Checked: 3 rows would be recorded, none refused. Nothing was recorded. 2 rows have a doubtful odometer (below).",
    );
  });

  it("sends the file as it is, lists the refused rows and reads the timeline again", async () => {
    const answer = report({
      imported: 2,
      errors: [{ row: 4, field: "Date", message: "“13/45/2025” is not a date like 2024-03-02" }],
      warnings: [
        {
          row: 3,
          field: "odometer",
          message: "3,100 mi is lower than the 30,000 mi recorded on …",
        },
      ],
    });
    const { fetch, group, user } = await openPage(rav4, ["owner"], () => json(answer));
    await user.click(within(group).getByRole("button", { name: "Import records" }));
    const dialog = await screen.findByRole("dialog", { name: /^Import records into/ });
    // Nothing chosen: said beside the field, nothing sent.
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(within(dialog).getByText("Choose the CSV file to import.")).toBeInTheDocument();
    expect(writes(fetch)).toEqual([]);

    const csv = "Date;Odometer;Description;Notes;Cost\n15.01.2025;30120;Oil change;;59,99\n";
    const file = new File([csv], "service.csv", { type: "text/csv" });
    await user.upload(within(dialog).getByLabelText("CSV file"), file);
    await user.click(within(dialog).getByLabelText("Repair"));
    await user.selectOptions(within(dialog).getByLabelText("Currency of the costs"), "EUR");
    const reads = fetch.mock.calls.filter(([u]) => String(u).includes("/events")).length;
    await user.click(within(dialog).getByRole("button", { name: "Import" }));

    await within(dialog).findByText(
      "Recorded 2 rows, 1 row refused (below). 1 row has a doubtful odometer (below).",
    );
    const post = fetch.mock.calls.find(([, i]) => i?.method === "POST")!;
    expect(String(post[0])).toBe("/v1/vehicles/veh_1/imports?kind=repair&currency=EUR");
    const headers = post[1]!.headers as Record<string, string>;
    expect(headers["Content-Type"]).toBe("text/csv");
    expect(headers["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(await (post[1]!.body as Blob).text()).toBe(csv);
    const table = within(dialog).getByTestId("import-errors");
    expect(within(table).getByText("Date")).toBeInTheDocument();
    expect(within(table).getByText(/is not a date like/)).toBeInTheDocument();
    const doubtful = within(dialog).getByTestId("import-warnings");
    expect(
      within(doubtful).getByText("3,100 mi is lower than the 30,000 mi recorded on …"),
    ).toBeInTheDocument();
    expect(within(doubtful).getByText("3")).toBeInTheDocument();
    // The timeline is read again as the records arrive.
    await waitFor(() =>
      expect(
        fetch.mock.calls.filter(([u]) => String(u).includes("/events")).length,
      ).toBeGreaterThan(reads),
    );
  });

  it("shows a refused file's problem and records nothing on a check", async () => {
    let answer: Response = problem(413, "the file is larger than 262144 bytes: split it");
    const { group, user } = await openPage(rav4, ["owner"], () => answer);
    await user.click(within(group).getByRole("button", { name: "Import records" }));
    const dialog = await screen.findByRole("dialog", { name: /^Import records into/ });
    await user.upload(
      within(dialog).getByLabelText("CSV file"),
      new File(["x"], "big.csv", { type: "text/csv" }),
    );
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    await within(dialog).findByText(/split it/);
    answer = json(report({ dryRun: true, imported: 5 }));
    await user.click(within(dialog).getByLabelText("Check only: record nothing"));
    await user.click(within(dialog).getByRole("button", { name: "Check the file" }));
    await within(dialog).findByText(
      "Checked: 5 rows would be recorded, none refused. Nothing was recorded.",
    );
  });
});

describe("exporting", () => {
  /** The RAV4's page with the export dialog open, `respond` answering `…/export`; what was downloaded. */
  async function openExport(respond: (url: URL) => Response) {
    const blobs: Blob[] = [];
    const created = vi.fn((b: Blob) => {
      blobs.push(b);
      return "blob:http://localhost/1";
    });
    vi.stubGlobal(
      "URL",
      Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }),
    );
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (
      this: HTMLAnchorElement,
    ) {
      clicked.push(this);
    });
    const fetch = serve(rav4);
    fetch.mockImplementation((input) => {
      const url = new URL(String(input), "http://localhost");
      if (url.pathname.endsWith("/export")) return Promise.resolve(respond(url));
      if (url.pathname === "/v1/vehicles") return Promise.resolve(json({ items: [rav4] }));
      if (url.pathname.endsWith("/overview"))
        return Promise.resolve(json({ vehicle: rav4, maintenance: [], costs: [] }));
      return Promise.resolve(json({ items: [] }));
    });
    renderWithApi(<VehiclePage vehicleId="veh_1" />, vi.fn(), ["viewer"]);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Export history" }));
    const dialog = await screen.findByRole("dialog", { name: /^Export the history/ });
    return { blobs, clicked, fetch, user, dialog };
  }

  /** Today's file name of the RAV4's history in `format`. */
  function todaysName(format: string): string {
    const day = new Date();
    const pad = (n: number) => String(n).padStart(2, "0");
    return `2021-toyota-rav4-blue-history-${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}.${format}`;
  }

  it("downloads the history with the bearer token under a file name saying what it is", async () => {
    const events = { vehicleId: "veh_1", events: [{ id: "evt_1" }] };
    const { blobs, clicked, fetch, user, dialog } = await openExport((url) =>
      url.searchParams.get("format") === "json"
        ? json(events)
        : new Response("id,occurredAt\n", { headers: { "Content-Type": "text/csv" } }),
    );
    await waitFor(() => expect(within(dialog).getByLabelText("CSV")).toHaveFocus());
    await user.click(within(dialog).getByLabelText("JSON"));
    await user.click(within(dialog).getByRole("button", { name: "Download" }));

    const name = todaysName("json");
    await within(dialog).findByText(`Downloaded “${name}”.`);
    const request = fetch.mock.calls.find(([u]) => String(u).includes("/export"))!;
    expect(String(request[0])).toBe("/v1/vehicles/veh_1/export?format=json");
    expect((request[1]!.headers as Record<string, string>).Authorization).toBe("Bearer t0k3n");
    expect(clicked).toHaveLength(1);
    expect(clicked[0]!.download).toBe(name);
    expect(clicked[0]!.href).toBe("blob:http://localhost/1");
    expect(JSON.parse(await blobs[0]!.text())).toEqual(events);
  });

  it("downloads the history with its files as a ZIP, and says why where the server keeps none", async () => {
    const archive = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);
    let kept = false;
    const { blobs, clicked, fetch, user, dialog } = await openExport(() =>
      kept
        ? new Response(archive, { headers: { "Content-Type": "application/zip" } })
        : problem(
            409,
            "this deployment keeps files in S3, not on this server",
            undefined,
            "archive-unavailable",
          ),
    );
    expect(within(dialog).getByLabelText("ZIP")).toHaveAccessibleDescription(
      /receipts and documents/,
    );
    await user.click(within(dialog).getByLabelText("ZIP"));
    await user.click(within(dialog).getByRole("button", { name: "Download" }));
    await within(dialog).findByText(/keeps files in S3/);
    expect(clicked).toHaveLength(0);

    kept = true;
    await user.click(within(dialog).getByRole("button", { name: "Download" }));
    const name = todaysName("zip");
    await within(dialog).findByText(`Downloaded “${name}”.`);
    const requests = fetch.mock.calls.filter(([u]) => String(u).includes("/export"));
    expect(requests.map(([u]) => String(u))).toEqual([
      "/v1/vehicles/veh_1/export?format=zip",
      "/v1/vehicles/veh_1/export?format=zip",
    ]);
    expect((requests[1]![1]!.headers as Record<string, string>).Accept).toBe("application/zip");
    expect(clicked[0]!.download).toBe(name);
    expect(new Uint8Array(await blobs[0]!.arrayBuffer())).toEqual(archive);
  });

  it("names the file from the vehicle, without accents or punctuation, else by its id", () => {
    const day = new Date(2026, 11, 2);
    expect(
      exportFileName(
        demoVehicle({ year: 2019, make: "Škoda", model: "Octavia RS", nickname: "Zoë's car" }),
        "csv",
        day,
      ),
    ).toBe("2019-skoda-octavia-rs-zoe-s-car-history-2026-12-02.csv");
    expect(
      exportFileName(demoVehicle({ year: undefined as never, make: "", model: "???" }), "csv", day),
    ).toBe("veh_1-history-2026-12-02.csv");
  });
});

describe("the calendar link", () => {
  it("shows this vehicle's signed link and copies it", async () => {
    const { fetch, group, user } = await openPage(rav4, ["technician"]);
    // (userEvent.setup() puts a clipboard of its own on navigator)
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    const opener = within(group).getByRole("button", { name: "Calendar link" });
    await user.click(opener);
    const dialog = await screen.findByRole("dialog", { name: /^Calendar link for/ });
    const link = await within(dialog).findByLabelText("This vehicle's calendar link");
    expect(link).toHaveValue(
      "http://localhost/calendar/org_demo/s1g/vehicles/veh_1/maintenance.ics",
    );
    await waitFor(() => expect(link).toHaveFocus());
    expect(dialog).toHaveTextContent(/Keep it secret/);
    expect(
      fetch.mock.calls.some(([u]) => String(u) === "/v1/vehicles/veh_1/maintenance/calendar"),
    ).toBe(true);
    await user.click(within(dialog).getByRole("button", { name: "Copy link" }));
    await within(dialog).findByText("Copied to the clipboard.");
    expect(writeText).toHaveBeenCalledWith(
      "http://localhost/calendar/org_demo/s1g/vehicles/veh_1/maintenance.ics",
    );
    await user.click(within(dialog).getByRole("button", { name: "Close" }));
    expect(opener).toHaveFocus();
  });
});

describe("a change shown before the read models have it", () => {
  it("replaces the listed copy whole, keeping only the read model's counts", () => {
    // As the API answers it: a cleared field is left out of the JSON.
    const answer = JSON.parse(
      JSON.stringify({ ...rav4, nickname: null, plate: "7ABC123" }),
      (k, v) => (k === "nickname" ? undefined : v),
    ) as never;
    const shown = withChange(rav4, answer);
    expect(shown.nickname).toBeUndefined(); // cleared: not carried over from the stale copy
    expect(shown.plate).toBe("7ABC123");
    expect(shown.odometer).toEqual(rav4.odometer);
    expect(shown.eventCount).toBe(rav4.eventCount);
    // The list reads as the answer did: the answer gives way (a later change elsewhere then shows).
    expect(sameState(rav4, answer)).toBe(false);
    expect(sameState({ ...rav4, nickname: null, plate: "7ABC123" }, answer)).toBe(true);
    expect(sameState(rav4, soldDemoVehicle() as never)).toBe(false);
  });
});
