// `#/settings`: the organisation's notification preferences (`GET`/`PUT /v1/notifications/preferences`, for
// the roles with `configure_notifications`) and its calendar feed (`GET …/preferences/calendar` for every
// role, `POST …/calendar/rotate` with a confirm step for those that may). docs/dashboard.md, "Settings".
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import type { components } from "../api/schema";
import { useQuery } from "../api/useQuery";
import { mayConfigureNotifications, rolesText } from "../auth/permissions";
import { formatDateTime } from "../format";
import { Dialog } from "../ui/Dialog";
import { useFocusFirstError } from "../ui/focusFirstError";
import { ErrorText, GeneralErrors, Loading } from "../ui/Feedback";
import { bindFields, Check, CheckField, SelectField, TextField, withoutErrors } from "../ui/Field";
import { CopyField, formErrors, sentence, type FieldErrors } from "./fields";
import { FailedDeliveries } from "./FailedDeliveries";
import "./settings.css";

type S = components["schemas"];
export type Preferences = S["PreferencesView"];
export type PreferencesUpdate = S["PreferencesUpdate"];
export type CalendarFeed = S["CalendarFeed"];

export function SettingsPage() {
  const { session } = useApi();
  const configure = mayConfigureNotifications(session.roles);
  useEffect(() => {
    document.title = "Settings · Vehicle Wellness Center";
  }, []);
  return (
    <div className="settings-page">
      <h1>Settings</h1>
      {configure ? (
        <NotificationPreferences />
      ) : (
        <section className="card" aria-labelledby="prefs-title">
          <h2 id="prefs-title">Notifications</h2>
          <p data-testid="prefs-read-only">
            Your role ({rolesText(session.roles)}) cannot view or change where reminders are sent
            (e-mail, webhook, quiet hours): an owner or a fleet manager can. The bell shows every
            notification to everyone in the organisation.
          </p>
        </section>
      )}
      <FailedDeliveries />
      <CalendarFeedSection configure={configure} />
    </div>
  );
}

/** The form's fields, as typed. */
export interface PrefsFields {
  email: string;
  webhookUrl: string;
  rotateSecret: boolean;
  quiet: boolean;
  start: string;
  end: string;
  /** Local time minus UTC, in minutes, as the select's value. */
  tz: string;
}

/** Minutes east of UTC where this browser is now (what a new quiet-hours window starts from). */
export function browserOffset(now = new Date()): number {
  return -now.getTimezoneOffset() || 0;
}

