import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, problem, renderWithApi } from "../test-utils";
import { FailedDeliveries, type DeliveryView } from "./FailedDeliveries";

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
      [dead("dlv_1", "Oil change overdue"), dead("dlv_2", "Tire rotation overdue")],
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
});
