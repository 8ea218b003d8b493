import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import {
  EVENT_KINDS,
  type EventCorrection,
  type EventHistory,
  type EventKind,
  type FieldError,
  type Vehicle,
  type VehicleEvent,
  type VehicleMaintenance,
} from "../api/types";
import { useQuery } from "../api/useQuery";
import { GeneralErrors } from "../ui/Feedback";
import {
  bindFields,
  Check,
  SelectField,
  TextAreaField,
  TextField,
  withoutError,
} from "../ui/Field";
import { useFocusFirstError } from "../ui/focusFirstError";
import {
  centsToText,
  formatDate,
  formatDateTime,
  MONEY_FORMAT_HELP,
  parseDecimal,
  parseMoneyToCents,
} from "../format";
import { kindStyle } from "./kinds";

interface Fields {
  kind: EventKind;
  date: string;
  title: string;
  odometer: string;
  cost: string;
  /** ISO 4217 code of the cost (and of a valuation's amount). */
  currency: string;
  vendor: string;
  notes: string;
  tasks: string;
  severity: string;
  amount: string;
  /** An acquisition's purchase price (`details.priceCents`), beside its cost (what was paid in all). */
  price: string;
  volume: string;
  volumeUnit: string;
  fullTank: string;
  /** Why a record is corrected (a correction only; kept in its history). */
  reason: string;
}

/** The user's own calendar date (`YYYY-MM-DD`), not UTC's: late in the evening west of Greenwich, or early
 * in the morning east of it, the two differ. */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** A real calendar date written `YYYY-MM-DD` (what a date input gives; empty when cleared). */
export function isDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/**
 * A random (version 4) UUID for the `Idempotency-Key`. `crypto.randomUUID` exists only in a secure context
 * (https or localhost): on plain http from another machine the form would throw and take the page down, so
 * the key is made from `crypto.getRandomValues` (available everywhere) there.
 */
export function newKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A task the vehicle's maintenance schedule tracks (an item of `GET …/maintenance`): its code and title. */
export interface KnownTask {
  task: string;
  title: string;
}

/** One typed task as a code: a known task's own code when its code or title is typed (any case), else the
 * words as a code (`Brake pads` → `brake_pads`, a custom task the schedule does not track). */
function taskCode(typed: string, known: readonly KnownTask[]): { code: string; known: boolean } {
  const words = typed.trim().toLowerCase().replace(/\s+/g, " ");
  const code = words.replace(/[\s-]+/g, "_");
  const match = known.find((k) => k.task === code || k.title.toLowerCase() === words);
  return match ? { code: match.task, known: true } : { code, known: false };
}

/**
 * The tasks typed in the Tasks field (comma-separated codes or titles) as the codes to record, once each,
 * with the typed ones that match none of the vehicle's maintenance items (`unknown`): they are recorded as
 * custom tasks, which clear no item of the schedule.
 */
export function readTasks(
  text: string,
  known: readonly KnownTask[] = [],
): { tasks: string[]; unknown: string[] } {
  const tasks: string[] = [];
  const unknown: string[] = [];
  for (const typed of text.split(",").map((t) => t.trim())) {
    if (!typed) continue;
    const t = taskCode(typed, known);
    if (tasks.includes(t.code)) continue;
    tasks.push(t.code);
    if (!t.known) unknown.push(typed);
  }
  return { tasks, unknown };
}

/** Builds the request body; local problems (a cost that is not a number) come back as field errors. */
export function buildEvent(
  f: Fields,
  known: readonly KnownTask[] = [],
): {
  body?: Record<string, unknown>;
  errors: Record<string, string>;
} {
  const { body, errors } = eventBody(f, known);
  return Object.keys(errors).length ? { errors } : { body, errors };
}

