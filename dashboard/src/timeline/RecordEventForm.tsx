import { useId, useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import { EVENT_KINDS, type EventKind, type Vehicle, type VehicleEvent } from "../api/types";
import { parseMoneyToCents } from "../format";
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
  volume: string;
  volumeUnit: string;
  fullTank: string;
}

/** The user's own calendar date (`YYYY-MM-DD`), not UTC's: late in the evening west of Greenwich, or early
 * in the morning east of it, the two differ. */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** A real calendar date written `YYYY-MM-DD` (what a date input gives; empty when cleared). */
function isDate(text: string): boolean {
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

/** Builds the request body; local problems (a cost that is not a number) come back as field errors. */
export function buildEvent(f: Fields): {
  body?: Record<string, unknown>;
  errors: Record<string, string>;
} {
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
    if (Number.isNaN(cost)) errors.costCents = "Enter an amount such as 89.99.";
    else {
      body.costCents = cost;
      body.currency = f.currency;
    }
  }
  if (f.vendor.trim()) body.vendor = { name: f.vendor.trim() };
  if (f.notes.trim()) body.notes = f.notes.trim();
  if (f.kind === "maintenance") {
    body.details = {
      tasks: f.tasks
        .split(",")
        .map((t) => t.trim().toLowerCase().replace(/\s+/g, "_"))
        .filter(Boolean),
    };
  } else if (f.kind === "collision") {
    body.details = { severity: f.severity };
  } else if (f.kind === "valuation") {
    const amount = parseMoneyToCents(f.amount);
    if (amount === undefined || Number.isNaN(amount))
      errors["details.amountCents"] = "Enter the value, such as 24500.";
    body.details = { amountCents: amount, source: "user_estimate" };
    body.currency = f.currency;
  } else if (f.kind === "fuel") {
    const volume = Number(f.volume.replace(/,/g, "."));
    if (!f.volume.trim() || !Number.isFinite(volume) || volume <= 0)
      errors["details.volume"] = "Enter the volume pumped, such as 11.2.";
    body.details = { volume, volumeUnit: f.volumeUnit, fullTank: f.fullTank === "yes" };
  }
  return Object.keys(errors).length ? { errors } : { body, errors };
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
  if (f === "details.volume") return "volume";
  if (["kind", "title", "odometer", "notes"].includes(f)) return f as keyof Fields;
  return undefined;
}

