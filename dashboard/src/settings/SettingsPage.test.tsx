import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { expectHelpLinked, json, mockFetch, problem, renderWithApi } from "../test-utils";
import { ApiError } from "../api/client";
import {
  buildPreferences,
  offsets,
  offsetText,
  prefsToFields,
  refusedStatus,
  SettingsPage,
  type CalendarFeed,
  type Preferences,
} from "./SettingsPage";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const feed = (sig: string): CalendarFeed => ({
  calendarUrl: `http://localhost/calendar/org_demo/${sig}/fleet/maintenance.ics`,
  calendarPath: `/calendar/org_demo/${sig}/fleet/maintenance.ics`,
  rotatedAt: "2026-12-01T09:00:00Z",
});

const saved: Preferences = {
  inApp: true,
  email: null,
  webhookUrl: "https://hooks.example.com/vwc",
  hasWebhookSecret: true,
  quietHours: { start: "22:00", end: "07:00", tzOffsetMinutes: 60 },
  updatedAt: "2026-11-30T08:00:00Z",
};

/** The settings routes; `put` answers the preferences' PUT, `rotate` the calendar's rotation. */
function serve({
  put = (body: unknown) =>
    json({ ...saved, ...(body as object), updatedAt: "2026-12-02T10:00:00Z" }),
  rotate = () => json(feed("NEW")),
}: { put?: (body: unknown) => Response; rotate?: () => Response } = {}) {
  return mockFetch((url, init) => {
    if (url.pathname === "/v1/notifications/preferences")
      return init.method === "PUT" ? put(JSON.parse(String(init.body))) : json(saved);
    if (url.pathname === "/v1/notifications/preferences/calendar") return json(feed("OLD"));
    if (url.pathname === "/v1/notifications/preferences/calendar/rotate") return rotate();
    return problem(404, "route not found");
  });
}

const requests = (fetch: ReturnType<typeof mockFetch>, path: string, method = "GET") =>
  fetch.mock.calls.filter(([u, i]) => String(u) === path && (i?.method ?? "GET") === method);