/** The body the fields make, with the local field errors beside it (the body leaves out what is wrong). */
function eventBody(
  f: Fields,
  known: readonly KnownTask[] = [],
): { body: Record<string, unknown>; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  if (!isDate(f.date)) errors.occurredAt = "Enter the date, such as 2026-03-02.";
  const body: Record<string, unknown> = { kind: f.kind, occurredAt: `${f.date}T12:00:00Z` };
  if (f.title.trim()) body.title = f.title.trim();
  if (f.odometer.trim()) {
    const n = Number(f.odometer.replace(/[,\s]/g, ""));
    if (!Number.isInteger(n) || n < 0) errors.odometer = "Enter a whole number.";
    else body.odometer = n;
  }
  const cost = parseMoneyToCents(f.cost);
  if (cost !== undefined) {
    if (Number.isNaN(cost)) errors.costCents = MONEY_FORMAT_HELP;
    else {
      body.costCents = cost;
      body.currency = f.currency;
    }
  }
  if (f.vendor.trim()) body.vendor = { name: f.vendor.trim() };
  if (f.notes.trim()) body.notes = f.notes.trim();
  if (f.kind === "maintenance") {
    body.details = { tasks: readTasks(f.tasks, known).tasks };
  } else if (f.kind === "collision") {
    body.details = { severity: f.severity };
  } else if (f.kind === "valuation") {
    const amount = parseMoneyToCents(f.amount);
    if (amount === undefined) errors["details.amountCents"] = "Enter the value, such as 24500.";
    else if (Number.isNaN(amount)) errors["details.amountCents"] = MONEY_FORMAT_HELP;
    body.details = { amountCents: amount, source: "user_estimate" };
    body.currency = f.currency;
  } else if (f.kind === "acquisition") {
    const price = parseMoneyToCents(f.price);
    if (price !== undefined) {
      if (Number.isNaN(price)) errors["details.priceCents"] = MONEY_FORMAT_HELP;
      else {
        // A price is in the record's currency: the API refuses one without it, cost or no cost.
        body.details = { priceCents: price };
        body.currency = f.currency;
      }
    }
  } else if (f.kind === "fuel") {
    const volume = parseVolume(f.volume);
    if (typeof volume === "string") errors["details.volume"] = volume;
    body.details = {
      volume: typeof volume === "number" ? volume : undefined,
      volumeUnit: f.volumeUnit,
      fullTank: f.fullTank === "yes",
    };
  }
  return { body, errors };
}

/**
 * A fill's volume (`38.5`, `38,5`), or why it cannot be read: the decimals follow one separator, at most 2
 * of them, as for money (`parseDecimal`); a volume grouped in thousands (`11.235`) is no single fill, so it
 * is refused rather than read as 11,235.
 */
export function parseVolume(text: string): number | string {
  const n = parseDecimal(text, 2);
  if (n === undefined) return "Enter the volume pumped, such as 11.2.";
  if (typeof n === "number" || n.grouped)
    return "Write the volume with at most 2 decimals, such as 38.5 or 38,5.";
  const volume = Number(`${n.whole}.${n.fraction || "0"}`);
  return volume > 0 ? volume : "Enter the volume pumped, such as 11.2.";
}

/** The longest reason the API keeps for a correction or a void (`MAX_REASON`). */
export const MAX_REASON = 500;

/** The form's fields as a record now reads, for correcting it (its date is the UTC day the timeline shows). */
export function fieldsFromEvent(e: VehicleEvent, unit: string, currency = "USD"): Fields {
  const d = (e.details && typeof e.details === "object" ? e.details : {}) as Record<
    string,
    unknown
  >;
  return {
    kind: e.kind,
    date: e.occurredAt.slice(0, 10),
    title: e.title ?? "",
    odometer: e.odometer != null ? String(e.odometer) : "",
    cost: e.costCents != null ? centsToText(e.costCents) : "",
    currency: e.currency ?? currency,
    vendor: e.vendor?.name ?? "",
    notes: e.notes ?? "",
    tasks: Array.isArray(d.tasks) ? d.tasks.join(", ") : "",
    severity: typeof d.severity === "string" ? d.severity : "minor",
    amount: typeof d.amountCents === "number" ? centsToText(d.amountCents) : "",
    price: typeof d.priceCents === "number" ? centsToText(d.priceCents) : "",
    volume: typeof d.volume === "number" ? String(d.volume) : "",
    volumeUnit: typeof d.volumeUnit === "string" ? d.volumeUnit : unit === "km" ? "l" : "gal",
    fullTank: d.fullTank === false ? "no" : "yes",
    reason: "",
  };
}

