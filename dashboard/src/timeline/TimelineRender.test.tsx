import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatDate } from "../format";
import { demoVehicle, event, json, mockFetch, renderWithApi } from "../test-utils";
import { PAGE_SIZE, Timeline } from "./Timeline";

// Every timeline row formats its date once a render: the calls count the rows rendered.
vi.mock("../format", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../format")>();
  return { ...actual, formatDate: vi.fn(actual.formatDate) };
});
const rowsRendered = vi.mocked(formatDate);

afterEach(() => vi.unstubAllGlobals());

/** A page of events, a day apart, starting `from` days before 1 March 2026. */
function page(from: number) {
  return Array.from({ length: PAGE_SIZE }, (_, i) =>
    event(`e${from + i}`, new Date(Date.UTC(2026, 2, 1) - (from + i) * 86_400_000).toISOString()),
  );
}

describe("Timeline rendering", () => {
  it("renders only the new rows when a page loads, and none when the record form opens", async () => {
    mockFetch((url) =>
      url.searchParams.get("cursor") === "p2"
        ? json({ items: page(PAGE_SIZE), nextCursor: null })
        : json({ items: page(0), nextCursor: "p2" }),
    );
    renderWithApi(<Timeline vehicle={demoVehicle()} onRecorded={() => {}} />);
    await screen.findByText("Event e0");

    rowsRendered.mockClear();
    await userEvent.click(screen.getByRole("button", { name: "Load older events" }));
    await screen.findByText(`Event e${2 * PAGE_SIZE - 1}`);
    await waitFor(() => expect(screen.queryByRole("status")).toBeNull());
    // The new page's rows, not the rows already shown again.
    expect(rowsRendered).toHaveBeenCalledTimes(PAGE_SIZE);

    rowsRendered.mockClear();
    await userEvent.click(screen.getByRole("button", { name: "Record event" }));
    expect(screen.getByRole("form", { name: "Record an event" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(rowsRendered).not.toHaveBeenCalled();

    // Opening a row renders that row (and its "Recorded" date) only.
    await userEvent.click(screen.getByText("Event e3"));
    expect(rowsRendered).toHaveBeenCalledTimes(2);
  });
});
