import { fireEvent, screen, waitFor, within } from "@testing-library/react";
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
  type Handler,
} from "../test-utils";
import { useEffect, useState } from "react";
import { parseRoute } from "../App";
import { buildVehicle, checkDigitWarning, normalVin, type VinDecoding } from "./RegisterVehicle";
import { VehiclePage } from "./VehiclePage";

afterEach(() => {
  vi.unstubAllGlobals();
  window.location.hash = "";
});

/** The vehicle page as the app routes it: the vehicle the address names. */
function RoutedPage() {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  const route = parseRoute(hash);
  return <VehiclePage vehicleId={route.page === "vehicles" ? route.vehicleId : undefined} />;
}

/** `GET /v1/vin/1HGCM82633A004352` as the API answers it; `checkDigit` overridden for a typo. */
function decoding(vin: string, checkDigit?: Partial<VinDecoding["checkDigit"]>): VinDecoding {
  return {
    vin,
    wmi: vin.slice(0, 3),
    vds: vin.slice(3, 9),
    vis: vin.slice(9),
    manufacturer: "Honda",
    make: "Honda",
    country: "United States",
    region: "North America",
    northAmerican: true,
    checkDigit: { actual: vin[8]!, expected: vin[8]!, valid: true, required: true, ...checkDigit },
    modelYear: 2003,
    modelYearCandidates: [2003],
    modelYearBasis: "position_7",
    plantCode: "A",
    serialNumber: vin.slice(11),
  };
}

const accord = {
  id: "veh_new",
  orgId: "org_demo",
  vin: "1HGCM82633A004352",
  year: 2003,
  make: "Honda",
  model: "Accord",
  odometerUnit: "km",
  registeredAt: "2026-12-02T10:00:00Z",
  status: "active",
};

/** The vehicle page of an organisation listing `vehicles`, with `onPost` answering the registration. */
function serve(vehicles: Vehicle[], onPost: Handler) {
  return mockFetch((url, init) => {
    const path = url.pathname;
    if (path === "/v1/vehicles" && init.method === "POST") return onPost(url, init);
    if (path === "/v1/vehicles") return json({ items: vehicles, nextCursor: null });
    if (path.startsWith("/v1/vin/")) {
      const vin = decodeURIComponent(path.slice("/v1/vin/".length));
      return json(
        vin[8] === "8"
          ? decoding(vin, { actual: "8", expected: "3", valid: false })
          : decoding(vin),
      );
    }
    if (path.endsWith("/events")) return json({ items: [], nextCursor: null });
    if (path.endsWith("/valuations")) return json({ items: [] });
    if (path.endsWith("/overview")) return json({ vehicle: accord, maintenance: [], costs: [] });
    return json({ items: [] });
  });
}

function posted(fetch: ReturnType<typeof mockFetch>) {
  return fetch.mock.calls
    .filter(([u, i]) => String(u) === "/v1/vehicles" && i?.method === "POST")
    .map(([, i]) => JSON.parse(String(i!.body)) as Record<string, unknown>);
}

async function openFromEmptyState() {
  const user = userEvent.setup();
  await screen.findByText(/No vehicles are registered/);
  const opener = screen.getByRole("button", { name: "Register a vehicle" });
  await user.click(opener);
  const dialog = await screen.findByRole("dialog", { name: "Register a vehicle" });
  return { user, opener, dialog };
}

