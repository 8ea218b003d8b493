import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { NotificationView } from "../api/types";
import { json, mockFetch, renderWithApi } from "../test-utils";
import { Bell } from "./Bell";

/** The panel's page size (`FEED_PAGE_SIZE`). */
const FEED_PAGE_SIZE = 20;

function note(i: number, read: boolean): NotificationView {
  return {
    id: `ntf_${i}`,
    title: `Reminder ${i}`,
    body: "Oil change due",
    createdAt: "2026-03-01T00:00:00Z",
    readAt: read ? "2026-03-02T00:00:00Z" : null,
  };
}

afterEach(() => vi.unstubAllGlobals());

describe("Bell", () => {
  it("pages past the newest notifications, so an older unread one can be read and marked", async () => {
    // The newest page is all read; the unread one is on the second page.
    const read = new Set<string>();
    const all = Array.from({ length: FEED_PAGE_SIZE + 5 }, (_, i) =>
      note(i, i !== FEED_PAGE_SIZE + 2),
    );
    const view = (n: NotificationView) =>
      read.has(n.id) ? { ...n, readAt: "2026-03-03T00:00:00Z" } : n;
    const fetch = mockFetch((url, init) => {
      if (init.method === "POST") {
        read.add(url.pathname.split("/")[3]!);
        return new Response(null, { status: 204 });
      }
      if (url.searchParams.get("unread") === "true")
        return json({ items: all.map(view).filter((n) => !n.readAt), nextCursor: null });
      const second = url.searchParams.get("cursor") === "p2";
      return json({
        items: (second ? all.slice(FEED_PAGE_SIZE) : all.slice(0, FEED_PAGE_SIZE)).map(view),
        nextCursor: second ? null : "p2",
      });
    });
    renderWithApi(<Bell />);
    expect(await screen.findByTestId("unread-count")).toHaveTextContent("1");
    await userEvent.click(screen.getByRole("button", { name: "Notifications, 1 unread" }));
    const panel = screen.getByRole("region", { name: "Notifications" });
    await within(panel).findByText("Reminder 0");
    expect(within(panel).queryByRole("button", { name: /^Mark as read/ })).toBeNull();

    const more = within(panel).getByRole("button", { name: "Load more" });
    await userEvent.click(more);
    const older = await within(panel).findByText(`Reminder ${FEED_PAGE_SIZE}`);
    // Focus goes to the first notification the page brought (the button is gone: it was the last page).
    await waitFor(() => expect(older.closest("p")).toHaveFocus());
    expect(within(panel).queryByRole("button", { name: "Load more" })).toBeNull();
    expect(
      fetch.mock.calls.some((c) => String(c[0]).includes(`limit=${FEED_PAGE_SIZE}&cursor=p2`)),
    ).toBe(true);

    await userEvent.click(
      within(panel).getByRole("button", { name: `Mark as read: Reminder ${FEED_PAGE_SIZE + 2}` }),
    );
    await waitFor(() => expect(screen.queryByTestId("unread-count")).toBeNull());
    expect(within(panel).queryByRole("button", { name: /^Mark as read/ })).toBeNull();
    // The button is gone; focus is on the notification's title, not <body>.
    expect(
      within(panel)
        .getByText(`Reminder ${FEED_PAGE_SIZE + 2}`)
        .closest("p"),
    ).toHaveFocus();
  });

  it("marks every listed notification read through the newest one shown, in one request", async () => {
    let through: string | null = null;
    const all = [note(0, false), note(1, true), note(2, false)];
    const view = (n: NotificationView) =>
      through !== null && !n.readAt ? { ...n, readAt: "2026-03-03T00:00:00Z" } : n;
    const fetch = mockFetch((url, init) => {
      if (init.method === "POST") {
        expect(url.pathname).toBe("/v1/notifications/read");
        through = (JSON.parse(String(init.body)) as { through: string }).through;
        return json({ marked: 2 });
      }
      if (url.searchParams.get("unread") === "true")
        return json({ items: all.map(view).filter((n) => !n.readAt), nextCursor: null });
      return json({ items: all.map(view), nextCursor: null });
    });
    renderWithApi(<Bell />);
    expect(await screen.findByTestId("unread-count")).toHaveTextContent("2");
    await userEvent.click(screen.getByRole("button", { name: "Notifications, 2 unread" }));
    const panel = screen.getByRole("region", { name: "Notifications" });
    await within(panel).findByText("Reminder 0");
    await userEvent.click(within(panel).getByRole("button", { name: "Mark all as read" }));
    await waitFor(() => expect(screen.queryByTestId("unread-count")).toBeNull());
    expect(through).toBe("ntf_0");
    expect(fetch.mock.calls.filter((c) => c[1]?.method === "POST")).toHaveLength(1);
    await waitFor(() =>
      expect(within(panel).queryByRole("button", { name: /^Mark as read/ })).toBeNull(),
    );
    expect(within(panel).queryByRole("button", { name: "Mark all as read" })).toBeNull();
    // Focus stays in the panel (the button it was on is gone).
    expect(within(panel).getByRole("heading", { name: "Notifications" })).toHaveFocus();
  });
});
