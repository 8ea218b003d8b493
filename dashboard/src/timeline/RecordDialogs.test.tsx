import { readFileSync } from "node:fs";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventHistory, VehicleEvent } from "../api/types";
import {
  demoVehicle,
  event,
  expectHelpLinked,
  json,
  mockFetch,
  problem,
  renderWithApi,
} from "../test-utils";
import { buildCorrection, fieldsFromEvent } from "./RecordEventForm";
import { Timeline } from "./Timeline";

const vehicle = demoVehicle();

afterEach(() => vi.unstubAllGlobals());

/** The oil change the tests correct: 1,000 mi, $89.99, Quick Lube. */
function oilChange(overrides: Partial<VehicleEvent> = {}): VehicleEvent {
  return {
    ...event("a", "2026-03-20T09:30:00Z"),
    title: "Oil change",
    vendor: { name: "Quick Lube" },
    ...overrides,
  };
}

function history(current: VehicleEvent, more: Partial<EventHistory> = {}): EventHistory {
  return {
    current,
    voided: false,
    revisions: [
      { revision: 1, change: "recorded", at: current.recordedAt, changed: [], event: oilChange() },
      {
        revision: 2,
        change: "corrected",
        at: "2026-03-21T10:05:00Z",
        by: "demo-owner",
        reason: "receipt says 79.99",
        changed: ["costCents"],
        event: current,
      },
    ],
    ...more,
  };
}

/**
 * A timeline of two records (`a` newest, then `b`) whose PATCH, DELETE and history answer `answer`; a
 * history `answer` leaves alone is `first` at revision 2.
 */
function setup(
  answer: (url: URL, init: RequestInit) => Response | Promise<Response> | undefined,
  roles = ["owner"],
  first = oilChange(),
) {
  const fetch = mockFetch((url, init) => {
    const r = answer(url, init);
    if (r) return r;
    if (url.pathname.endsWith("/history")) return json(history(first));
    return json({ items: [first, event("b", "2026-02-03T00:00:00Z")], nextCursor: null });
  });
  const onRecorded = vi.fn();
  renderWithApi(<Timeline vehicle={vehicle} onRecorded={onRecorded} />, vi.fn(), roles);
  return { fetch, onRecorded };
}

const calls = (fetch: ReturnType<typeof mockFetch>, method: string) =>
  fetch.mock.calls.filter((c) => c[1]?.method === method);

/** Opens the row's dialog and waits until it has read the record (Correct and Void read its history). */
async function openAction(action: "Correct" | "Void" | "History", title = "Oil change") {
  await userEvent.click(await screen.findByRole("button", { name: new RegExp(`^${title}`) }));
  await userEvent.click(screen.getByRole("button", { name: new RegExp(`^${action} `) }));
  const dialog = screen.getByRole("dialog");
  if (action !== "History")
    await waitFor(() => expect(dialog.querySelector("[aria-busy]")).toBeNull());
  return dialog;
}

const header = (call: unknown[] | undefined, name: string) =>
  ((call?.[1] as RequestInit | undefined)?.headers as Record<string, string> | undefined)?.[name];