describe("registering a vehicle", () => {
  it("is offered in the empty state only to roles that may register", async () => {
    serve([], () => json({}, 500));
    const { unmount } = renderWithApi(<VehiclePage />, vi.fn(), ["viewer", "technician"]);
    await screen.findByText(/No vehicles are registered/);
    expect(screen.getByText("An owner or a fleet manager can register one.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Register a vehicle" })).toBeNull();
    unmount();

    renderWithApi(<VehiclePage />, vi.fn(), ["fleet_manager"]);
    await screen.findByText(/No vehicles are registered/);
    expect(screen.getByRole("button", { name: "Register a vehicle" })).toBeInTheDocument();
  });

  it("is offered beside the picker once there are vehicles", async () => {
    serve([demoVehicle()], () => json({}, 500));
    renderWithApi(<VehiclePage />);
    const picker = await screen.findByLabelText("Vehicle");
    await screen.findByRole("option", { name: /RAV4/ });
    expect(
      within(picker.parentElement!).getByRole("button", { name: "Register a vehicle" }),
    ).toBeInTheDocument();
  });

  it("fills in the year and make from the VIN, says a wrong check digit beside it, and can skip it", async () => {
    const fetch = serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText("VIN");
    await waitFor(() => expect(vin).toHaveFocus());

    await user.type(vin, "1HGCM82683A004352");
    const warning = await within(dialog).findByText(/check digit \(the 9th character\) is 8/);
    expect(vin.getAttribute("aria-describedby")).toContain(warning.id);
    expect(within(dialog).getByLabelText("Model year")).toHaveValue("2003");
    expect(within(dialog).getByLabelText("Make")).toHaveValue("Honda");
    expect(within(dialog).getByText(/From the VIN: Honda · United States/)).toBeInTheDocument();

    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByLabelText(/Register the VIN as written/));
    await user.click(within(dialog).getByLabelText("Kilometres (km)"));
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    await waitFor(() => expect(posted(fetch)).toHaveLength(1));
    expect(posted(fetch)[0]).toEqual({
      vin: "1HGCM82683A004352",
      model: "Accord",
      year: 2003,
      make: "Honda",
      odometerUnit: "km",
      vinCheck: "skip",
    });
  });

  it("keeps a year typed by hand when the VIN is decoded", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    await user.type(within(dialog).getByLabelText("Model year"), "2004");
    await user.type(within(dialog).getByLabelText("VIN"), "1HGCM82633A004352");
    await within(dialog).findByText(/From the VIN: Honda/);
    expect(within(dialog).getByLabelText("Model year")).toHaveValue("2004");
    expect(within(dialog).getByLabelText("Make")).toHaveValue("Honda");
  });

  it("shows a 422's field errors beside their fields, in words, and focuses the first", async () => {
    const fetch = serve([], () =>
      problem(422, "the request has invalid fields", [
        {
          field: "vin",
          message:
            "check digit mismatch: position 9 is '8' but the other positions give '3' (49 CFR 565.15); correct the VIN, or send \"vinCheck\": \"skip\" to register it as written",
        },
        { field: "year", message: "must be between 1886 and 2028" },
      ]),
    );
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    // A VIN typed faster than the decoding settles: the server says what is wrong.
    fireEvent.change(within(dialog).getByLabelText("VIN"), {
      target: { value: "1HGCM82683A004352" },
    });
    await user.type(within(dialog).getByLabelText("Model year"), "1700");
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));

    const year = within(dialog).getByLabelText("Model year");
    await waitFor(() => expect(year).toHaveAttribute("aria-invalid", "true"));
    expect(within(dialog).getByText("Must be between 1886 and 2028.")).toBeInTheDocument();
    const vin = within(dialog).getByLabelText("VIN");
    expect(vin).toHaveAttribute("aria-invalid", "true");
    expect(within(dialog).getByText(/tick “Register the VIN as written”/)).toBeInTheDocument();
    expect(within(dialog).queryByText(/vinCheck/)).toBeNull();
    expect(expectHelpLinked(dialog)).toBeGreaterThanOrEqual(2);
    await waitFor(() => expect(vin).toHaveFocus());
    expect(posted(fetch)).toHaveLength(1);
  });

  it("takes a pasted VIN whole: its spaces, tabs and dashes removed before it is cut to 17", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText("VIN");
    await user.click(vin);
    await user.paste("\t1hgcm82633a004352\n");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(await within(dialog).findByText(/From the VIN: Honda/)).toBeInTheDocument();
    await user.clear(vin);
    await user.paste("1HG CM826-33A004352");
    expect(vin).toHaveValue("1HGCM82633A004352");
  });

  it("keeps a VIN typed key by key with spaces or dashes in order, the caret after the last key", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText<HTMLInputElement>("VIN");
    for (const [typed, kept] of [
      ["1HG CM826 33A004352", "1HGCM82633A004352"],
      ["WVW-ZZZ-1KZ-AW000001", "WVWZZZ1KZAW000001"],
      [" 1HGCM82633A004352", "1HGCM82633A004352"],
      ["1hg  cm826--33a004352", "1HGCM82633A004352"],
    ]) {
      await user.clear(vin);
      await user.type(vin, typed!);
      expect(vin).toHaveValue(kept);
      expect(vin.selectionStart).toBe(kept!.length);
    }
  });

  it("keeps the caret where a key was typed, a separator removed or a character deleted in the middle", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText<HTMLInputElement>("VIN");
    await user.type(vin, "1HGCM8263");
    // Into the middle, after "1HG": a space (removed, the caret stays), then lower-case letters.
    vin.setSelectionRange(3, 3);
    await user.keyboard(" x- y");
    expect(vin).toHaveValue("1HGXYCM8263");
    expect(vin.selectionStart).toBe(5);
    // Deleting them again, and typing on at the end.
    await user.keyboard("{Backspace}{Backspace}");
    expect(vin).toHaveValue("1HGCM8263");
    expect(vin.selectionStart).toBe(3);
    vin.setSelectionRange(9, 9);
    await user.keyboard("3a 004352");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin.selectionStart).toBe(17);
  });

  it("says a wrong check digit once when the server refuses it too", async () => {
    serve([], () =>
      problem(422, "the request has invalid fields", [
        {
          field: "vin",
          message:
            "check digit mismatch: position 9 is '8' but the other positions give '3' (49 CFR 565.15); correct the VIN, or send \"vinCheck\": \"skip\" to register it as written",
        },
      ]),
    );
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText("VIN");
    await user.type(vin, "1HGCM82683A004352");
    await within(dialog).findByText(/check digit \(the 9th character\) is 8/);
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    await waitFor(() => expect(vin).toHaveAttribute("aria-invalid", "true"));
    // The VIN's description (its error, warning and hint) says it once: the server's error.
    const description = (vin.getAttribute("aria-describedby") ?? "")
      .split(" ")
      .map((id) => document.getElementById(id)?.textContent ?? "")
      .join(" ");
    expect(description.match(/check digit/gi)).toHaveLength(1);
    expect(description).toMatch(/^The VIN's check digit \(the 9th character\) does not match/);
  });

  it("checks the VIN and the model before sending", async () => {
    const fetch = serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    await user.type(within(dialog).getByLabelText("VIN"), "1HGCM8263");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    expect(await within(dialog).findByText(/A VIN is 17 characters; this one has 9/)).toBeVisible();
    expect(within(dialog).getByText("Write the model, such as RAV4.")).toBeVisible();
    expect(within(dialog).getByLabelText("Model")).toHaveAttribute("aria-invalid", "true");
    expect(posted(fetch)).toHaveLength(0);
  });

  it("takes a field's error away once that field is changed, the others' staying until the next Register", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    const vin = within(dialog).getByLabelText("VIN");
    expect(await within(dialog).findByText("Write the vehicle's VIN.")).toBeVisible();
    await user.type(vin, " ");
    // A space is removed: the VIN did not change, nor does its error.
    expect(within(dialog).getByText("Write the vehicle's VIN.")).toBeVisible();
    await user.type(vin, "1");
    expect(within(dialog).queryByText("Write the vehicle's VIN.")).toBeNull();
    expect(vin).not.toHaveAttribute("aria-invalid");
    expect(within(dialog).getByText("Write the model, such as RAV4.")).toBeVisible();
    await user.type(within(dialog).getByLabelText("Model"), "A");
    expect(within(dialog).queryByText("Write the model, such as RAV4.")).toBeNull();
    expect(within(dialog).getByLabelText("Model")).not.toHaveAttribute("aria-invalid");
  });

  it("says a VIN registered already beside the VIN (409)", async () => {
    serve([], () =>
      problem(
        409,
        "a vehicle with VIN 1HGCM82633A004352 is already registered in this organisation",
      ),
    );
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    await user.type(within(dialog).getByLabelText("VIN"), "1HGCM82633A004352");
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    const error = await within(dialog).findByText(/is already registered in this organisation\./);
    expect(within(dialog).getByLabelText("VIN").getAttribute("aria-describedby")).toContain(
      error.id,
    );
    await waitFor(() => expect(within(dialog).getByLabelText("VIN")).toHaveFocus());
  });

  it("closes on Escape with focus back on the button that opened it", async () => {
    serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, opener } = await openFromEmptyState();
    await user.keyboard("{Escape}");
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(opener).toHaveFocus();
  });

  it("opens the new vehicle's page and lists it in the picker", async () => {
    // The list does not show the new vehicle yet (the read model catches up a moment later).
    const fetch = mockFetch((url, init) => {
      if (url.pathname === "/v1/vehicles" && init.method !== "POST")
        return json({ items: [], nextCursor: null });
      if (url.pathname === "/v1/vehicles") return json(accord, 201);
      if (url.pathname.startsWith("/v1/vin/")) return json(decoding(accord.vin));
      if (url.pathname.endsWith("/events")) return json({ items: [], nextCursor: null });
      if (url.pathname.endsWith("/overview"))
        return json({ vehicle: accord, maintenance: [], costs: [] });
      return json({ items: [] });
    });
    renderWithApi(<RoutedPage />);
    const { user, dialog } = await openFromEmptyState();
    await user.type(within(dialog).getByLabelText("VIN"), accord.vin);
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    await waitFor(() => expect(window.location.hash).toBe("#/vehicles/veh_new"));
    expect(screen.queryByRole("dialog")).toBeNull();
    const picker = screen.getByLabelText("Vehicle");
    expect(
      await within(picker).findByRole("option", { name: "2003 Honda Accord" }),
    ).toBeInTheDocument();
    expect(picker).toHaveValue("veh_new");
    expect(screen.queryByText(/could not be found/)).toBeNull();
    await screen.findByRole("heading", { level: 1, name: /Accord/ });
    // The list is read again; focus is on the picker that lists the vehicle.
    await waitFor(() => expect(picker).toHaveFocus());
    expect(fetch.mock.calls.filter(([u]) => String(u).startsWith("/v1/vehicles?")).length).toBe(2);
  });
});

