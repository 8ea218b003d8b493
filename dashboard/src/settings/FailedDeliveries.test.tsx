import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, problem, renderWithApi } from "../test-utils";
import {
  FailedDeliveries,
  mergePages,
  newestFirst,
  SHOWN,
  type DeliveryView,
} from "./FailedDeliveries";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const dead = (id: string, title: string): DeliveryView => ({
  id,
  channel: "webhook",
  status: "dead_lettered",
  createdAt: "2026-12-01T09:00:00Z",
  nextAttemptAt: null,
  deliveredAt: null,
  lastError: "the receiver answered 503",
  resentAt: null,
  carries: {
    type: "reminder.due",
    notificationId: "ntf_1",
    reminderId: "rem_1",
    vehicleId: "veh_1",
    vehicleName: "2021 Toyota RAV4",
    task: "oil_change",
    title,
    status: "overdue",
  },
  attempts: [
    {
      attempt: 1,
      at: "2026-12-01T09:00:00Z",
      outcome: "retry_scheduled",
      httpStatus: 503,
      error: "the receiver answered 503",
    },
    {
      attempt: 2,
      at: "2026-12-01T15:00:00Z",
      outcome: "dead_lettered",
      httpStatus: 503,
      error: "the receiver answered 503",
    },
  ],
});

const LIST = "/v1/notifications/deliveries";

/** A delivery the receiver refused for good after one attempt (a wrong path: 404). */
const refused = (id: string, title: string, createdAt: string): DeliveryView => ({
  ...dead(id, title),
  status: "failed",
  createdAt,
  lastError: "the receiver answered 404",
  attempts: [
    {
      attempt: 1,
      at: createdAt,
      outcome: "failed",
      httpStatus: 404,
      error: "the receiver answered 404",
    },
  ],
});

/** A delivery still being retried: pending, with `attempts` failed attempts behind it. */
const retrying = (id: string, attempts: number): DeliveryView => ({
  ...dead(id, "Brake check due"),
  status: "pending",
  nextAttemptAt: "2026-12-02T10:00:00Z",
  attempts: dead(id, "").attempts.slice(0, attempts),
});

/**
 * The list answers each status's deliveries from `items` (those whose status it is; `pending` too), `more`
 * naming the statuses with a next page; a retry answers `retry(id)`.
 */
function serve(
  items: DeliveryView[],
  retry: (id: string) => Response | Promise<Response>,
  more: string[] = [],
) {
  return mockFetch((url, init) => {
    if (url.pathname === LIST && (init.method ?? "GET") === "GET") {
      const status = url.searchParams.get("status")!;
      expect(["failed", "dead_lettered", "pending"]).toContain(status);
      return json({
        items: items.filter((d) => d.status === status),
        nextCursor: more.includes(status) ? "next" : null,
      });
    }
    const m = /^\/v1\/notifications\/deliveries\/([^/]+)\/retry$/.exec(url.pathname);
    if (m && init.method === "POST") return retry(decodeURIComponent(m[1]!));
    return problem(404, "route not found");
  });
}