describe("correcting a record", () => {
  it("opens the record form prefilled with the record's fields, and an optional reason", async () => {
    setup(() => undefined);
    const dialog = await openAction("Correct");
    const form = within(dialog).getByRole("form", { name: "Correct the record" });
    expect(within(form).getByLabelText("Kind")).toHaveValue("maintenance");
    expect(within(form).getByLabelText("Date")).toHaveValue("2026-03-20");
    expect(within(form).getByLabelText("Title")).toHaveValue("Oil change");
    expect(within(form).getByLabelText("Odometer (mi)")).toHaveValue("1000");
    expect(within(form).getByLabelText("Cost (USD)")).toHaveValue("89.99");
    expect(within(form).getByLabelText("Vendor")).toHaveValue("Quick Lube");
    expect(within(form).getByLabelText("Tasks")).toHaveValue("oil_change");
    expect(within(form).getByLabelText("Reason (optional)")).toHaveValue("");
    // Focus moves into the dialog, to its first field.
    expect(within(form).getByLabelText("Kind")).toHaveFocus();
  });

  it("sends only the fields that changed, then shows the corrected record and refreshes the rest", async () => {
    const corrected = oilChange({ costCents: 7999 });
    const { fetch, onRecorded } = setup((_url, init) =>
      init.method === "PATCH" ? json(history(corrected)) : undefined,
    );
    const dialog = await openAction("Correct");
    const cost = within(dialog).getByLabelText("Cost (USD)");
    await userEvent.clear(cost);
    await userEvent.type(cost, "79.99");
    await userEvent.type(within(dialog).getByLabelText("Reason (optional)"), "receipt says 79.99");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const [patch] = calls(fetch, "PATCH");
    expect(String(patch![0])).toBe("/v1/vehicles/veh_1/events/a");
    expect(JSON.parse(String(patch![1]!.body))).toEqual({
      costCents: 7999,
      reason: "receipt says 79.99",
    });
    const row = screen.getByRole("button", { name: /^Oil change/ });
    expect(row).toHaveTextContent("$79.99");
    expect(row).toHaveTextContent("corrected");
    expect(onRecorded).toHaveBeenCalledOnce();
    // Focus is back on the button that opened the dialog.
    expect(screen.getByRole("button", { name: /^Correct / })).toHaveFocus();
  });

  it("says what the server found doubtful about a corrected odometer, once the dialog closes", async () => {
    const corrected = oilChange({ odometer: 100 });
    setup((_url, init) =>
      init.method === "PATCH"
        ? json({
            ...history(corrected),
            warnings: [
              {
                field: "odometer",
                message: "100 mi is lower than the 900 mi recorded on 2026-03-01",
              },
            ],
          })
        : undefined,
    );
    const dialog = await openAction("Correct");
    const odometer = within(dialog).getByLabelText("Odometer (mi)");
    await userEvent.clear(odometer);
    await userEvent.type(odometer, "100");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(screen.getByTestId("record-warning")).toHaveTextContent(
      "“Oil change” is corrected. 100 mi is lower than the 900 mi recorded on 2026-03-01.",
    );
  });

  it("refuses a correction that changes nothing, without sending it", async () => {
    const { fetch } = setup(() => undefined);
    const dialog = await openAction("Correct");
    // Typing a space after the title changes nothing once trimmed.
    await userEvent.type(within(dialog).getByLabelText("Title"), " ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    expect(within(dialog).getByRole("status")).toHaveTextContent("Nothing has changed");
    expect(calls(fetch, "PATCH")).toHaveLength(0);
  });

  it("reads the record when it opens: prefills from what the server has and names its revision", async () => {
    // The row is stale: another tab has since changed the claim id (revision 3).
    const row = oilChange({
      kind: "collision",
      title: "Rear bumper scuff",
      details: { severity: "minor", insuranceClaimId: "CLM-1", airbagDeployed: false },
    });
    const now: VehicleEvent = {
      ...row,
      vendor: { name: "Renamed body shop" },
      details: { severity: "minor", insuranceClaimId: "CLM-OTHER-TAB", airbagDeployed: false },
    };
    const read = history(now, {
      revisions: [
        ...history(now).revisions,
        { revision: 3, change: "corrected", at: "2026-03-22T08:00:00Z", changed: [], event: now },
      ],
    });
    let answerHistory: (r: Response) => void = () => {};
    const { fetch } = setup(
      (url, init) => {
        if (url.pathname.endsWith("/history"))
          return new Promise<Response>((resolve) => (answerHistory = resolve));
        if (init.method === "PATCH") return json(history(now));
        return undefined;
      },
      ["owner"],
      row,
    );
    await userEvent.click(await screen.findByRole("button", { name: /^Rear bumper scuff/ }));
    await userEvent.click(screen.getByRole("button", { name: /^Correct / }));
    const dialog = screen.getByRole("dialog");
    // While it reads, the dialog says so and holds focus; the form is not offered yet.
    expect(within(dialog).getByRole("status")).toHaveTextContent("Reading the record");
    expect(within(dialog).queryByRole("form")).toBeNull();
    expect(dialog).toHaveFocus();
    answerHistory(json(read));
    const vendor = await within(dialog).findByLabelText("Vendor");
    expect(vendor).toHaveValue("Renamed body shop");
    // Focus moves as the form shows (a layout effect); waited for, as the read resolves outside React's act.
    await waitFor(() => expect(within(dialog).getByLabelText("Kind")).toHaveFocus());

    await userEvent.selectOptions(within(dialog).getByLabelText("Severity"), "severe");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    await waitFor(() => expect(calls(fetch, "PATCH")).toHaveLength(1));
    const [patch] = calls(fetch, "PATCH");
    // The change is laid over the record as the server has it: the other tab's claim id stays.
    expect(JSON.parse(String(patch![1]!.body))).toEqual({
      details: { severity: "severe", insuranceClaimId: "CLM-OTHER-TAB", airbagDeployed: false },
    });
    expect(header(patch, "If-Match")).toBe('"3"');
  });

  it("on a 409 for a stale revision, reloads the record and sends its new revision", async () => {
    const newer = oilChange({ costCents: 6500 });
    let reads = 0;
    let patches = 0;
    const { fetch } = setup((url, init) => {
      if (url.pathname.endsWith("/history")) {
        reads++;
        return json(
          reads === 1
            ? history(oilChange())
            : history(newer, {
                revisions: [
                  ...history(newer).revisions,
                  {
                    revision: 3,
                    change: "corrected",
                    at: "2026-03-22T08:00:00Z",
                    changed: ["costCents"],
                    event: newer,
                  },
                ],
              }),
        );
      }
      if (init.method === "PATCH")
        return patches++ === 0
          ? problem(
              409,
              "the record changed since revision 2 (it is now at revision 3): read it again",
            )
          : json(history(newer));
      return undefined;
    });
    const dialog = await openAction("Correct");
    await userEvent.type(within(dialog).getByLabelText("Notes"), "first try");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "Someone changed this record after you opened it",
    );
    expect(header(calls(fetch, "PATCH")[0], "If-Match")).toBe('"2"');
    await userEvent.click(within(dialog).getByRole("button", { name: "Reload the record" }));
    await waitFor(() => expect(within(dialog).getByLabelText("Cost (USD)")).toHaveValue("65.00"));
    await userEvent.type(within(dialog).getByLabelText("Notes"), "second try");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    await waitFor(() => expect(calls(fetch, "PATCH")).toHaveLength(2));
    expect(header(calls(fetch, "PATCH")[1], "If-Match")).toBe('"3"');
    expect(JSON.parse(String(calls(fetch, "PATCH")[1]![1]!.body))).toEqual({
      notes: "second try",
    });
  });

  it("offers an acquisition's purchase price, which follows its cost while the two are equal", async () => {
    const bought = oilChange({
      kind: "acquisition",
      title: "Bought from Lakeside Toyota",
      costCents: 2_749_000,
      vendor: null,
      details: { priceCents: 2_749_000, seller: "Lakeside Toyota", condition: "used" },
    } as Partial<VehicleEvent>);
    const { fetch } = setup(
      (_url, init) => (init.method === "PATCH" ? json(history(bought)) : undefined),
      ["owner"],
      bought,
    );
    const dialog = await openAction("Correct", "Bought from");
    const price = within(dialog).getByLabelText("Purchase price (USD)");
    expect(price).toHaveValue("27490.00");
    const cost = within(dialog).getByLabelText("Cost (USD)");
    await userEvent.clear(cost);
    await userEvent.type(cost, "27000.50");
    expect(price).toHaveValue("27000.50");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    await waitFor(() => expect(calls(fetch, "PATCH")).toHaveLength(1));
    // `details` is sent whole: the price changed, the seller and condition as the record has them.
    expect(JSON.parse(String(calls(fetch, "PATCH")[0]![1]!.body))).toEqual({
      costCents: 2_700_050,
      details: { priceCents: 2_700_050, seller: "Lakeside Toyota", condition: "used" },
    });
  });

  it("keeps an acquisition's price apart from a cost that includes fees", async () => {
    const bought = oilChange({
      kind: "acquisition",
      title: "Bought from Lakeside Toyota",
      costCents: 2_800_000,
      vendor: null,
      details: { priceCents: 2_749_000, seller: "Lakeside Toyota" },
    } as Partial<VehicleEvent>);
    const e = bought;
    const before = fieldsFromEvent(e, "mi");
    expect(buildCorrection(e, before, { ...before, cost: "28100" }).body).toEqual({
      costCents: 2_810_000,
    });
    expect(buildCorrection(e, before, { ...before, price: "27000" }).body).toEqual({
      details: { priceCents: 2_700_000, seller: "Lakeside Toyota" },
    });
    // A cleared price leaves the other details, and the purchase price falls back to the cost.
    expect(buildCorrection(e, before, { ...before, price: "" }).body).toEqual({
      details: { seller: "Lakeside Toyota" },
    });
    expect(buildCorrection(e, before, { ...before, price: "27k" }).errors).toEqual({
      "details.priceCents":
        "Write the amount with at most 2 decimals, such as 1234.50, 1,234.50 or 1.234,50.",
    });
  });

  it("shows the API's field errors beside their fields", async () => {
    setup((_url, init) =>
      init.method === "PATCH"
        ? problem(422, "the request has invalid fields", [
            { field: "odometer", message: "must not be below the previous reading (41000)" },
          ])
        : undefined,
    );
    const dialog = await openAction("Correct");
    const odometer = within(dialog).getByLabelText("Odometer (mi)");
    await userEvent.clear(odometer);
    await userEvent.type(odometer, "12");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    await waitFor(() => expect(odometer).toHaveAttribute("aria-invalid", "true"));
    expect(odometer).toHaveAccessibleDescription("Must not be below the previous reading (41000).");
    // Every hint and error in the dialog is its field's description: the reason's hint too.
    expect(within(dialog).getByLabelText("Reason (optional)")).toHaveAccessibleDescription(
      "Kept in the record's history; up to 500 characters.",
    );
    expect(within(dialog).getByLabelText("Tasks")).toHaveAccessibleDescription(
      "Comma-separated, e.g. oil_change, tire_rotation",
    );
    expect(expectHelpLinked(dialog)).toBe(3);
    expect(within(dialog).getByRole("alert")).toHaveTextContent("previous reading");
  });

  it("says when the record changed meanwhile, and reloads it to start again", async () => {
    const newer = oilChange({ costCents: 6500, title: "Oil and filter" });
    let reads = 0;
    const { fetch } = setup((url, init) => {
      if (init.method === "PATCH")
        return problem(
          409,
          "event a changed while this request was handled; read it again and retry",
        );
      if (url.pathname.endsWith("/history"))
        return json(reads++ === 0 ? history(oilChange()) : history(newer));
      return undefined;
    });
    const dialog = await openAction("Correct");
    await userEvent.type(within(dialog).getByLabelText("Notes"), "synthetic");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    const alert = await within(dialog).findByRole("alert");
    // In words for people; the server's detail (revisions, routes) only under "Details for support".
    expect(alert.querySelector("p.error")).toHaveTextContent(
      "Someone changed this record after you opened it, so your correction was not saved. Reload the record to see how it reads now, then make your correction again if it is still needed.",
    );
    expect(alert.querySelector("p.error")).not.toHaveTextContent(/history|GET|revision/);
    expect(within(alert).getByText("Details for support").closest("details")).toHaveTextContent(
      "Event a changed while this request was handled; read it again and retry.",
    );
    // Reloading with the keyboard keeps focus in the dialog: on its first field.
    within(dialog).getByRole("button", { name: "Reload the record" }).focus();
    await userEvent.keyboard("{Enter}");
    await waitFor(() => expect(within(dialog).getByLabelText("Cost (USD)")).toHaveValue("65.00"));
    await waitFor(() => expect(within(dialog).getByLabelText("Kind")).toHaveFocus());
    expect(within(dialog).getByLabelText("Title")).toHaveValue("Oil and filter");
    expect(within(dialog).getByLabelText("Notes")).toHaveValue("");
    expect(within(dialog).getByRole("status")).toHaveTextContent("reloaded");
    expect(fetch.mock.calls.some((c) => String(c[0]).endsWith("/events/a/history"))).toBe(true);
    // The row behind shows the record as it now reads too.
    expect(screen.getByRole("button", { name: /^Oil and filter/ })).toHaveTextContent("$65.00");
  });

  it("shows a 403 in plain words", async () => {
    setup((_url, init) =>
      init.method === "PATCH"
        ? problem(403, "your roles do not allow correct_dealer_records")
        : undefined,
    );
    const dialog = await openAction("Correct");
    await userEvent.type(within(dialog).getByLabelText("Notes"), "x");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "Your role does not allow you to correct records a dealer sent.",
    );
  });

  it("returns focus to the row's button when the dialog is cancelled or closed with Escape", async () => {
    setup((url) => (url.pathname.endsWith("/history") ? json(history(oilChange())) : undefined));
    let dialog = await openAction("Correct");
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("button", { name: /^Correct / })).toHaveFocus();
    await userEvent.click(screen.getByRole("button", { name: /^History / }));
    dialog = screen.getByRole("dialog");
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("button", { name: /^History / })).toHaveFocus();
  });
});

