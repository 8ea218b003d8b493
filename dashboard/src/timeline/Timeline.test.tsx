import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { demoVehicle, event, json, mockFetch, problem, renderWithApi } from "../test-utils";
import { createRef } from "react";
import { act } from "@testing-library/react";
import { detailEntries } from "./details";
import { Timeline, type TimelineHandle } from "./Timeline";

const vehicle = demoVehicle();

afterEach(() => vi.unstubAllGlobals());

describe("Timeline", () => {
  it("groups events by month, filters by kind and loads the next page on request", async () => {
    const fetch = mockFetch((url) => {
      if (url.searchParams.get("kind") === "repair")
        return json({ items: [event("r", "2026-02-03T00:00:00Z", "repair")] });
      if (url.searchParams.get("cursor") === "p2")
        return json({ items: [event("c", "2025-12-01T00:00:00Z")], nextCursor: null });
      return json({
        items: [event("a", "2026-03-20T00:00:00Z"), event("b", "2026-03-02T00:00:00Z", "repair")],
        nextCursor: "p2",
      });
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);

    const march = await screen.findByRole("region", { name: "March 2026" });
    expect(within(march).getAllByRole("listitem")).toHaveLength(2);

    await userEvent.click(screen.getByRole("button", { name: "Load older events" }));
    expect(await screen.findByRole("region", { name: "December 2025" })).toBeInTheDocument();
    expect(screen.getByText("That is the whole history.")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Repair" }));
    expect(await screen.findByRole("region", { name: "February 2026" })).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.queryByRole("region", { name: "March 2026" })).not.toBeInTheDocument(),
    );
    expect(screen.getByRole("button", { name: "Repair" })).toHaveAttribute("aria-pressed", "true");
    const urls = fetch.mock.calls.map((c) => String(c[0]));
    expect(urls.some((u) => u.includes("kind=repair"))).toBe(true);
    expect(fetch.mock.calls[0]![1]!.headers).toMatchObject({ Authorization: "Bearer t0k3n" });
  });

  it("shows an event's details on click", async () => {
    mockFetch(() => json({ items: [event("a", "2026-03-20T00:00:00Z")], nextCursor: null }));
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    const row = await screen.findByRole("button", { name: /Event a/ });
    expect(row).toHaveAttribute("aria-expanded", "false");
    // Its kind's colour (timeline/kinds.ts) for the border and icon.
    expect(row.closest("li")!.style.getPropertyValue("--kind")).toBe("#15803d");
    await userEvent.click(row);
    expect(row).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByText("Oil change")).toBeInTheDocument();
  });

  it("says so when there are no events, and shows API errors as sentences", async () => {
    mockFetch(() => json({ items: [], nextCursor: null }));
    const { unmount } = renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    expect(await screen.findByText("No events recorded yet.")).toBeInTheDocument();
    unmount();
    mockFetch(() => problem(503, "the edge store is unavailable"));
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("The edge store is unavailable.");
  });

  it("shows the API's field errors beside their fields when recording", async () => {
    mockFetch((_url, init) => {
      if (init.method === "POST")
        return problem(422, "the request has invalid fields", [
          { field: "odometer", message: "must be below 5000000" },
        ]);
      return json({ items: [], nextCursor: null });
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("button", { name: "Record event" }));
    const odometer = screen.getByLabelText("Odometer (mi)");
    await userEvent.type(odometer, "9999999");
    await userEvent.click(screen.getByRole("button", { name: "Record" }));
    await waitFor(() => expect(odometer).toHaveAttribute("aria-invalid", "true"));
    expect(odometer).toHaveAccessibleDescription("Must be below 5000000.");
  });

  it("returns to sign-in on a 401", async () => {
    mockFetch(() => problem(401, "the token has expired"));
    const onUnauthorized = vi.fn();
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />, onUnauthorized);
    await waitFor(() => expect(onUnauthorized).toHaveBeenCalled());
  });

  it("reveals a cited event: clears the filter and loads older pages until it is there", async () => {
    Element.prototype.scrollIntoView = vi.fn();
    mockFetch((url) => {
      if (url.searchParams.get("kind") === "repair")
        return json({ items: [event("r", "2026-02-03T00:00:00Z", "repair")], nextCursor: null });
      if (url.searchParams.get("cursor") === "p2")
        return json({
          items: [event("old", "2024-11-29T00:00:00Z", "acquisition")],
          nextCursor: null,
        });
      return json({ items: [event("a", "2026-03-20T00:00:00Z")], nextCursor: "p2" });
    });
    const ref = createRef<TimelineHandle>();
    renderWithApi(<Timeline ref={ref} vehicle={vehicle} onRecorded={() => {}} />);
    await screen.findByRole("region", { name: "March 2026" });
    await userEvent.click(screen.getByRole("button", { name: "Repair" }));
    await screen.findByRole("region", { name: "February 2026" });

    act(() => ref.current!.reveal("old"));
    const cited = await screen.findByRole("region", { name: "November 2024" });
    await waitFor(() => expect(cited.querySelector(".event.highlighted")).not.toBeNull());
    expect(screen.getByRole("button", { name: "All" })).toHaveAttribute("aria-pressed", "true");
    expect(Element.prototype.scrollIntoView).toHaveBeenCalled();
  });

  it("offers a viewer no recording, and a technician only the kinds its role may record", async () => {
    mockFetch(() => json({ items: [], nextCursor: null }));
    const { unmount } = renderWithApi(
      <Timeline vehicle={vehicle} onRecorded={() => {}} />,
      vi.fn(),
      ["viewer"],
    );
    expect(await screen.findByText("No events recorded yet.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Record event" })).toBeNull();
    expect(screen.getByTestId("read-only")).toHaveTextContent("your role (viewer) cannot record");
    unmount();
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />, vi.fn(), ["technician"]);
    await userEvent.click(await screen.findByRole("button", { name: "Record event" }));
    const kinds = within(screen.getByLabelText("Kind")).getAllByRole("option");
    expect(kinds.map((o) => o.textContent)).toEqual(["Maintenance", "Repair", "Odometer"]);
  });

  it("offers a sold vehicle no recording, says why, and keeps Correct and Void", async () => {
    mockFetch(() => json({ items: [event("a", "2026-02-20T00:00:00Z")], nextCursor: null }));
    renderWithApi(
      <Timeline vehicle={vehicle} soldAt="2026-03-02T00:00:00Z" onRecorded={() => {}} />,
    );
    await userEvent.click(await screen.findByRole("button", { name: /Event a/ }));
    expect(screen.queryByRole("button", { name: "Record event" })).toBeNull();
    expect(screen.getByTestId("sold-no-records")).toHaveTextContent(
      "Sold on 2 Mar 2026: no new records.",
    );
    expect(screen.getByRole("button", { name: /^Correct / })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /^Void / })).toBeInTheDocument();
  });

  it("records a cost in the vehicle's currency, and checks the date before sending", async () => {
    const fetch = mockFetch((_url, init) => {
      if (init.method === "POST")
        return json({ event: { ...event("n", "2026-03-20T12:00:00Z"), currency: "EUR" } }, 201);
      return json({ items: [], nextCursor: null });
    });
    Element.prototype.scrollIntoView = vi.fn();
    renderWithApi(<Timeline vehicle={vehicle} currencies={["EUR", "USD"]} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("button", { name: "Record event" }));
    const form = screen.getByRole("form", { name: "Record an event" });
    await userEvent.type(within(form).getByLabelText("Cost (EUR)"), "89.99");
    const date = within(form).getByLabelText("Date");
    await userEvent.clear(date);
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    expect(date).toHaveAttribute("aria-invalid", "true");
    expect(date).toHaveAccessibleDescription("Enter the date, such as 2026-03-02.");
    expect(fetch.mock.calls.filter((c) => c[1]?.method === "POST")).toHaveLength(0);

    await userEvent.type(date, "2026-03-20");
    await userEvent.click(within(form).getByRole("button", { name: "Record" }));
    await waitFor(() =>
      expect(fetch.mock.calls.filter((c) => c[1]?.method === "POST")).toHaveLength(1),
    );
    const post = fetch.mock.calls.find((c) => c[1]?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toMatchObject({
      occurredAt: "2026-03-20T12:00:00Z",
      costCents: 8999,
      currency: "EUR",
    });
  });

  it("says what the server found doubtful about a record it kept, once the form closes", async () => {
    mockFetch((_url, init) => {
      if (init.method === "POST")
        return json(
          {
            event: { ...event("n", "2026-03-20T12:00:00Z"), title: "Odometer reading" },
            warnings: [
              {
                field: "odometer",
                message:
                  "4,125 mi is lower than the 41,250 mi recorded on 2026-02-01: … a rollback; if it is a typo, correct the record",
              },
            ],
          },
          201,
        );
      return json({ items: [], nextCursor: null });
    });
    Element.prototype.scrollIntoView = vi.fn();
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("button", { name: "Record event" }));
    await userEvent.click(screen.getByRole("button", { name: "Record" }));
    const warning = await screen.findByTestId("record-warning");
    expect(warning).toHaveTextContent(
      "“Odometer reading” is recorded. 4,125 mi is lower than the 41,250 mi recorded on 2026-02-01: … a rollback; if it is a typo, correct the record.",
    );
    expect(screen.queryByRole("form", { name: "Record an event" })).toBeNull();
  });

  it("returns focus to the button that opened the form when it is cancelled", async () => {
    mockFetch(() => json({ items: [], nextCursor: null }));
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    await userEvent.click(await screen.findByRole("button", { name: "Record event" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("form", { name: "Record an event" })).toBeNull();
    expect(screen.getByRole("button", { name: "Record event" })).toHaveFocus();
  });

  it("keeps focus while loading older events, then moves it to the first of them", async () => {
    let release: () => void = () => {};
    mockFetch((url) => {
      if (url.searchParams.get("cursor") === "p2")
        return new Promise<Response>((resolve) => {
          release = () =>
            resolve(json({ items: [event("c", "2025-12-01T00:00:00Z")], nextCursor: null }));
        });
      return json({ items: [event("a", "2026-03-20T00:00:00Z")], nextCursor: "p2" });
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />);
    const more = await screen.findByRole("button", { name: "Load older events" });
    await userEvent.click(more);
    expect(more).toBeInTheDocument();
    expect(more).toHaveFocus();
    expect(more).toHaveAttribute("aria-disabled", "true");
    act(() => release());
    await screen.findByRole("region", { name: "December 2025" });
    await waitFor(() => expect(screen.getByRole("button", { name: /Event c/ })).toHaveFocus());
  });

  it("humanises only the details that are codes, and shows free text as written", () => {
    expect(
      detailEntries({
        severity: "minor",
        insuranceClaimId: "clm_2026_ab12",
        tasks: ["oil_change", "tire_rotation"],
        parts: ["front_brake pads", "OEM filter"],
        station: "shell_main_st",
        volumeUnit: "l",
      }),
    ).toEqual([
      ["severity", "Minor"],
      ["insuranceClaimId", "clm_2026_ab12"],
      ["tasks", "Oil change, Tire rotation"],
      ["parts", "front_brake pads, OEM filter"],
      ["station", "shell_main_st"],
      ["volumeUnit", "litres"],
    ]);
  });
});