describe("registration, pure parts", () => {
  const fields = {
    vin: " 1hgcm82633a004352 ",
    year: "",
    make: "",
    model: "Accord",
    trim: "",
    nickname: " Blue ",
    unit: "mi" as const,
    price: "12.500,50",
    currency: "EUR",
    skipCheck: false,
  };

  it("sends what was typed, trimmed, with the price in cents and its currency", () => {
    expect(buildVehicle(fields).body).toEqual({
      vin: "1HGCM82633A004352",
      model: "Accord",
      nickname: "Blue",
      odometerUnit: "mi",
      purchasePriceCents: 1_250_050,
      purchaseCurrency: "EUR",
    });
  });

  it("refuses a price it cannot read, a VIN with an O and a year that is not four digits", () => {
    const { body, errors } = buildVehicle({
      ...fields,
      vin: "1HGCM8263OA004352",
      year: "03",
      price: "1,2,3",
    });
    expect(body).toBeUndefined();
    expect(Object.keys(errors).sort()).toEqual(["price", "vin", "year"]);
  });

  it("normalises a VIN without cutting it", () => {
    expect(normalVin("\t1hgcm82633a004352\n")).toBe("1HGCM82633A004352");
    expect(normalVin("1HG CM826 33A004352")).toBe("1HGCM82633A004352");
    expect(normalVin("1HG-CM826-33A004352")).toBe("1HGCM82633A004352");
    expect(normalVin("1HGCM82633A0043529")).toBe("1HGCM82633A0043529");
  });

  it("refuses a key past the 17th character, in the middle as at the end, keeping the VIN and the caret", async () => {
    const fetch = serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText<HTMLInputElement>("VIN");
    await user.type(vin, "1HGCM82633A004352");
    expect(within(dialog).queryByText(/A VIN has 17 characters/)).toBeNull();
    // Into the middle, after "1HGCM": each key refused, the end kept, the caret where it was.
    vin.setSelectionRange(5, 5);
    await user.keyboard("X");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin.selectionStart).toBe(5);
    expect(within(dialog).getByRole("status", { name: "" })).toHaveTextContent(
      "A VIN has 17 characters: that key was not added.",
    );
    expect(vin).toHaveAccessibleDescription(/A VIN has 17 characters: that key was not added\./);
    await user.keyboard("yz");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin.selectionStart).toBe(5);
    // At the end too; a space or a dash is no character of it and changes nothing.
    vin.setSelectionRange(17, 17);
    await user.keyboard("9 -");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin.selectionStart).toBe(17);
    // A character deleted, the next key goes in where it is typed, and the note goes.
    vin.setSelectionRange(5, 5);
    await user.keyboard("{Backspace}");
    expect(vin).toHaveValue("1HGC82633A004352");
    expect(within(dialog).queryByText(/that key was not added/)).toBeNull();
    await user.keyboard("m");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin.selectionStart).toBe(5);
    // A key over a selected character replaces it.
    vin.setSelectionRange(16, 17);
    await user.keyboard("2");
    expect(vin).toHaveValue("1HGCM82633A004352");
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    await waitFor(() => expect(posted(fetch)).toHaveLength(1));
    expect(posted(fetch)[0]).toMatchObject({ vin: "1HGCM82633A004352" });
  });

  it("keeps a pasted text of 18 characters or more whole, saying the VIN has 17", async () => {
    const fetch = serve([], () => json(accord, 201));
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText<HTMLInputElement>("VIN");
    await user.click(vin);
    await user.paste("VIN 1HGCM82633A004352");
    expect(vin).toHaveValue("VIN1HGCM82633A004352");
    expect(vin).toHaveAccessibleDescription(
      /A VIN has 17 characters; this one has 20: remove what does not belong\./,
    );
    // Over a whole VIN selected, too: the paste replaces it, whole.
    vin.setSelectionRange(0, vin.value.length);
    await user.paste("1HGCM82633A0043529");
    expect(vin).toHaveValue("1HGCM82633A0043529");
    expect(vin).toHaveAccessibleDescription(/this one has 18/);
    // Not sent: the VIN's error says so.
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    expect(
      await within(dialog).findByText(/A VIN is 17 characters; this one has 18/),
    ).toBeVisible();
    expect(within(dialog).queryByText(/A VIN has 17 characters/)).toBeNull(); // said once
    expect(posted(fetch)).toHaveLength(0);
    // Mended: the last character deleted, it is a VIN again.
    vin.focus();
    vin.setSelectionRange(18, 18);
    await user.keyboard("{Backspace}");
    expect(vin).toHaveValue("1HGCM82633A004352");
    expect(vin).not.toHaveAttribute("aria-invalid");
    expect(within(dialog).queryByText(/A VIN has 17 characters/)).toBeNull();
    expect(await within(dialog).findByText(/From the VIN: Honda/)).toBeInTheDocument();
  });

  it("takes the server's check-digit error away when “Register the VIN as written” is ticked", async () => {
    serve([], () =>
      problem(422, "the request has invalid fields", [
        {
          field: "vin",
          message:
            "check digit mismatch: position 9 is '8' but the other positions give '3' (49 CFR 565.15); correct the VIN, or send \"vinCheck\": \"skip\" to register it as written",
        },
      ]),
    );
    renderWithApi(<VehiclePage />);
    const { user, dialog } = await openFromEmptyState();
    const vin = within(dialog).getByLabelText("VIN");
    await user.type(vin, "1HGCM82683A004352");
    await within(dialog).findByText(/check digit \(the 9th character\) is 8/);
    await user.type(within(dialog).getByLabelText("Model"), "Accord");
    await user.click(within(dialog).getByRole("button", { name: "Register" }));
    await waitFor(() => expect(vin).toHaveAttribute("aria-invalid", "true"));
    await user.click(within(dialog).getByLabelText(/Register the VIN as written/));
    expect(vin).not.toHaveAttribute("aria-invalid");
  });

  it("warns of a check digit only where it is mandatory", () => {
    const bad = { actual: "8", expected: "3", valid: false };
    expect(checkDigitWarning(decoding("1HGCM82683A004352", bad))).toMatch(/is 8, .* give 3/);
    expect(
      checkDigitWarning(decoding("WVWZZZ1JZXW000001", { ...bad, required: false })),
    ).toBeUndefined();
  });
});
