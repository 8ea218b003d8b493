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

/** The list answers `items`; a retry answers `retry(id)`. */
function serve(items: DeliveryView[], retry: (id: string) => Response | Promise<Response>) {
  return mockFetch((url, init) => {
    if (url.pathname === LIST && (init.method ?? "GET") === "GET") {
      expect(url.searchParams.get("status")).toBe("dead_lettered");
      return json({ items, nextCursor: null });
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