describe("Settings: notification preferences", () => {
  it("shows the saved preferences and saves the whole form (a PUT replaces)", async () => {
    const fetch = serve();
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    const url = await screen.findByLabelText("Webhook URL");
    expect(url).toHaveValue("https://hooks.example.com/vwc");
    expect(screen.getByLabelText("From")).toHaveValue("22:00");
    expect(screen.getByLabelText("Time zone")).toHaveValue("60");
    await user.selectOptions(screen.getByLabelText("Time zone"), "UTC−05:00");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText(/^Saved on 2 Dec 2026, 10:00 UTC\.$/)).toHaveAttribute(
      "role",
      "status",
    );
    const [, init] = requests(fetch, "/v1/notifications/preferences", "PUT")[0]!;
    expect(JSON.parse(String(init!.body))).toEqual({
      email: null,
      webhookUrl: "https://hooks.example.com/vwc",
      quietHours: { start: "22:00", end: "07:00", tzOffsetMinutes: -300 },
      rotateWebhookSecret: false,
    });
  });

  it("says beside the e-mail field, in a sentence, that this server sends no e-mail", async () => {
    const fetch = serve({
      put: () =>
        problem(422, "the request has invalid fields", [
          {
            field: "email",
            message:
              "e-mail is not configured on this server, so reminders cannot be e-mailed (`vwc up --email FROM`; in AWS the `email_from` parameter); nothing was changed",
          },
        ]),
    });
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    const email = await screen.findByLabelText("E-mail address");
    await user.type(email, "fleet@example.com");
    await user.click(screen.getByRole("button", { name: "Save" }));
    const error = await screen.findByText(/^This server does not send e-mail/);
    expect(email).toHaveAttribute("aria-invalid", "true");
    expect(email.getAttribute("aria-describedby")!.split(" ")[0]).toBe(error.id);
    expect(screen.queryByText(/email_from/)).toBeNull();
    // What happened, in plain words: not "nothing was changed", which reads as "you changed nothing".
    expect(screen.getByTestId("prefs-status")).toHaveTextContent(
      /^Not saved: the server refused it — see the field marked\.$/,
    );
    // The e-mail's error and hint, the webhook's hint, quiet hours' and the time zone's.
    expect(expectHelpLinked(screen.getByRole("form", { name: "Notification settings" }))).toBe(5);
    await waitFor(() => expect(email).toHaveFocus());
    expect(requests(fetch, "/v1/notifications/preferences", "PUT")).toHaveLength(1);
  });

  it("shows a webhook secret the save issued, once, to copy", async () => {
    serve({ put: (b) => json({ ...saved, ...(b as object), webhookSecret: "whsec_abc" }) });
    const user = userEvent.setup(); // (it puts a clipboard of its own on navigator)
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    renderWithApi(<SettingsPage />);
    await user.click(await screen.findByLabelText(/Issue a new webhook secret/));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByLabelText("The new webhook secret")).toHaveValue("whsec_abc");
    await user.click(screen.getByRole("button", { name: "Copy secret" }));
    expect(writeText).toHaveBeenCalledWith("whsec_abc");
    expect(screen.getByLabelText(/Issue a new webhook secret/)).not.toBeChecked();
  });

  it("checks the quiet hours before sending", () => {
    const f = { ...prefsToFields(saved), start: "07:00", end: "07:00" };
    const { body, errors } = buildPreferences(f);
    expect(body).toBeUndefined();
    expect(errors.end).toMatch(/there would be none/);
    expect(buildPreferences({ ...f, quiet: false }).body?.quietHours).toBeNull();
    expect(buildPreferences({ ...f, email: "  ", webhookUrl: "" }).errors).toHaveProperty("end");
    expect(offsetText(-330)).toBe("UTC−05:30");
    expect(offsetText(345)).toBe("UTC+05:45");
  });

  it("says one field marked as one, and takes its error away once it is changed", async () => {
    const fetch = serve({ put: (b) => json({ ...saved, ...(b as object) }) });
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    const end = await screen.findByLabelText("Until");
    await user.clear(end);
    await user.type(end, "22:00");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByTestId("prefs-status")).toHaveTextContent(
      /^Not saved: see the field marked\.$/,
    );
    expect(end).toHaveAttribute("aria-invalid", "true");
    await user.clear(end);
    await user.type(end, "07:00");
    expect(end).not.toHaveAttribute("aria-invalid");
    expect(requests(fetch, "/v1/notifications/preferences", "PUT")).toHaveLength(0);
  });

  it("takes From = Until's error away when either of the two is changed, not only Until", async () => {
    serve({ put: (b) => json({ ...saved, ...(b as object) }) });
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    const end = await screen.findByLabelText("Until");
    const start = screen.getByLabelText("From");
    await user.clear(end);
    await user.type(end, "22:00");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(end).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText(/there would be none/)).toBeInTheDocument();
    // Changing From settles it as well: the two no longer match.
    await user.clear(start);
    await user.type(start, "23:00");
    expect(end).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByText(/there would be none/)).toBeNull();
    // An error about Until alone (empty) stays while From changes.
    await user.clear(end);
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(end).toHaveAttribute("aria-invalid", "true");
    await user.clear(start);
    await user.type(start, "21:00");
    expect(end).toHaveAttribute("aria-invalid", "true");
    // Unticking quiet hours: they are not sent, so nothing about them is wrong.
    await user.click(screen.getByLabelText(/Hold e-mail and webhook reminders/));
    await user.click(screen.getByLabelText(/Hold e-mail and webhook reminders/));
    expect(screen.getByLabelText("Until")).not.toHaveAttribute("aria-invalid");
  });

  it("offers the time zones there are, UTC−12:00 to UTC+14:00, and keeps a saved one outside them", () => {
    const all = offsets(0);
    expect(offsetText(all[0]!)).toBe("UTC−12:00");
    expect(offsetText(all[all.length - 1]!)).toBe("UTC+14:00");
    expect(offsets(-780)[0]).toBe(-780);
  });

  it("says why a save failed: refused, with or without a field marked, or not reached", () => {
    const refused = new ApiError(422, "invalid");
    expect(refusedStatus(refused, 2)).toBe(
      "Not saved: the server refused it — see the fields marked.",
    );
    expect(refusedStatus(refused, 0)).toBe(
      "Not saved: the server refused it — see the message below.",
    );
    expect(refusedStatus(new TypeError("Failed to fetch"), 0)).toMatch(/could not be reached/);
  });

  it("tells a viewer their role cannot change them, and does not ask for them", async () => {
    const fetch = serve();
    renderWithApi(<SettingsPage />, vi.fn(), ["viewer"]);
    expect(await screen.findByTestId("prefs-read-only")).toHaveTextContent(
      "Your role (viewer) cannot view or change where reminders are sent",
    );
    expect(screen.queryByRole("button", { name: "Save" })).toBeNull();
    // The calendar link is everyone's to read, but only for owners and fleet managers to rotate.
    expect(await screen.findByLabelText("Fleet calendar link")).toHaveValue(
      feed("OLD").calendarUrl,
    );
    expect(screen.queryByRole("button", { name: "Rotate link" })).toBeNull();
    expect(screen.getByTestId("rotate-read-only")).toBeInTheDocument();
    expect(requests(fetch, "/v1/notifications/preferences")).toHaveLength(0);
  });
});