export function RecordEventForm({
  vehicle,
  currencies = [vehicle.purchaseCurrency ?? "USD"],
  kinds = EVENT_KINDS,
  onRecorded,
  onCancel,
}: {
  vehicle: Vehicle;
  /** The currencies to record a cost in, the vehicle's own first (`vehicleCurrencies`). */
  currencies?: readonly string[];
  /** The kinds the signed-in roles may record (`recordableKinds`). */
  kinds?: readonly EventKind[];
  onRecorded: (e: VehicleEvent) => void;
  onCancel: () => void;
}) {
  const { api } = useApi();
  const id = useId();
  const [f, setF] = useState<Fields>({
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
    volume: "",
    volumeUnit: vehicle.odometerUnit === "km" ? "l" : "gal",
    fullTank: "yes",
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  // One key per filled-in form: a retry after a network error cannot record the event twice.
  const [key, setKey] = useState(newKey);

  const set = (k: keyof Fields) => (e: { target: { value: string } }) => {
    setF((x) => ({ ...x, [k]: e.target.value }));
    setKey(newKey());
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const built = buildEvent(f);
    const local: Record<string, string> = {};
    for (const [k, v] of Object.entries(built.errors)) local[fieldFor(k) ?? k] = v;
    setErrors(local);
    setGeneral([]);
    if (!built.body) return;
    setBusy(true);
    try {
      const res = await api.json<{ event: VehicleEvent }>(
        `/v1/vehicles/${encodeURIComponent(vehicle.id)}/events`,
        {
          method: "POST",
          body: built.body,
          headers: { "Idempotency-Key": key },
        },
      );
      onRecorded(res.event);
    } catch (err) {
      if (err instanceof ApiError) {
        const byField: Record<string, string> = {};
        const rest: string[] = [];
        for (const fe of err.problem?.errors ?? []) {
          const field = fieldFor(fe.field);
          const message = sentence(fe.message);
          if (field && !byField[field]) byField[field] = message;
          else rest.push(`${fe.field}: ${message}`);
        }
        setErrors(byField);
        setGeneral(Object.keys(byField).length || rest.length ? rest : [err.message]);
      } else setGeneral(["The event could not be recorded. Please try again."]);
    } finally {
      setBusy(false);
    }
  }

  const field = (name: keyof Fields | "cost", label: string, input: ReactNode, hint?: string) => {
    const err = errors[name];
    return (
      <div className={`field${err ? " invalid" : ""}`}>
        <label htmlFor={`${id}-${name}`}>{label}</label>
        {input}
        {hint && !err && (
          <span className="hint" id={`${id}-${name}-hint`}>
            {hint}
          </span>
        )}
        {err && (
          <span className="field-error" id={`${id}-${name}-error`} role="alert">
            {err}
          </span>
        )}
      </div>
    );
  };
  const attrs = (name: keyof Fields | "cost") => ({
    id: `${id}-${name}`,
    name,
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": errors[name] ? `${id}-${name}-error` : undefined,
  });

  // A text input bound to its field (id, name, error wiring, value, change handler) with `props` besides.
  const textInput = (name: keyof Fields, props: InputHTMLAttributes<HTMLInputElement> = {}) => (
    <input {...attrs(name)} value={f[name]} onChange={set(name)} {...props} />
  );

  return (
    <form className="record card" onSubmit={submit} aria-label="Record an event" noValidate>
      <div className="grid">
        {field(
          "kind",
          "Kind",
          <select {...attrs("kind")} value={f.kind} onChange={set("kind")}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {kindStyle(k).label}
              </option>
            ))}
          </select>,
        )}
        {field("date", "Date", textInput("date", { type: "date", required: true }))}
        {field("title", "Title", textInput("title", { placeholder: "Defaults to the kind" }))}
        {field(
          "odometer",
          `Odometer (${vehicle.odometerUnit})`,
          textInput("odometer", { inputMode: "numeric" }),
        )}
        {field("cost", `Cost (${f.currency})`, textInput("cost", { inputMode: "decimal" }))}
        {currencies.length > 1 &&
          field(
            "currency",
            "Currency",
            <select {...attrs("currency")} value={f.currency} onChange={set("currency")}>
              {currencies.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>,
          )}
        {field("vendor", "Vendor", textInput("vendor"))}
        {f.kind === "maintenance" &&
          field(
            "tasks",
            "Tasks",
            textInput("tasks"),
            "Comma-separated, e.g. oil_change, tire_rotation",
          )}
        {f.kind === "collision" &&
          field(
            "severity",
            "Severity",
            <select {...attrs("severity")} value={f.severity} onChange={set("severity")}>
              {["minor", "moderate", "major", "severe"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>,
          )}
        {f.kind === "valuation" &&
          field("amount", `Value (${f.currency})`, textInput("amount", { inputMode: "decimal" }))}
        {f.kind === "fuel" &&
          field("volume", "Volume", textInput("volume", { inputMode: "decimal" }))}
        {f.kind === "fuel" &&
          field(
            "volumeUnit",
            "Unit",
            <select {...attrs("volumeUnit")} value={f.volumeUnit} onChange={set("volumeUnit")}>
              <option value="gal">US gallons</option>
              <option value="l">litres</option>
            </select>,
          )}
        {f.kind === "fuel" &&
          field(
            "fullTank",
            "Filled to full",
            <select {...attrs("fullTank")} value={f.fullTank} onChange={set("fullTank")}>
              <option value="yes">yes</option>
              <option value="no">no (partial)</option>
            </select>,
            "A partial fill counts toward the next full one",
          )}
      </div>
      {field(
        "notes",
        "Notes",
        <textarea {...attrs("notes")} rows={2} value={f.notes} onChange={set("notes")} />,
      )}
      {general.length > 0 && (
        <ul className="error" role="alert">
          {general.map((g) => (
            <li key={g}>{g}</li>
          ))}
        </ul>
      )}
      <div className="actions">
        {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it records. */}
        <button type="submit" className="primary" aria-disabled={busy || undefined}>
          {busy ? "Recording…" : "Record"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function sentence(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}