describe("focus when a dialog opens in a browser", () => {
  // A browser's showModal() focuses the dialog's first focusable element itself — the "×" — before the
  // dialog's effects run; jsdom has no showModal, so the tests give it one that does the same.
  afterEach(() => {
    delete (HTMLDialogElement.prototype as { showModal?: unknown }).showModal;
    delete (HTMLDialogElement.prototype as { close?: unknown }).close;
  });
  function browserShowModal() {
    Object.assign(HTMLDialogElement.prototype, {
      showModal(this: HTMLDialogElement) {
        this.setAttribute("open", "");
        this.querySelector<HTMLElement>("button, input, select, textarea")?.focus();
      },
      close(this: HTMLDialogElement) {
        this.removeAttribute("open");
      },
    });
  }

  it("puts focus on the first field of Correct and Void, not on the close button", async () => {
    browserShowModal();
    setup(() => undefined);
    let dialog = await openAction("Correct");
    expect(within(dialog).getByLabelText("Kind")).toHaveFocus();
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await userEvent.click(screen.getByRole("button", { name: /^Void / }));
    dialog = screen.getByRole("dialog");
    await waitFor(() => expect(dialog.querySelector("[aria-busy]")).toBeNull());
    expect(within(dialog).getByLabelText("Reason (required)")).toHaveFocus();
  });

  it("puts focus on the History dialog's heading", async () => {
    browserShowModal();
    setup(() => undefined);
    const dialog = await openAction("History");
    await within(dialog).findByText(/Corrected \(revision 2\)/);
    await waitFor(() =>
      expect(within(dialog).getByRole("heading", { name: /^History of/ })).toHaveFocus(),
    );
  });
});