describe("Settings: the calendar feed", () => {
  it("copies the link and says so; says how to copy it when the clipboard refuses", async () => {
    serve();
    const user = userEvent.setup(); // (it puts a clipboard of its own on navigator)
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue(undefined);
    renderWithApi(<SettingsPage />);
    const link = await screen.findByLabelText("Fleet calendar link");
    expect(link).toHaveAttribute("readonly");
    await user.click(screen.getByRole("button", { name: "Copy link" }));
    expect(writeText).toHaveBeenCalledWith(feed("OLD").calendarUrl);
    expect(await screen.findByText("Copied to the clipboard.")).toHaveAttribute("role", "status");

    writeText.mockRejectedValue(new DOMException("denied", "NotAllowedError"));
    await user.click(screen.getByRole("button", { name: "Copy link" }));
    expect(await screen.findByText(/could not be copied here/)).toBeInTheDocument();
    expect(link).toHaveFocus();
  });

  it("rotates the link only after the confirm step; Cancel changes nothing", async () => {
    const fetch = serve();
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    const link = await screen.findByLabelText("Fleet calendar link");
    const rotate = screen.getByRole("button", { name: "Rotate link" });

    await user.click(rotate);
    let dialog = await screen.findByRole("dialog", { name: "Rotate the calendar link?" });
    expect(within(dialog).getByText(/stops working at once/)).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(rotate).toHaveFocus();
    expect(requests(fetch, "/v1/notifications/preferences/calendar/rotate", "POST")).toHaveLength(
      0,
    );

    await user.click(rotate);
    dialog = await screen.findByRole("dialog", { name: "Rotate the calendar link?" });
    await user.click(within(dialog).getByRole("button", { name: "Rotate link" }));
    await waitFor(() => expect(link).toHaveValue(feed("NEW").calendarUrl));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByText(/the old links no longer work/)).toHaveAttribute("role", "status");
    expect(rotate).toHaveFocus();
    expect(requests(fetch, "/v1/notifications/preferences/calendar/rotate", "POST")).toHaveLength(
      1,
    );
  });

  it("keeps the dialog open with the refusal in words when rotating fails", async () => {
    serve({ rotate: () => problem(403, "your roles do not allow configure_notifications") });
    const user = userEvent.setup();
    renderWithApi(<SettingsPage />);
    await user.click(await screen.findByRole("button", { name: "Rotate link" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Rotate link" }));
    expect(
      await within(dialog).findByText(
        "Your role does not allow you to change notification settings.",
      ),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Fleet calendar link")).toHaveValue(feed("OLD").calendarUrl);
  });
});