/** The form fields each top-level field of the API reads from (for keeping a record's old oddities). */
const SOURCES: Record<string, (keyof Fields)[]> = {
  kind: ["kind"],
  occurredAt: ["date"],
  title: ["title"],
  odometer: ["odometer"],
  costCents: ["cost"],
  currency: ["currency", "cost"],
  vendor: ["vendor"],
  notes: ["notes"],
  details: [
    "kind",
    "tasks",
    "severity",
    "amount",
    "price",
    "volume",
    "volumeUnit",
    "fullTank",
    "currency",
  ],
};

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The `PATCH` body for a correction: only the fields whose value differs from the record as it was
 * prefilled (`before`), a cleared optional field as `null`, and the reason when one is given. A change of
 * kind carries the new kind's details from the form, or `details: null` when it has none there (the API
 * then reads them as that kind's empty details), never the old kind's. A changed
 * detail is laid over the record's own details (the API replaces `details` whole, and the form shows only
 * some of them); a changed vendor keeps its dealer id. `body` is undefined when a field is wrong
 * (`errors`) or nothing changed (`unchanged`).
 */
export function buildCorrection(
  original: VehicleEvent,
  before: Fields,
  after: Fields,
  known: readonly KnownTask[] = [],
): { body?: EventCorrection; errors: Record<string, string>; unchanged?: boolean } {
  const was = eventBody(before, known);
  const now = eventBody(after, known);
  const body: Record<string, unknown> = {};
  // The API keeps a field the body leaves out, details too: after a change of kind the old kind's details
  // (a repair's parts on an upgrade) would be a 422, so a new kind always gets its details, or none.
  const kindChanged = after.kind !== original.kind;
  for (const key of Object.keys(SOURCES)) {
    if (same(was.body[key], now.body[key]) && !(key === "details" && kindChanged)) continue;
    const value = now.body[key] ?? null;
    if (key === "details" && after.kind === original.kind && (value || was.body.details)) {
      const old = (original.details ?? {}) as Record<string, unknown>;
      const from = (was.body.details ?? {}) as Record<string, unknown>;
      const to = (value ?? {}) as Record<string, unknown>;
      const merged = { ...old };
      for (const k of new Set([...Object.keys(from), ...Object.keys(to)]))
        if (same(from[k], to[k])) continue;
        else if (to[k] === undefined) delete merged[k];
        else merged[k] = to[k];
      body.details = merged;
    } else if (key === "details")
      body.details = value; // null (the form has none) clears them
    else if (key === "vendor" && value) body.vendor = { ...original.vendor, ...value };
    else body[key] = value;
  }
  // An error counts where the person changed something: a field the form cannot show as the record has it
  // (a fuel record without a volume) does not block correcting another field.
  const errors: Record<string, string> = {};
  for (const [k, v] of Object.entries(now.errors)) {
    const sources = SOURCES[k.split(".")[0]!] ?? [];
    if (was.errors[k] !== v || sources.some((s) => before[s] !== after[s])) errors[k] = v;
  }
  const reason = after.reason.trim();
  if (reason.length > MAX_REASON) errors.reason = `Keep the reason to ${MAX_REASON} characters.`;
  if (Object.keys(errors).length) return { errors };
  if (!Object.keys(body).length) return { errors, unchanged: true };
  if (reason) body.reason = reason;
  return { body: body as EventCorrection, errors };
}

/** Which form field shows an API field error (`details.tasks[0]` → tasks). */
export function fieldFor(apiField: string): keyof Fields | "cost" | undefined {
  const f = apiField.replace(/\[\d+\]/g, "");
  if (f === "costCents" || f === "currency") return "cost";
  if (f === "occurredAt") return "date";
  if (f === "vendor" || f.startsWith("vendor.")) return "vendor";
  if (f === "details.tasks" || f === "details") return "tasks";
  if (f === "details.severity") return "severity";
  if (f === "details.amountCents") return "amount";
  if (f === "details.priceCents") return "price";
  if (f === "details.volume") return "volume";
  if (["kind", "title", "odometer", "notes", "reason"].includes(f)) return f as keyof Fields;
  return undefined;
}

/** What the form needs to correct a record instead of recording a new one. */
export interface Correcting {
  /** The record as the server now has it (its history's `current`): the form is prefilled with it, and
   * the correction is laid over it. */
  event: VehicleEvent;
  /** The revision `event` is (the history's last): sent as `If-Match`, so a record changed meanwhile is a
   * 409 rather than silently overwritten. */
  revision: number;
  /** `warnings`: what the server found doubtful about the corrected odometer or date, as sentences. */
  onCorrected: (h: EventHistory, warnings: string[]) => void;
  /** The record read again after a 409 (changed meanwhile, or voided): the timeline shows it as it now is. */
  onReloaded: (h: EventHistory) => void;
}