describe("voiding a record", () => {
  it("needs a reason, asks to confirm, then voids it: the row leaves and focus moves to the next", async () => {
    const { fetch, onRecorded } = setup((_url, init) =>
      init.method === "DELETE" ? json(history(oilChange(), { voided: true })) : undefined,
    );
    const dialog = await openAction("Void");
    const reason = within(dialog).getByLabelText("Reason (required)");
    expect(reason).toHaveFocus();
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    expect(reason).toHaveAttribute("aria-invalid", "true");
    expect(reason).toHaveAccessibleDescription(
      "Say why the record is voided. Up to 500 characters; kept in the record's history.",
    );
    expect(expectHelpLinked(dialog)).toBe(2);
    await userEvent.type(reason, "   ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    expect(reason).toHaveAttribute("aria-invalid", "true");
    expect(calls(fetch, "DELETE")).toHaveLength(0);

    await userEvent.type(reason, "entered twice");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    const confirm = within(dialog).getByRole("button", { name: "Void the record" });
    expect(confirm).toHaveFocus();
    expect(calls(fetch, "DELETE")).toHaveLength(0);
    await userEvent.click(confirm);

    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(String(calls(fetch, "DELETE")[0]![0])).toBe(
      "/v1/vehicles/veh_1/events/a?reason=entered%20twice",
    );
    // Voiding names the revision read when the dialog opened.
    expect(header(calls(fetch, "DELETE")[0], "If-Match")).toBe('"2"');
    expect(screen.queryByRole("button", { name: /^Oil change/ })).toBeNull();
    expect(screen.getByText(/is voided: it has left the timeline/)).toBeInTheDocument();
    expect(onRecorded).toHaveBeenCalledOnce();
    expect(screen.getByRole("button", { name: /Event b/ })).toHaveFocus();
    // Once voided records are shown, "it has left the timeline" no longer holds: the message goes.
    await userEvent.click(screen.getByRole("checkbox", { name: "Show voided records" }));
    expect(screen.queryByText(/is voided: it has left the timeline/)).toBeNull();
  });

  it("says when the record is voided already, and takes it off the timeline on reload", async () => {
    const voided: EventHistory = {
      ...history(oilChange()),
      voided: true,
      revisions: [
        ...history(oilChange()).revisions,
        {
          revision: 3,
          change: "voided",
          at: "2026-03-22T08:00:00Z",
          by: "demo-fleet",
          reason: "duplicate",
          changed: [],
          event: oilChange(),
        },
      ],
    };
    let reads = 0;
    setup((url, init) => {
      if (init.method === "DELETE")
        return problem(
          409,
          "event a was voided at 2026-03-22T08:00:00Z (duplicate); a voided record cannot be voided again",
        );
      // Voided by someone else after this dialog read it.
      if (url.pathname.endsWith("/history"))
        return json(reads++ === 0 ? history(oilChange()) : voided);
      return undefined;
    });
    const dialog = await openAction("Void");
    await userEvent.type(within(dialog).getByLabelText("Reason (required)"), "typo");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Void the record" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "a voided record cannot be voided again",
    );
    await userEvent.click(within(dialog).getByRole("button", { name: "Reload the record" }));
    expect(await within(dialog).findByText(/This record was voided on/)).toHaveTextContent(
      "This record was voided on 22 Mar 2026 (duplicate). It can no longer be changed.",
    );
    expect(screen.queryByRole("button", { name: /^Oil change/ })).toBeNull();
    await userEvent.click(within(dialog).getByRole("button", { name: "Close" }));
    expect(screen.getByRole("button", { name: /Event b/ })).toHaveFocus();
  });
});