describe("Settings: failed deliveries", () => {
  it("says so when nothing failed", async () => {
    serve([], () => problem(404, "delivery not found"));
    renderWithApi(<FailedDeliveries />);
    expect(await screen.findByText("No failed deliveries")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Resend" })).toBeNull();
  });

  it("lists what failed, when and why, and resends one, disabled while it is sent", async () => {
    let answer: (r: Response) => void = () => {};
    const fetch = serve(
      [
        dead("dlv_1", "Oil change overdue"),
        { ...dead("dlv_2", "Tire rotation overdue"), createdAt: "2026-12-01T08:00:00Z" },
      ],
      (id) =>
        new Promise<Response>((resolve) => {
          answer = resolve;
          expect(id).toBe("dlv_1");
        }),
    );
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    const items = await screen.findAllByTestId("failed-delivery");
    expect(items).toHaveLength(2);
    const first = within(items[0]!);
    expect(first.getByText("Oil change overdue")).toBeInTheDocument();
    expect(first.getByTestId("last-error")).toHaveTextContent("the receiver answered 503");
    expect(items[0]).toHaveTextContent(
      /Webhook, made 1 Dec 2026, 09:00 UTC; last tried 1 Dec 2026, 15:00 UTC \(2 attempts\)/,
    );

    await user.click(first.getByRole("button", { name: "Resend" }));
    const sending = first.getByRole("button", { name: "Resending…" });
    expect(sending).toHaveAttribute("aria-disabled", "true");
    await user.click(sending); // a second click while sending sends nothing more
    answer(json({ ...dead("dlv_1", "Oil change overdue"), status: "pending" }, 202));
    expect(await first.findByText("Resent: it is being sent again now.")).toHaveAttribute(
      "role",
      "status",
    );
    expect(first.queryByRole("button", { name: /Resend/ })).toBeNull();
    const posts = fetch.mock.calls.filter(([, i]) => i?.method === "POST");
    expect(posts).toHaveLength(1);
    expect(String(posts[0]![0])).toContain("/v1/notifications/deliveries/dlv_1/retry");
    // The other one is untouched.
    expect(within(items[1]!).getByRole("button", { name: "Resend" })).toBeInTheDocument();
  });

  it("lists the deliveries refused for good beside the dead-lettered ones, newest first, saying which is which", async () => {
    serve(
      [
        dead("dlv_1", "Oil change overdue"),
        refused("dlv_2", "Tire rotation overdue", "2026-12-02T08:00:00Z"),
        refused("dlv_3", "Inspection due", "2026-11-30T08:00:00Z"),
        retrying("dlv_4", 0),
      ],
      () => problem(404, "delivery not found"),
    );
    renderWithApi(<FailedDeliveries />);
    const items = await screen.findAllByTestId("failed-delivery");
    expect(items).toHaveLength(3);
    expect(items.map((i) => i.querySelector("strong")!.textContent)).toEqual([
      "Tire rotation overdue",
      "Oil change overdue",
      "Inspection due",
    ]);
    expect(within(items[0]!).getByTestId("failed-why")).toHaveTextContent(
      /^Refused: .*not tried again/,
    );
    expect(within(items[0]!).getByTestId("last-error")).toHaveTextContent(
      "the receiver answered 404",
    );
    expect(within(items[1]!).getByTestId("failed-why")).toHaveTextContent(
      "Gave up: every attempt failed.",
    );
    expect(within(items[0]!).getByRole("button", { name: "Resend" })).toBeInTheDocument();
    // A pending delivery not tried yet is not being retried: no line about it.
    expect(screen.queryByTestId("retrying")).toBeNull();
  });

  it("says how many deliveries are being retried", async () => {
    serve([retrying("dlv_4", 1), retrying("dlv_5", 2), retrying("dlv_6", 0)], () =>
      problem(404, "delivery not found"),
    );
    const { unmount } = renderWithApi(<FailedDeliveries />);
    expect(await screen.findByTestId("retrying")).toHaveTextContent(
      "2 deliveries are being retried after a failed attempt; they are listed here if every attempt fails.",
    );
    expect(screen.getByText("No failed deliveries")).toBeInTheDocument();
    unmount();
    serve([retrying("dlv_4", 1)], () => problem(404, "delivery not found"), ["pending"]);
    renderWithApi(<FailedDeliveries />);
    expect(await screen.findByTestId("retrying")).toHaveTextContent(
      /^1 or more deliveries are being retried/,
    );
  });

  it("moves focus to the status once a resend went through, not to the page", async () => {
    serve([dead("dlv_1", "Oil change overdue")], () =>
      json({ ...dead("dlv_1", "Oil change overdue"), status: "pending" }, 202),
    );
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    const button = await screen.findByRole("button", { name: "Resend" });
    button.focus();
    await user.keyboard("{Enter}");
    const status = await screen.findByText("Resent: it is being sent again now.");
    await waitFor(() => expect(status).toHaveFocus());
  });

  it("shows why a resend was refused and lets it be tried again", async () => {
    serve([dead("dlv_1", "Oil change overdue")], () =>
      problem(
        409,
        "the webhook channel is switched off, so a resend would not be sent: set webhookUrl in the notification preferences first",
      ),
    );
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    await user.click(await screen.findByRole("button", { name: "Resend" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/webhook channel is switched off/);
    await waitFor(() =>
      expect(screen.getByRole("button", { name: "Resend" })).not.toHaveAttribute("aria-disabled"),
    );
  });

  it("is not shown to roles that may not configure notifications", () => {
    const fetch = serve([dead("dlv_1", "Oil change overdue")], () => json({}, 202));
    renderWithApi(<FailedDeliveries />, vi.fn(), ["viewer", "technician"]);
    expect(screen.queryByRole("heading", { name: "Failed deliveries" })).toBeNull();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("pages through both lists with Show more, newest first, each delivery once, none skipped", async () => {
    const all = interleaved(2 * SHOWN + 30);
    const fetch = serveByCursor(all);
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    const expected = [...all].sort(newestFirst).map((d) => d.id);
    expect(await shownIds()).toEqual(expected.slice(0, SHOWN));
    expect(screen.getByTestId("failed-shown")).toHaveTextContent(`Showing the ${SHOWN} newest`);

    await user.click(screen.getByRole("button", { name: "Show more" }));
    await waitFor(() => expect(screen.getAllByTestId("failed-delivery")).toHaveLength(2 * SHOWN));
    expect(await shownIds()).toEqual(expected.slice(0, 2 * SHOWN));

    const more = screen.getByRole("button", { name: "Show more" });
    await user.click(more);
    await waitFor(() => expect(screen.getAllByTestId("failed-delivery")).toHaveLength(all.length));
    expect(await shownIds()).toEqual(expected);
    // The end: no button, no "older ones follow"; focus went to the first delivery it added.
    expect(screen.queryByRole("button", { name: "Show more" })).toBeNull();
    expect(screen.queryByTestId("failed-shown")).toBeNull();
    expect(screen.getAllByTestId("failed-delivery")[2 * SHOWN]).toHaveFocus();
    // Every page of both lists was read once, following its cursor.
    const reads = fetch.mock.calls
      .map(([u]) => new URL(String(u), "http://localhost"))
      .filter((u) => u.searchParams.get("status") !== "pending");
    const pages = reads.map(
      (u) => `${u.searchParams.get("status")}:${u.searchParams.get("cursor") ?? ""}`,
    );
    expect(new Set(pages).size).toBe(pages.length);
    expect(pages.filter((p) => p.startsWith("failed:"))).toHaveLength(2);
    expect(pages.filter((p) => p.startsWith("dead_lettered:"))).toHaveLength(2);
  });

  it("says why more could not be read, and reads it when tried again", async () => {
    const all = interleaved(2 * SHOWN + 20);
    let fail = true;
    serveByCursor(all, () => {
      if (!fail) return undefined;
      fail = false;
      return problem(503, "the notification store is not answering");
    });
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    expect(await shownIds()).toHaveLength(SHOWN);
    await user.click(screen.getByRole("button", { name: "Show more" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      /^Older deliveries could not be read\. The notification store is not answering/,
    );
    expect(screen.getAllByTestId("failed-delivery")).toHaveLength(SHOWN);
    const again = screen.getByRole("button", { name: "Try again" });
    await user.click(again);
    await waitFor(() => expect(screen.getAllByTestId("failed-delivery")).toHaveLength(2 * SHOWN));
    expect(await shownIds()).toEqual(
      [...all]
        .sort(newestFirst)
        .map((d) => d.id)
        .slice(0, 2 * SHOWN),
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByRole("button", { name: "Show more" })).toBe(again);
  });

  it("keeps a resent delivery as it was when more are shown", async () => {
    const all = interleaved(SHOWN + 5);
    serveByCursor(all, undefined, () =>
      json({ ...dead("x", "Oil change overdue"), status: "pending" }, 202),
    );
    const user = userEvent.setup();
    renderWithApi(<FailedDeliveries />);
    const first = within((await screen.findAllByTestId("failed-delivery"))[0]!);
    await user.click(first.getByRole("button", { name: "Resend" }));
    await first.findByText("Resent: it is being sent again now.");
    await user.click(screen.getByRole("button", { name: "Show more" }));
    await waitFor(() => expect(screen.getAllByTestId("failed-delivery")).toHaveLength(all.length));
    const again = within(screen.getAllByTestId("failed-delivery")[0]!);
    expect(again.getByText("Resent: it is being sent again now.")).toBeInTheDocument();
    expect(again.queryByRole("button", { name: "Resend" })).toBeNull();
  });

  it("shows only what is certainly newer than the next unread delivery of the other list", () => {
    const at = (id: string, createdAt: string, status: "failed" | "dead_lettered") => ({
      ...refused(id, id, createdAt),
      status,
    });
    const failed = [
      at("f1", "2026-12-01T10:00:00.000300Z", "failed"),
      at("f2", "2026-12-01T09:00:00Z", "failed"),
    ];
    const dead = [
      at("d2", "2026-12-01T10:00:00.000200Z", "dead_lettered"),
      at("d1", "2026-12-01T10:00:00.000200Z", "dead_lettered"),
      at("d3", "2026-12-01T08:00:00Z", "dead_lettered"),
    ];
    // The dead-lettered list has more after d1: f2 (09:00) might be older than one of them, so it waits.
    // Within one millisecond the microseconds order them; at the same instant, the id (descending).
    const merged = mergePages([
      { items: failed, next: null },
      { items: dead.slice(0, 2), next: "c" },
    ]);
    expect(merged.items.map((d) => d.id)).toEqual(["f1", "d2", "d1"]);
    expect(merged.more).toBe(true);
    // Read to the end, everything, in order, once (a delivery in both lists counts once).
    const whole = mergePages([
      { items: [...failed, dead[2]!], next: null },
      { items: dead, next: null },
    ]);
    expect(whole.items.map((d) => d.id)).toEqual(["f1", "d2", "d1", "f2", "d3"]);
    expect(whole.more).toBe(false);
  });
});

/**
 * `n` failed and dead-lettered deliveries whose statuses alternate in runs of uneven length (so pages of the
 * two lists overlap in time), some created within one millisecond (told apart by their microseconds) or at
 * the very same instant (told apart by their ids).
 */
function interleaved(n: number): DeliveryView[] {
  const out: DeliveryView[] = [];
  let status: "failed" | "dead_lettered" = "failed";
  for (let i = 0; i < n; i++) {
    if (i % 7 === 0 || i % 11 === 0) status = status === "failed" ? "dead_lettered" : "failed";
    const minute = Math.floor(i / 3);
    const micros = String(i % 3 === 2 ? 0 : (i % 3) * 250).padStart(6, "0");
    const createdAt = `2026-11-${String(1 + Math.floor(minute / 1440)).padStart(2, "0")}T${String(
      Math.floor((minute % 1440) / 60),
    ).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}:00.${micros}Z`;
    out.push({
      ...refused(`dlv_${String(i).padStart(4, "0")}`, `Delivery ${i}`, createdAt),
      status,
    });
  }
  return out;
}

/**
 * The deliveries list as the API pages it: each status's deliveries newest first (`createdAt`, then id,
 * descending), `limit` at a time, the cursor naming the last one given; `more(url)` may answer a page
 * instead (a failure); a retry answers `retry()`.
 */
function serveByCursor(
  all: DeliveryView[],
  more?: (url: URL) => Response | undefined,
  retry: () => Response = () => problem(404, "delivery not found"),
) {
  return mockFetch((url, init) => {
    if (url.pathname === LIST && (init.method ?? "GET") === "GET") {
      const status = url.searchParams.get("status")!;
      const limit = Number(url.searchParams.get("limit"));
      const cursor = url.searchParams.get("cursor");
      if (cursor) {
        const instead = more?.(url);
        if (instead) return instead;
      }
      const mine = all.filter((d) => d.status === status).sort(newestFirst);
      const from = cursor ? mine.findIndex((d) => d.id === cursor) + 1 : 0;
      const page = mine.slice(from, from + limit);
      const next = from + limit < mine.length ? page[page.length - 1]!.id : null;
      return json({ items: page, nextCursor: next });
    }
    if (/\/retry$/.test(url.pathname) && init.method === "POST") return retry();
    return problem(404, "route not found");
  });
}

async function shownIds(): Promise<string[]> {
  const items = await screen.findAllByTestId("failed-delivery");
  const ids = items.map((i) => i.querySelector("strong")!.textContent!.replace("Delivery ", ""));
  return ids.map((n) => `dlv_${n.padStart(4, "0")}`);
}