/** `60` → `UTC+01:00`, `-330` → `UTC−05:30`. */
export function offsetText(minutes: number): string {
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The offsets time zones have, UTC−12:00 (Baker Island) to UTC+14:00 (Kiribati's Line Islands). */
export const OFFSET_RANGE = { min: -720, max: 840 } as const;

/** Every zone's offset, a quarter of an hour apart (and `keep`, a saved one outside or between them). */
export function offsets(keep: number): number[] {
  const all: number[] = [];
  for (let m = OFFSET_RANGE.min; m <= OFFSET_RANGE.max; m += 15) all.push(m);
  if (!all.includes(keep)) all.push(keep);
  return all.sort((a, b) => a - b);
}

export function prefsToFields(p: Preferences, now = new Date()): PrefsFields {
  return {
    email: p.email ?? "",
    webhookUrl: p.webhookUrl ?? "",
    rotateSecret: false,
    quiet: !!p.quietHours,
    start: p.quietHours?.start ?? "22:00",
    end: p.quietHours?.end ?? "07:00",
    tz: String(p.quietHours?.tzOffsetMinutes ?? browserOffset(now)),
  };
}

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** Quiet hours' From = Until: an error shown under Until, about both (it goes when either changes). */
export const SAME_QUIET_TIMES =
  "The quiet hours end when they start, so there would be none: choose another end, or untick quiet hours.";

/** The `PUT` body for the form (a PUT replaces: every field is sent), or the errors found before sending. */
export function buildPreferences(f: PrefsFields): {
  body?: PreferencesUpdate;
  errors: FieldErrors;
} {
  const errors: FieldErrors = {};
  if (f.quiet) {
    if (!HHMM.test(f.start)) errors.start = "Choose when the quiet hours start.";
    if (!HHMM.test(f.end)) errors.end = "Choose when the quiet hours end.";
    if (!errors.start && !errors.end && f.start === f.end) errors.end = SAME_QUIET_TIMES;
  }
  if (Object.keys(errors).length) return { errors };
  const webhookUrl = f.webhookUrl.trim() || null;
  return {
    errors,
    body: {
      email: f.email.trim() || null,
      webhookUrl,
      quietHours: f.quiet ? { start: f.start, end: f.end, tzOffsetMinutes: Number(f.tz) } : null,
      rotateWebhookSecret: f.rotateSecret && !!webhookUrl,
    },
  };
}

/** The form field a field of the API's answer is about. */
function prefsFieldFor(apiField: string): keyof PrefsFields | undefined {
  switch (apiField) {
    case "email":
    case "webhookUrl":
      return apiField;
    case "rotateWebhookSecret":
      return "rotateSecret";
    case "quietHours":
    case "quietHours.start":
      return "start";
    case "quietHours.end":
      return "end";
    case "quietHours.tzOffsetMinutes":
      return "tz";
    default:
      return undefined;
  }
}

/** The API's words about a field, for a person: a server that sends no e-mail is said plainly. */
export function prefsMessage(field: string, message: string): string {
  if (field === "email" && /not configured|no e-?mail|cannot be e-?mailed/i.test(message))
    return "This server does not send e-mail, so reminders cannot be e-mailed: leave the address empty (the server's operator can turn e-mail on).";
  return sentence(message);
}

/** What the status beside "Save" says after a save failed: what happened, and where to look. */
export function refusedStatus(err: unknown, fieldsMarked: number): string {
  if (!(err instanceof ApiError)) return "Not saved: the server could not be reached — try again.";
  if (fieldsMarked === 1) return "Not saved: the server refused it — see the field marked.";
  if (fieldsMarked > 1) return "Not saved: the server refused it — see the fields marked.";
  return "Not saved: the server refused it — see the message below.";
}

function NotificationPreferences() {
  const { api } = useApi();
  const prefs = useQuery("preferences", (signal) =>
    api.json<Preferences>("/v1/notifications/preferences", { signal }),
  );
  return (
    <section className="card" aria-labelledby="prefs-title">
      <h2 id="prefs-title">Notifications</h2>
      <p className="muted small">
        Reminders (an item due soon or overdue) always appear under the bell. They can also be
        e-mailed and sent to a webhook of yours.
      </p>
      {prefs.loading && !prefs.data && <Loading label="Loading the notification settings…" />}
      <ErrorText error={prefs.error} onRetry={prefs.reload} />
      {prefs.data && <PreferencesForm initial={prefs.data} />}
    </section>
  );
}

export function PreferencesForm({ initial }: { initial: Preferences }) {
  const { api } = useApi();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  // After the errors render (found here or sent by the server), focus moves to the first field with one.
  const focusFirstError = useFocusFirstError(form);
  const [saved, setSaved] = useState(initial);
  const [f, setF] = useState(() => prefsToFields(initial));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [status, setStatus] = useState("");
  const [secret, setSecret] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const set = <K extends keyof PrefsFields>(name: K, value: PrefsFields[K]) => {
    setF((cur) => ({ ...cur, [name]: value }));
    setStatus("");
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setGeneral([]);
    setStatus("");
    const built = buildPreferences(f);
    setErrors(built.errors);
    if (!built.body) {
      setStatus(
        Object.keys(built.errors).length === 1
          ? "Not saved: see the field marked."
          : "Not saved: see the fields marked.",
      );
      return focusFirstError();
    }
    setBusy(true);
    try {
      const answer = await api.json<Preferences>("/v1/notifications/preferences", {
        method: "PUT",
        body: built.body,
      });
      setSaved(answer);
      setF(prefsToFields(answer));
      setSecret(answer.webhookSecret ?? undefined);
      setStatus(answer.updatedAt ? `Saved on ${formatDateTime(answer.updatedAt)}.` : "Saved.");
    } catch (err) {
      const shown = formErrors(err, prefsFieldFor, prefsMessage);
      setErrors(shown.fields);
      setGeneral(shown.general);
      setStatus(refusedStatus(err, Object.keys(shown.fields).length));
      focusFirstError();
    } finally {
      setBusy(false);
    }
  }

  const hints: Partial<Record<keyof PrefsFields, string>> = {
    email: "Reminders are e-mailed here too. Leave it empty to send none.",
    webhookUrl:
      "Reminders are also POSTed here, signed with the organisation's webhook secret: an https address of a public host. Leave it empty to send none.",
    tz: `The time zone of the hours above (this browser is at ${offsetText(browserOffset())} now).`,
  };
  const field = bindFields({
    prefix: id,
    values: f,
    set,
    errors,
    setErrors,
    hints,
    // From = Until is about both: changing From clears it too.
    linked: errors.end === SAME_QUIET_TIMES ? { end: ["start"] } : undefined,
  });

  return (
    <form
      ref={form}
      className="record settings-form"
      onSubmit={submit}
      noValidate
      aria-label="Notification settings"
    >
      <p className="small">
        <strong>In the app:</strong> always on.
        {saved.updatedAt ? ` Last saved on ${formatDateTime(saved.updatedAt)}.` : " Never changed."}
      </p>
      <TextField
        {...field("email")}
        label="E-mail address"
        type="email"
        autoComplete="email"
        maxLength={254}
      />
      <TextField
        {...field("webhookUrl")}
        label="Webhook URL"
        type="url"
        autoComplete="off"
        spellCheck={false}
        placeholder="https://"
      />
      {saved.hasWebhookSecret && f.webhookUrl.trim() && (
        <CheckField
          {...field("rotateSecret")}
          label="Issue a new webhook secret (the current one stops working at once)"
        />
      )}
      {secret && (
        <div className="secret-once">
          <CopyField
            prefix={id}
            name="secret"
            label="The new webhook secret"
            value={secret}
            button="Copy secret"
            hint="Shown this once: copy it into your receiver now, which checks each reminder's signature with it."
          />
        </div>
      )}
      <fieldset className="quiet-hours">
        <legend>Quiet hours</legend>
        <Check
          checked={f.quiet}
          aria-describedby={`${id}-quiet-hint`}
          onChange={(e) => {
            set("quiet", e.target.checked);
            // Unticked, the hours are not sent: what was wrong with them no longer is.
            setErrors((errors) => withoutErrors(errors, ["start", "end", "tz"]));
          }}
          label="Hold e-mail and webhook reminders during quiet hours"
        />
        <p className="hint" id={`${id}-quiet-hint`}>
          They are sent when the quiet hours end; the bell shows them at once.
        </p>
        {f.quiet && (
          <div className="grid">
            <TextField {...field("start")} label="From" type="time" />
            <TextField {...field("end")} label="Until" type="time" />
            <SelectField
              {...field("tz")}
              label="Time zone"
              options={offsets(Number(f.tz)).map((m) => ({
                value: String(m),
                label: offsetText(m),
              }))}
            />
          </div>
        )}
      </fieldset>
      <GeneralErrors errors={general} />
      <div className="actions">
        {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it saves. */}
        <button type="submit" className="primary" aria-disabled={busy || undefined}>
          {busy ? "Saving…" : "Save"}
        </button>
        <span
          className={`save-status ${status.startsWith("Saved") ? "saved" : "error"}`}
          role="status"
          data-testid="prefs-status"
        >
          {status}
        </span>
      </div>
    </form>
  );
}

function CalendarFeedSection({ configure }: { configure: boolean }) {
  const { api, session } = useApi();
  const id = useId();
  const feed = useQuery("calendar-feed", (signal) =>
    api.json<CalendarFeed>("/v1/notifications/preferences/calendar", { signal }),
  );
  const [rotated, setRotated] = useState<CalendarFeed | undefined>();
  const [confirming, setConfirming] = useState(false);
  const [status, setStatus] = useState("");
  const current = rotated ?? feed.data;

  return (
    <section className="card" aria-labelledby="calendar-title">
      <h2 id="calendar-title">Calendar feed</h2>
      <p className="small">
        Subscribe to this link in a calendar app (Google Calendar, Apple Calendar, Outlook) to see
        every vehicle&apos;s maintenance on the day it falls due; the app reads it again every few
        hours.
      </p>
      <p className="small secret-warning">
        <strong>Keep it secret.</strong> Calendar apps cannot sign in, so the link itself is the
        key: anyone who has it can read the fleet&apos;s maintenance until the link is rotated.
      </p>
      {feed.loading && !current && <Loading label="Loading the calendar link…" />}
      <ErrorText error={feed.error} onRetry={feed.reload} />
      {current && (
        <>
          <CopyField
            prefix={id}
            name="calendar"
            label="Fleet calendar link"
            value={current.calendarUrl}
            button="Copy link"
            hint={`Created or last rotated on ${formatDateTime(current.rotatedAt)}.`}
          />
          {configure ? (
            <div className="actions">
              <button type="button" onClick={() => setConfirming(true)}>
                Rotate link
              </button>
            </div>
          ) : (
            <p className="muted small" data-testid="rotate-read-only">
              Your role ({rolesText(session.roles)}) cannot rotate the link: an owner or a fleet
              manager can.
            </p>
          )}
          <p className="changed-status" role="status">
            {status}
          </p>
        </>
      )}
      {confirming && (
        <RotateDialog
          // Either way focus goes back to "Rotate link": the dialog returns it to its opener as it closes.
          onClose={() => setConfirming(false)}
          onRotated={(f) => {
            setRotated(f);
            setConfirming(false);
            setStatus(
              "The link was rotated: the old links no longer work. Subscribe your calendar apps to the new one.",
            );
          }}
        />
      )}
    </section>
  );
}

function RotateDialog({
  onClose,
  onRotated,
}: {
  onClose: () => void;
  onRotated: (feed: CalendarFeed) => void;
}) {
  const { api } = useApi();
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  async function rotate() {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      onRotated(
        await api.json<CalendarFeed>("/v1/notifications/preferences/calendar/rotate", {
          method: "POST",
        }),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  }

  return (
    <Dialog title="Rotate the calendar link?" onClose={onClose} initialFocus="title">
      <p id={`${id}-what`}>
        Every calendar link issued so far stops working at once: this fleet link and each
        vehicle&apos;s. Calendar apps subscribed to an old link get no more updates until they
        subscribe to the new one.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button
          type="button"
          className="danger"
          aria-describedby={`${id}-what`}
          aria-disabled={busy || undefined}
          onClick={() => void rotate()}
        >
          {busy ? "Rotating…" : "Rotate link"}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