describe("a record voided while its dialog is open", () => {
  /** Three rows (`x`, then the oil change `a`, then `b`); `a` is voided by someone else after it is read. */
  function voidedMeanwhile() {
    const voided: EventHistory = {
      ...history(oilChange()),
      voided: true,
      revisions: [
        ...history(oilChange()).revisions,
        {
          revision: 3,
          change: "voided",
          at: "2026-12-02T07:02:18.506387065+00:00",
          by: "demo-fleet",
          reason: "duplicate",
          changed: [],
          event: oilChange(),
        },
      ],
    };
    let reads = 0;
    mockFetch((url, init) => {
      if (url.pathname.endsWith("/history"))
        return json(reads++ === 0 ? history(oilChange()) : voided);
      if (init.method === "PATCH" || init.method === "DELETE")
        return problem(
          409,
          "event a was voided at 2026-12-02T07:02:18.506387065+00:00 (duplicate); a voided record cannot be corrected",
        );
      return json({
        items: [
          event("x", "2026-04-01T00:00:00Z"),
          oilChange(),
          event("b", "2026-02-03T00:00:00Z"),
        ],
        nextCursor: null,
      });
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={vi.fn()} />);
  }

  it("keeps focus in the dialog after the reload, then gives it to the voided row's neighbour", async () => {
    voidedMeanwhile();
    const dialog = await openAction("Correct");
    await userEvent.type(within(dialog).getByLabelText("Notes"), "late");
    await userEvent.click(within(dialog).getByRole("button", { name: "Save correction" }));
    const alert = await within(dialog).findByRole("alert");
    // The server's instant is written as the dashboard writes instants.
    expect(alert).toHaveTextContent("was voided at 2 Dec 2026, 07:02 UTC (duplicate)");
    expect(alert).not.toHaveTextContent("2026-12-02T07:02");
    await userEvent.click(within(dialog).getByRole("button", { name: "Reload the record" }));
    const notice = await within(dialog).findByText(/This record was voided on 2 Dec 2026/);
    expect(within(dialog).queryByRole("button", { name: "Save correction" })).toBeNull();
    // Reload and Save are gone: focus is on the sentence that says why, inside the dialog.
    await waitFor(() => expect(notice).toHaveFocus());
    expect(screen.queryByRole("button", { name: /^Oil change/ })).toBeNull();
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    // The row that followed it, not the timeline's first row.
    expect(screen.getByRole("button", { name: /Event b/ })).toHaveFocus();
  });

  it("does the same in the void dialog", async () => {
    voidedMeanwhile();
    const dialog = await openAction("Void");
    await userEvent.type(within(dialog).getByLabelText("Reason (required)"), "typo");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Void the record" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("2 Dec 2026, 07:02 UTC");
    await userEvent.click(within(dialog).getByRole("button", { name: "Reload the record" }));
    const notice = await within(dialog).findByText(/This record was voided on/);
    await waitFor(() => expect(notice).toHaveFocus());
    await userEvent.click(within(dialog).getByRole("button", { name: "Close" }));
    expect(screen.getByRole("button", { name: /Event b/ })).toHaveFocus();
  });
});

describe("a record's history", () => {
  it("lists every revision: who changed what, when and why", async () => {
    const corrected = oilChange({ costCents: 7999 });
    setup(
      (url) => (url.pathname.endsWith("/history") ? json(history(corrected)) : undefined),
      ["viewer"],
    );
    const dialog = await openAction("History");
    const items = await within(dialog).findAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent("Recorded (revision 1)");
    expect(items[1]).toHaveTextContent("Corrected (revision 2)");
    expect(items[1]).toHaveTextContent("21 Mar 2026, 10:05 UTC by demo-owner");
    expect(items[1]).toHaveTextContent("Reason: receipt says 79.99");
    const cost = within(items[1]!).getByRole("definition");
    expect(cost).toHaveTextContent("$89.99 → changed to $79.99");
    expect(cost.querySelector("del")).toHaveTextContent("$89.99");
    expect(cost.querySelector("ins")).toHaveTextContent("$79.99");
  });
});

describe("voided records on the timeline", () => {
  const voidedRow = {
    ...event("v", "2026-03-01T00:00:00Z", "repair"),
    title: "Duplicate brake job",
    voided: true,
    voidedAt: "2026-03-22T08:00:00Z",
    voidReason: "entered twice",
  };

  it("are left out until asked for, then shown struck through with when and why, history only", async () => {
    const fetch = mockFetch((url) => {
      if (url.pathname.endsWith("/history")) return json(history(oilChange()));
      const items = [oilChange(), event("b", "2026-02-03T00:00:00Z")];
      return json({
        items:
          url.searchParams.get("includeVoided") === "true"
            ? [items[0], voidedRow, items[1]]
            : items,
        nextCursor: null,
      });
    });
    renderWithApi(<Timeline vehicle={vehicle} onRecorded={vi.fn()} />);
    await screen.findByRole("button", { name: /^Oil change/ });
    const toggle = screen.getByRole("checkbox", { name: "Show voided records" });
    expect(toggle).not.toBeChecked();
    expect(String(fetch.mock.calls[0]![0])).not.toContain("includeVoided");
    expect(screen.queryByText("Duplicate brake job")).toBeNull();

    await userEvent.click(toggle);
    // The row's name says it is voided, when and why (the strike-through alone would be silent).
    const row = await screen.findByRole("button", { name: /^Duplicate brake job/ });
    expect(String(fetch.mock.calls.at(-1)![0])).toContain("includeVoided=true");
    expect(row).toHaveAccessibleName(/Voided on 22 Mar 2026: entered twice/);
    expect(row.closest("li")).toHaveClass("voided");
    await userEvent.click(row);
    const li = row.closest("li")!;
    expect(within(li).getByRole("button", { name: /^History / })).toBeInTheDocument();
    expect(within(li).queryByRole("button", { name: /^Correct / })).toBeNull();
    expect(within(li).queryByRole("button", { name: /^Void / })).toBeNull();
    // A record that is not voided keeps Correct and Void.
    await userEvent.click(screen.getByRole("button", { name: /^Oil change/ }));
    expect(screen.getByRole("button", { name: /^Correct .*Oil change/ })).toBeInTheDocument();

    await userEvent.click(toggle);
    await waitFor(() => expect(screen.queryByText("Duplicate brake job")).toBeNull());
    expect(String(fetch.mock.calls.at(-1)![0])).not.toContain("includeVoided");
  });

  it("keep a record voided while they are shown on the timeline, marked, with focus on its row", async () => {
    setup((_url, init) =>
      init.method === "DELETE"
        ? json(
            history(oilChange(), {
              voided: true,
              revisions: [
                ...history(oilChange()).revisions,
                {
                  revision: 3,
                  change: "voided",
                  at: "2026-03-22T08:00:00Z",
                  by: "demo-owner",
                  reason: "entered twice",
                  changed: [],
                  event: oilChange(),
                },
              ],
            }),
          )
        : undefined,
    );
    await userEvent.click(await screen.findByRole("checkbox", { name: "Show voided records" }));
    const dialog = await openAction("Void");
    await userEvent.type(within(dialog).getByLabelText("Reason (required)"), "entered twice");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Void the record" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const row = screen.getByRole("button", { name: /^Oil change/ });
    expect(row).toHaveAccessibleName(/Voided on 22 Mar 2026: entered twice/);
    expect(row).toHaveFocus();
    expect(screen.getByText(/is voided: it stays here, marked voided/)).toBeInTheDocument();
  });
});

describe("the history dialog's heading", () => {
  it("names the record as its history reads, not as the stale row does", async () => {
    const renamed = oilChange({ title: "Oil and filter change" });
    setup((url) => (url.pathname.endsWith("/history") ? json(history(renamed)) : undefined));
    const dialog = await openAction("History");
    await within(dialog).findAllByRole("listitem");
    expect(within(dialog).getByRole("heading", { level: 2 })).toHaveTextContent(
      "History of “Oil and filter change”",
    );
    expect(screen.getByRole("dialog", { name: "History of “Oil and filter change”" })).toBe(dialog);
  });
});

describe("record text in the dialogs' sentences", () => {
  it("is isolated, so a stray bidi control in a title or reason cannot reverse the words around it", async () => {
    const title = "Brakes \u202Eunterminated override";
    const odd = oilChange({ title });
    const corrected: EventHistory = {
      ...history(odd),
      revisions: history(odd).revisions.map((r) => ({
        ...r,
        by: "\u202Edemo-owner",
        reason: "\u202Ereceipt",
        event: r.revision === 1 ? { ...odd, costCents: 8999 } : { ...odd, costCents: 7999 },
      })),
    };
    const isolated = (el: Element, text: string) =>
      [...el.querySelectorAll("bdi")].some((b) => b.textContent === text);
    setup(
      (url) => (url.pathname.endsWith("/history") ? json(corrected) : undefined),
      ["owner"],
      odd,
    );

    let dialog = await openAction("Void", "Brakes");
    expect(isolated(within(dialog).getByRole("heading"), title)).toBe(true);
    await userEvent.type(within(dialog).getByLabelText("Reason (required)"), "\u202Etest");
    await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
    const question = within(dialog).getByText(/^Void/, { selector: "p" });
    expect(isolated(question, title)).toBe(true);
    expect(isolated(question, "\u202Etest")).toBe(true);
    // The date stays outside the isolated pieces, in the sentence's own direction.
    expect(
      [...question.childNodes].some((n) => n.nodeType === 3 && /20 Mar 2026/.test(n.textContent!)),
    ).toBe(true);
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));

    await userEvent.click(screen.getByRole("button", { name: /^Correct / }));
    dialog = screen.getByRole("dialog");
    await within(dialog).findByRole("form");
    expect(isolated(within(dialog).getByRole("heading"), title)).toBe(true);
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));

    await userEvent.click(screen.getByRole("button", { name: /^History / }));
    dialog = screen.getByRole("dialog");
    await within(dialog).findAllByRole("listitem");
    expect(isolated(within(dialog).getByRole("heading"), title)).toBe(true);
    expect(isolated(dialog, "\u202Edemo-owner")).toBe(true);
    expect(isolated(dialog, "\u202Ereceipt")).toBe(true);
    expect(isolated(dialog, "$89.99")).toBe(true);
    expect(isolated(dialog, "$79.99")).toBe(true);
  });
});