/** A 409's words and what reading the record again found. */
interface Conflict {
  message: string;
  /** After "Reload the record": it was voided meanwhile (the form is then closed to changes). */
  voided?: EventHistory;
}

export function RecordEventForm({
  vehicle,
  currencies = [vehicle.purchaseCurrency ?? "USD"],
  kinds = EVENT_KINDS,
  onRecorded,
  onCancel,
  correcting,
}: {
  vehicle: Vehicle;
  /** The currencies to record a cost in, the vehicle's own first (`vehicleCurrencies`). */
  currencies?: readonly string[];
  /** The kinds the signed-in roles may record (`recordableKinds`). */
  kinds?: readonly EventKind[];
  /** `warnings`: what the server found doubtful about the record it kept (an odometer below an earlier
   * reading, …), as sentences. */
  onRecorded?: (e: VehicleEvent, warnings: string[]) => void;
  onCancel: () => void;
  /** Correct this record (prefilled, `PATCH` of the changed fields) rather than record a new one. */
  correcting?: Correcting;
}) {
  const { api } = useApi();
  const id = useId();
  const [before, setBefore] = useState<Fields>(() =>
    correcting
      ? fieldsFromEvent(correcting.event, vehicle.odometerUnit, currencies[0])
      : {
          kind: kinds.includes("maintenance") ? "maintenance" : (kinds[0] ?? "maintenance"),
          date: today(),
          title: "",
          odometer: "",
          cost: "",
          currency: currencies[0] ?? "USD",
          vendor: "",
          notes: "",
          tasks: "oil_change",
          severity: "minor",
          amount: "",
          price: "",
          volume: "",
          volumeUnit: vehicle.odometerUnit === "km" ? "l" : "gal",
          fullTank: "yes",
          reason: "",
        },
  );
  const [f, setF] = useState<Fields>(before);
  const [original, setOriginal] = useState(
    correcting && { event: correcting.event, revision: correcting.revision },
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  // The server's error about the currency is shown under Cost: it is about the Currency select too.
  const [currencyError, setCurrencyError] = useState(false);
  const [general, setGeneral] = useState<string[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  // After the errors render (found here or sent by the server), focus moves to the first field with one.
  const focusFirstError = useFocusFirstError(formRef);
  // Bumped when the form is refilled from a reloaded record: its first field then takes focus.
  const [focusFirst, setFocusFirst] = useState(0);
  useEffect(() => {
    if (focusFirst) formRef.current?.querySelector<HTMLElement>("select, input, textarea")?.focus();
  }, [focusFirst]);
  // One key per filled-in form: a retry after a network error cannot record the event twice.
  const [key, setKey] = useState(newKey);
  // A record's currency may be one the vehicle's costs are not in: the form still offers it.
  const currencyChoices = [...new Set([...currencies, ...(f.currency ? [f.currency] : [])])];
  // The vehicle's maintenance items, offered as the tasks to tick; without them (not read yet, not
  // evaluated, a failure) the field takes codes as before and says nothing about unknown ones.
  const schedule = useQuery(`maintenance:${vehicle.id}`, (signal) =>
    api.json<VehicleMaintenance>(`/v1/vehicles/${encodeURIComponent(vehicle.id)}/maintenance`, {
      signal,
    }),
  );
  const known: KnownTask[] = (Array.isArray(schedule.data?.items) ? schedule.data.items : [])
    .filter((i) => typeof i.task === "string" && typeof i.title === "string")
    .map(({ task, title }) => ({ task, title }));
  const typedTasks = readTasks(f.tasks, known);

  /** Ticks or unticks a known task in the Tasks field (its code added at the end, or every way it was typed
   * removed). */
  const toggleTask = (code: string) => {
    const typed = f.tasks
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const others = typed.filter((t) => readTasks(t, known).tasks[0] !== code);
    set("tasks", (others.length < typed.length ? others : [...typed, code]).join(", "));
    setErrors((errors) => withoutError(errors, "tasks"));
  };

  const set = (k: keyof Fields, value: string) => {
    setF((x) => ({
      ...x,
      [k]: value,
      // An acquisition's purchase price follows its cost while the two are the same (nothing paid beyond
      // the price); once they differ, each is changed on its own.
      ...(k === "cost" && x.kind === "acquisition" && sameAmount(x.cost, x.price)
        ? { price: value }
        : {}),
    }));
    setKey(newKey());
  };

  function showApiError(err: unknown, fallback: string) {
    if (!(err instanceof ApiError)) {
      setGeneral([fallback]);
      return;
    }
    if (err.status === 409 && correcting) {
      setConflict({ message: err.message });
      return;
    }
    const byField: Record<string, string> = {};
    const rest: string[] = [];
    let currency = false;
    for (const fe of err.problem?.errors ?? []) {
      const field = fieldFor(fe.field);
      const message = sentence(fe.message);
      if (field && !byField[field]) {
        byField[field] = message;
        if (field === "cost" && fe.field === "currency") currency = true;
      } else rest.push(`${fe.field}: ${message}`);
    }
    setErrors(byField);
    setCurrencyError(currency);
    setGeneral(Object.keys(byField).length || rest.length ? rest : [err.message]);
    focusFirstError();
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy || conflict?.voided) return;
    setGeneral([]);
    setNotice(null);
    setConflict(null);
    if (correcting && original) return correct(original.event, original.revision);
    const built = buildEvent(f, known);
    const local: Record<string, string> = {};
    for (const [k, v] of Object.entries(built.errors)) local[fieldFor(k) ?? k] = v;
    setErrors(local);
    setCurrencyError(false);
    if (!built.body) return focusFirstError();
    setBusy(true);
    try {
      const res = await api.json<{ event: VehicleEvent; warnings?: FieldError[] }>(
        `/v1/vehicles/${encodeURIComponent(vehicle.id)}/events`,
        {
          method: "POST",
          body: built.body,
          headers: { "Idempotency-Key": key },
        },
      );
      onRecorded?.(
        res.event,
        (Array.isArray(res.warnings) ? res.warnings : []).map((w) => sentence(w.message)),
      );
    } catch (err) {
      showApiError(err, "The event could not be recorded. Please try again.");
    } finally {
      setBusy(false);
    }
  }

  async function correct(event: VehicleEvent, revision: number) {
    const built = buildCorrection(event, before, f, known);
    const local: Record<string, string> = {};
    for (const [k, v] of Object.entries(built.errors)) local[fieldFor(k) ?? k] = v;
    setErrors(local);
    setCurrencyError(false);
    if (built.unchanged) {
      setNotice("Nothing has changed, so there is nothing to correct: change a field first.");
      return;
    }
    if (!built.body) return focusFirstError();
    setBusy(true);
    try {
      const { warnings, ...history } = await api.json<EventHistory & { warnings?: FieldError[] }>(
        eventPath(vehicle.id, event.id),
        {
          method: "PATCH",
          body: built.body,
          headers: { "If-Match": `"${revision}"` },
        },
      );
      correcting?.onCorrected(
        history,
        (Array.isArray(warnings) ? warnings : []).map((w) => sentence(w.message)),
      );
    } catch (err) {
      showApiError(err, "The record could not be corrected. Please try again.");
    } finally {
      setBusy(false);
    }
  }

  /** After a 409: reads the record again and starts over from it (or says it is voided). */
  async function reload() {
    if (!original || busy) return;
    setBusy(true);
    try {
      const history = await api.json<EventHistory>(historyPath(vehicle.id, original.event.id));
      correcting?.onReloaded(history);
      if (history.voided) {
        setConflict({ message: conflict?.message ?? "", voided: history });
        return;
      }
      const fresh = fieldsFromEvent(history.current, vehicle.odometerUnit, currencies[0]);
      setOriginal({
        event: history.current,
        revision: lastRevision(history),
      });
      setBefore(fresh);
      setF(fresh);
      setErrors({});
      setGeneral([]);
      setConflict(null);
      setNotice("The record has been reloaded as it now reads. Make your correction again.");
      // "Reload the record" is gone with the conflict: focus goes to the first field, not to <body>.
      setFocusFirst((n) => n + 1);
    } catch (err) {
      setGeneral([err instanceof Error ? err.message : String(err)]);
    } finally {
      setBusy(false);
    }
  }

  // Each field's help text, by field: shown under it and named by its input's aria-describedby (with the
  // field's error, when it has one), so a screen reader reads it with the field, not only when browsing.
  const hints: Partial<Record<keyof Fields, string>> = {
    ...(f.kind === "acquisition" && {
      cost: "What was paid in all, fees and taxes included",
      price:
        "The vehicle's own price, where its cost of ownership starts; follows Cost while the two are equal",
    }),
    ...(f.kind === "maintenance" && {
      tasks: known.length
        ? "Tick this vehicle's items below, or type tasks by name or code, comma-separated"
        : "Comma-separated, e.g. oil_change, tire_rotation",
    }),
    ...(f.kind === "fuel" && { fullTank: "A partial fill counts toward the next full one" }),
    ...(correcting && { reason: `Kept in the record's history; up to ${MAX_REASON} characters.` }),
  };
  // What the person should know before sending, beside the field (not an error: it does not block).
  const warnings: Partial<Record<keyof Fields, string>> = {
    ...(f.kind === "maintenance" &&
      known.length > 0 &&
      typedTasks.unknown.length > 0 && {
        tasks: `${typedTasks.unknown.map((t) => `“${t}”`).join(", ")} ${
          typedTasks.unknown.length === 1 ? "is not one" : "are not"
        } of this vehicle's maintenance items: recorded as a custom task, it clears nothing on the schedule.`,
      }),
  };

  // Each field's help is named by its input's aria-describedby (the error first: it is what needs doing).
  // Errors about two fields: an acquisition's price that follows its cost changes with it, and the server's
  // words about the currency (under Cost) are about the Currency select as much.
  const linked: Partial<Record<keyof Fields, (keyof Fields)[]>> = {
    ...(f.kind === "acquisition" && sameAmount(f.cost, f.price) && { price: ["cost"] }),
    ...(currencyError && { cost: ["currency"] }),
  };
  const field = bindFields({
    prefix: id,
    values: f,
    set,
    errors,
    setErrors,
    hints,
    warnings,
    linked,
  });

  return (
    <form
      ref={formRef}
      className={correcting ? "record" : "record card"}
      onSubmit={submit}
      aria-label={correcting ? "Correct the record" : "Record an event"}
      noValidate
    >
      <div className="grid">
        <SelectField
          {...field("kind")}
          label="Kind"
          options={kinds.map((k) => ({ value: k, label: kindStyle(k).label }))}
        />
        <TextField {...field("date")} label="Date" type="date" required />
        <TextField {...field("title")} label="Title" placeholder="Defaults to the kind" />
        <TextField
          {...field("odometer")}
          label={`Odometer (${vehicle.odometerUnit})`}
          inputMode="numeric"
        />
        <TextField {...field("cost")} label={`Cost (${f.currency})`} inputMode="decimal" />
        {currencyChoices.length > 1 && (
          <SelectField {...field("currency")} label="Currency" options={currencyChoices} />
        )}
        <TextField {...field("vendor")} label="Vendor" />
        {f.kind === "maintenance" && <TextField {...field("tasks")} label="Tasks" />}
        {f.kind === "collision" && (
          <SelectField
            {...field("severity")}
            label="Severity"
            options={["minor", "moderate", "major", "severe"]}
          />
        )}
        {f.kind === "valuation" && (
          <TextField {...field("amount")} label={`Value (${f.currency})`} inputMode="decimal" />
        )}
        {f.kind === "acquisition" && (
          <TextField
            {...field("price")}
            label={`Purchase price (${f.currency})`}
            inputMode="decimal"
          />
        )}
        {f.kind === "fuel" && (
          <>
            <TextField {...field("volume")} label="Volume" inputMode="decimal" />
            <SelectField
              {...field("volumeUnit")}
              label="Unit"
              options={[
                { value: "gal", label: "US gallons" },
                { value: "l", label: "litres" },
              ]}
            />
            <SelectField
              {...field("fullTank")}
              label="Filled to full"
              options={[
                { value: "yes", label: "yes" },
                { value: "no", label: "no (partial)" },
              ]}
            />
          </>
        )}
      </div>
      {f.kind === "maintenance" && known.length > 0 && (
        <fieldset className="known-tasks">
          <legend>This vehicle&apos;s maintenance items</legend>
          {known.map((k) => (
            <Check
              key={k.task}
              checked={typedTasks.tasks.includes(k.task)}
              onChange={() => toggleTask(k.task)}
              label={k.title}
            />
          ))}
        </fieldset>
      )}
      <TextAreaField {...field("notes")} label="Notes" rows={2} />
      {correcting && (
        <TextAreaField
          {...field("reason")}
          label="Reason (optional)"
          rows={2}
          maxLength={MAX_REASON}
        />
      )}
      <GeneralErrors errors={general} />
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {conflict?.voided && <VoidedNotice history={conflict.voided} />}
      {conflict && !conflict.voided && (
        <ConflictRetry message={conflict.message} busy={busy} onReload={reload} />
      )}
      <div className="actions">
        {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it records. */}
        {!conflict?.voided && (
          <button type="submit" className="primary" aria-disabled={busy || undefined}>
            {correcting ? (busy ? "Saving…" : "Save correction") : busy ? "Recording…" : "Record"}
          </button>
        )}
        <button type="button" onClick={onCancel}>
          {conflict?.voided ? "Close" : "Cancel"}
        </button>
      </div>
    </form>
  );
}

/**
 * Two typed amounts that mean the same (`27490` and `27490.00`; two empty fields), or the same text: a cost
 * half typed (`1234.`, `8,`) cannot be read yet, but a price written the same way still follows it.
 */
function sameAmount(a: string, b: string): boolean {
  if (a.trim() === b.trim()) return true;
  const x = parseMoneyToCents(a);
  return x === parseMoneyToCents(b) && !Number.isNaN(x);
}

function sentence(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** `/v1/vehicles/{id}/events/{eventId}`: the record's own route (correct, void; `/history`). */
export function eventPath(vehicleId: string, eventId: string): string {
  return `/v1/vehicles/${encodeURIComponent(vehicleId)}/events/${encodeURIComponent(eventId)}`;
}

/** The record's history: what it reads now, whether it is voided, every revision. */
export function historyPath(vehicleId: string, eventId: string): string {
  return `${eventPath(vehicleId, eventId)}/history`;
}

/** The revision a record's history ends at: what `If-Match` names. */
export function lastRevision(h: EventHistory): number {
  return h.revisions[h.revisions.length - 1]?.revision ?? 1;
}

/** "This record was voided on 2 Mar 2026 (duplicate of …). It can no longer be changed." */
export function VoidedSentence({ history }: { history: EventHistory }) {
  const last = history.revisions[history.revisions.length - 1];
  return (
    <>
      This record was voided{last && ` on ${formatDate(last.at)}`}
      {last?.reason && (
        <>
          {" "}
          (<bdi>{last.reason}</bdi>)
        </>
      )}
      . It can no longer be changed.
    </>
  );
}

/**
 * A 409's detail with its instants as the dashboard writes them (`2026-12-02T07:02:18.506387065+00:00` →
 * `2 Dec 2026, 07:02 UTC`).
 */
export function conflictSentence(message: string): string {
  return message.replace(
    /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})/g,
    (iso) => formatDateTime(iso.replace(/(\.\d{3})\d+/, "$1")),
  );
}