describe("the dialogs' buttons on a narrow screen", () => {
  it("wrap to another line whole rather than break inside a word (Back, Cancel at 320 px)", async () => {
    // Vitest leaves CSS out of modules: the page's style sheet is read as a file.
    const styles = readFileSync(`${__dirname}/../styles.css`, "utf8");
    const sheet = document.createElement("style");
    sheet.textContent = styles;
    document.head.append(sheet);
    try {
      setup(() => undefined);
      const dialog = await openAction("Void");
      await userEvent.type(within(dialog).getByLabelText("Reason (required)"), "typo");
      await userEvent.click(within(dialog).getByRole("button", { name: "Continue" }));
      const back = within(dialog).getByRole("button", { name: "Back" });
      // The dialog lets long unbroken record text wrap anywhere; a button's label must not inherit that.
      // The dialog lets long unbroken record text wrap anywhere (`overflow-wrap: anywhere`, inherited); a
      // button's label must not. (jsdom's CSS parser drops `overflow-wrap`: the style sheet's text is read.)
      const wraps = styles
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .split("}")
        .map((block) => block.split("{"))
        .filter(([selector, body]) => body && !selector!.includes("@") && back.matches(selector!))
        .flatMap(([, body]) => [...body!.matchAll(/overflow-wrap:\s*([\w-]+)/g)].map((m) => m[1]));
      expect(wraps.at(-1)).toBe("normal");
      expect(getComputedStyle(back.parentElement!).flexWrap).toBe("wrap");
    } finally {
      sheet.remove();
    }
  });
});