/** What a 409 means to the person, by what they were doing when the record turned out to have changed. */
const CONFLICT_TEXT = {
  correct:
    "Someone changed this record after you opened it, so your correction was not saved. Reload the record to see how it reads now, then make your correction again if it is still needed.",
  void: "Someone changed this record after you opened it, so it was not voided. Reload the record to see how it reads now, then decide again.",
};

/**
 * A 409 on a record changed meanwhile, in words for people, with "Reload the record". The server's own
 * detail (revisions, routes; instants formatted) stays under "Details for support", not as the message.
 */
export function ConflictRetry({
  message,
  busy,
  onReload,
  action = "correct",
}: {
  message: string;
  busy: boolean;
  onReload: () => Promise<void>;
  /** What the person was doing: correcting the record, or voiding it. */
  action?: keyof typeof CONFLICT_TEXT;
}) {
  return (
    <div className="error-retry" role="alert">
      <p className="error">{CONFLICT_TEXT[action]}</p>
      {message && (
        <details className="support-detail">
          <summary>Details for support</summary>
          <bdi>{conflictSentence(message)}</bdi>
        </details>
      )}
      <button type="button" onClick={() => void onReload()} aria-disabled={busy || undefined}>
        Reload the record
      </button>
    </div>
  );
}

/**
 * That a record is voided, when and why, as a notice that takes focus when it shows: the buttons that were
 * focused ("Reload the record", "Save") are gone, and focus must stay in the dialog, not fall to <body>.
 */
export function VoidedNotice({ history }: { history: EventHistory }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <p className="notice" ref={ref} tabIndex={-1} role="status">
      <VoidedSentence history={history} />
    </p>
  );
}