describe("who may change a record", () => {
  it("offers a viewer the history only, and a dealer's record only to a fleet manager", async () => {
    mockFetch(() => json({ items: [oilChange()], nextCursor: null }));
    const { unmount } = renderWithApi(
      <Timeline vehicle={vehicle} onRecorded={() => {}} />,
      vi.fn(),
      ["viewer"],
    );
    await userEvent.click(await screen.findByRole("button", { name: /^Oil change/ }));
    expect(screen.getByRole("button", { name: /^History / })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Correct / })).toBeNull();
    expect(screen.queryByRole("button", { name: /^Void / })).toBeNull();
    unmount();

    const dealer = oilChange({ source: "dealer" });
    for (const [roles, may] of [
      [["owner"], false],
      [["technician"], false],
      [["fleet_manager"], true],
    ] as const) {
      mockFetch(() => json({ items: [dealer], nextCursor: null }));
      const r = renderWithApi(<Timeline vehicle={vehicle} onRecorded={() => {}} />, vi.fn(), [
        ...roles,
      ]);
      await userEvent.click(await screen.findByRole("button", { name: /^Oil change/ }));
      expect(screen.queryByRole("button", { name: /^Correct / }) !== null).toBe(may);
      r.unmount();
    }
  });
});

describe("buildCorrection", () => {
  const unit = "mi";
  it("lays a changed detail over the record's own details and keeps a vendor's dealer id", () => {
    const e = oilChange({
      details: { tasks: ["oil_change"], parts: ["OEM filter"] },
      vendor: { name: "Quick Lube", dealerId: "dlr_1" },
    });
    const before = fieldsFromEvent(e, unit);
    const { body } = buildCorrection(e, before, {
      ...before,
      tasks: "oil_change, tire_rotation",
      vendor: "Quick Lube Downtown",
    });
    expect(body).toEqual({
      details: { tasks: ["oil_change", "tire_rotation"], parts: ["OEM filter"] },
      vendor: { name: "Quick Lube Downtown", dealerId: "dlr_1" },
    });
  });

  it("sends a cleared optional field as null, and a changed date as the form's noon UTC", () => {
    const e = oilChange({ notes: "synthetic" });
    const before = fieldsFromEvent(e, unit);
    expect(buildCorrection(e, before, { ...before, notes: "", date: "2026-03-19" }).body).toEqual({
      notes: null,
      occurredAt: "2026-03-19T12:00:00Z",
    });
  });

  it("gives a record whose kind changes the new kind's details, or clears them when the form has none", () => {
    // A repair's parts would stay on the upgrade, a 422 ("unknown field `system`"), were details left out.
    const repair = oilChange({
      kind: "repair",
      title: "Front brake pads and rotors",
      details: { system: "brakes", parts: ["front brake pads"], warranty: false },
    });
    const before = fieldsFromEvent(repair, unit);
    expect(buildCorrection(repair, before, { ...before, kind: "upgrade" }).body).toEqual({
      kind: "upgrade",
      details: null,
    });
    const maintenance = oilChange();
    const was = fieldsFromEvent(maintenance, unit);
    expect(buildCorrection(maintenance, was, { ...was, kind: "odometer_reading" }).body).toEqual({
      kind: "odometer_reading",
      details: null,
    });
    expect(buildCorrection(maintenance, was, { ...was, kind: "collision" }).body).toEqual({
      kind: "collision",
      details: { severity: "minor" },
    });
  });
});
