// A vehicle's own actions, in its page's header: "Edit details", "Sell" and "Archive" for the roles with
// `manage_vehicles` (`PATCH /v1/vehicles/{id}`, `POST …/sell`, `POST …/archive`), "Import records"
// (`POST …/imports`, a CSV file) for the roles with `record_any_event`, "Export history"
// (`GET …/export?format=csv|json`) and "Calendar link" (`GET …/maintenance/calendar`) for every role.
// docs/dashboard.md, "A vehicle's actions".
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import type { components } from "../api/schema";
import type { Vehicle } from "../api/types";
import { useQuery } from "../api/useQuery";
import { mayManageVehicles, mayRecordAnyEvent } from "../auth/permissions";
import {
  formatDate,
  formatDateTime,
  formatDistance,
  formatMoney,
  MONEY_FORMAT_HELP,
  parseMoneyToCents,
} from "../format";
import { CopyField, formErrors, sentence, type FieldErrors } from "../settings/fields";
import { KIND_STYLE } from "../timeline/kinds";
import { isDate, today } from "../timeline/RecordEventForm";
import { Dialog } from "../ui/Dialog";
import { ErrorText, GeneralErrors, Loading } from "../ui/Feedback";
import { bindFields, Check, CheckField, Field, SelectField, TextField } from "../ui/Field";
import { useFocusFirstError } from "../ui/focusFirstError";
import { currencies as allCurrencies, OdometerUnitField } from "./RegisterVehicle";
import { vehicleName } from "./VehiclePage";
import "../settings/settings.css";
import "./actions.css";

type S = components["schemas"];
export type VehicleChanges = S["VehicleChanges"];
export type SellRequest = S["SellRequest"];
type CalendarFeed = S["CalendarFeed"];
/** A vehicle as `PATCH`, `…/sell` and `…/archive` answer it (without the read model's counts). */
export type ChangedVehicle = S["Vehicle"];

export type VehicleAction = "edit" | "sell" | "archive" | "import" | "export" | "calendar";

const LABELS: Record<VehicleAction, string> = {
  edit: "Edit details",
  sell: "Sell",
  archive: "Archive",
  import: "Import records",
  export: "Export history",
  calendar: "Calendar link",
};

/**
 * What the page offers for this vehicle to these roles. Changing details and selling: an active vehicle,
 * `manage_vehicles`. Archiving: an active or a sold one (the API archives both), `manage_vehicles`. Importing
 * a CSV file: an active vehicle, `record_any_event` (an import records every kind). Export: always, every
 * role (the history stays readable). The calendar link: an active vehicle only — a sold or archived
 * vehicle's feed has no events (docs/corrections.md).
 */
export function vehicleActions(vehicle: Vehicle, roles: readonly string[]): VehicleAction[] {
  const status = vehicle.status ?? "active";
  const manage = mayManageVehicles(roles);
  const out: VehicleAction[] = [];
  if (manage && status === "active") out.push("edit", "sell");
  if (manage && status !== "archived") out.push("archive");
  if (status === "active" && mayRecordAnyEvent(roles)) out.push("import");
  out.push("export");
  if (status === "active") out.push("calendar");
  return out;
}

/**
 * The header's row of actions and their dialogs. `onChanged` gets the vehicle as the API answered a change,
 * sale or archive (the page shows it at once). Focus returns to the button that opened a dialog; after a
 * sale or an archive, whose button is gone, it moves to the sentence saying what happened.
 */
export function VehicleActions({
  vehicle,
  currencies,
  onChanged,
  onImported,
}: {
  vehicle: Vehicle;
  /** The currencies a sale is most likely in, the default first (`vehicleCurrencies`). */
  currencies: readonly string[];
  onChanged: (vehicle: ChangedVehicle) => void;
  /** Rows of a file were recorded: the views derived from the timeline are read again. */
  onImported?: () => void;
}) {
  const { session } = useApi();
  const [open, setOpen] = useState<VehicleAction | null>(null);
  const [status, setStatus] = useState("");
  const buttons = useRef<Partial<Record<VehicleAction, HTMLButtonElement | null>>>({});
  const statusRef = useRef<HTMLParagraphElement>(null);
  // Where focus goes once the dialog has closed: while a modal dialog is open the page behind it is inert,
  // and focusing its buttons does nothing, so it moves in an effect after the dialog has gone.
  const focusAfter = useRef<VehicleAction | "status" | null>(null);
  const actions = vehicleActions(vehicle, session.roles);

  useEffect(() => {
    const target = focusAfter.current;
    if (open || !target) return;
    focusAfter.current = null;
    (target === "status" ? statusRef.current : buttons.current[target])?.focus();
  }, [open]);

  const close = () => {
    focusAfter.current = open;
    setOpen(null);
  };
  const retired = (v: ChangedVehicle, text: string) => {
    focusAfter.current = "status";
    setOpen(null);
    onChanged(v);
    setStatus(text);
  };

  return (
    <>
      <div className="vehicle-actions" role="group" aria-label="Vehicle actions">
        {actions.map((a) => (
          <button
            key={a}
            ref={(el) => {
              buttons.current[a] = el;
            }}
            type="button"
            aria-haspopup="dialog"
            onClick={() => {
              setStatus("");
              setOpen(a);
            }}
          >
            {LABELS[a]}
          </button>
        ))}
      </div>
      <p
        ref={statusRef}
        className="action-status small"
        role="status"
        tabIndex={-1}
        data-testid="vehicle-action-status"
      >
        {status}
      </p>
      {open === "edit" && (
        <EditDetailsDialog
          vehicle={vehicle}
          onClose={close}
          onSaved={(v) => {
            onChanged(v);
            close();
            setStatus("The vehicle's details were saved.");
          }}
        />
      )}
      {open === "sell" && (
        <SellDialog
          vehicle={vehicle}
          currencies={currencies}
          onClose={close}
          onSold={(v) => retired(v, "The vehicle is sold: it has left the fleet.")}
        />
      )}
      {open === "archive" && (
        <ArchiveDialog
          vehicle={vehicle}
          onClose={close}
          onArchived={(v) => retired(v, "The vehicle is archived: it has left the fleet.")}
        />
      )}
      {open === "import" && (
        <ImportDialog
          vehicle={vehicle}
          currencies={currencies}
          onClose={close}
          onImported={() => onImported?.()}
        />
      )}
      {open === "export" && <ExportDialog vehicle={vehicle} onClose={close} />}
      {open === "calendar" && <CalendarLinkDialog vehicle={vehicle} onClose={close} />}
    </>
  );
}

function vehiclePath(vehicle: Pick<Vehicle, "id">): string {
  return `/v1/vehicles/${encodeURIComponent(vehicle.id)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Edit details

/** The texts `PATCH /v1/vehicles/{id}` changes, with their limits (`VehicleChanges`). */
const DETAILS = [
  { name: "nickname", label: "Nickname", max: 60 },
  { name: "trim", label: "Trim", max: 60 },
  { name: "plate", label: "Registration plate", max: 20 },
  { name: "colour", label: "Colour", max: 60 },
] as const;

export interface DetailFields {
  nickname: string;
  trim: string;
  plate: string;
  colour: string;
  unit: "mi" | "km";
}

export function detailFields(v: Vehicle): DetailFields {
  return {
    nickname: v.nickname ?? "",
    trim: v.trim ?? "",
    plate: v.plate ?? "",
    colour: v.colour ?? "",
    unit: v.odometerUnit,
  };
}

/**
 * The `PATCH` body for what changed (a cleared text as `null`, which clears it; the unit only when it may
 * change), or `undefined` when nothing did.
 */
export function buildChanges(
  before: Vehicle,
  f: DetailFields,
  unitEditable: boolean,
): VehicleChanges | undefined {
  const body: VehicleChanges = {};
  for (const { name } of DETAILS) {
    const now = f[name].trim();
    if (now !== (before[name] ?? "").trim()) body[name] = now || null;
  }
  if (unitEditable && f.unit !== before.odometerUnit) body.odometerUnit = f.unit;
  return Object.keys(body).length ? body : undefined;
}

function detailFieldFor(apiField: string): string | undefined {
  if (apiField === "odometerUnit") return "unit";
  return DETAILS.some((d) => d.name === apiField) ? apiField : undefined;
}

export function EditDetailsDialog({
  vehicle,
  onClose,
  onSaved,
}: {
  vehicle: Vehicle;
  onClose: () => void;
  onSaved: (vehicle: ChangedVehicle) => void;
}) {
  const { api } = useApi();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  const [f, setF] = useState(() => detailFields(vehicle));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const focusForm = useFocusFirstError(form, { orFirstField: true });
  // The API takes a new unit only while no record carries an odometer: offered only then.
  const unitEditable = !vehicle.odometer;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setErrors({});
    const body = buildChanges(vehicle, f, unitEditable);
    if (!body) {
      setGeneral(["Nothing has changed, so nothing was saved."]);
      return;
    }
    setGeneral([]);
    setBusy(true);
    try {
      onSaved(await api.json<ChangedVehicle>(vehiclePath(vehicle), { method: "PATCH", body }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && body.odometerUnit) {
        setErrors({ unit: err.message });
      } else {
        const shown = formErrors(err, detailFieldFor);
        setErrors(shown.fields);
        setGeneral(shown.general);
      }
      focusForm();
      setBusy(false);
    }
  }

  const hints: Partial<Record<keyof DetailFields, string>> = {
    nickname: "Shown after the vehicle's name. Leave it empty to remove it.",
    plate: "As written on the plate.",
  };
  const field = bindFields({ prefix: id, values: f, update: setF, errors, setErrors, hints });

  return (
    <Dialog title="Edit the vehicle's details" onClose={onClose} className="vehicle-dialog">
      <form
        ref={form}
        className="record"
        onSubmit={submit}
        aria-label="The vehicle's details"
        noValidate
      >
        <p className="muted small">
          <bdi>{vehicleName(vehicle)}</bdi>, VIN <span className="mono">{vehicle.vin}</span>. The
          year, make, model and VIN do not change.
        </p>
        <div className="grid">
          {DETAILS.map(({ name, label, max }) => (
            <TextField
              key={name}
              {...field(name)}
              label={`${label} (optional)`}
              maxLength={max}
              autoComplete="off"
            />
          ))}
        </div>
        {unitEditable && (
          <OdometerUnitField
            {...field("unit")}
            hint="It can change only while no record carries an odometer reading."
          />
        )}
        <GeneralErrors errors={general} />
        <div className="actions">
          {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it waits. */}
          <button type="submit" className="primary" aria-disabled={busy || undefined}>
            {busy ? "Saving…" : "Save"}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Sell

export interface SaleFields {
  date: string;
  price: string;
  currency: string;
  odometer: string;
}

/**
 * The sale's instant for a day: noon UTC, as the record form dates a record — unless the vehicle's last
 * record is later that same day (the API refuses a sale before it, and takes one at its very instant).
 */
export function saleInstant(date: string, lastEventAt?: string | null): string {
  const noon = `${date}T12:00:00Z`;
  if (
    lastEventAt &&
    lastEventAt.slice(0, 10) === date &&
    Date.parse(lastEventAt) > Date.parse(noon)
  )
    return new Date(Date.parse(lastEventAt)).toISOString().replace(".000Z", "Z");
  return noon;
}

/** The `POST …/sell` body for the form's fields, or the fields' errors found before sending. */
export function buildSale(
  f: SaleFields,
  lastEventAt?: string | null,
): { body?: SellRequest; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (!isDate(f.date)) errors.date = "Enter the date of the sale, such as 2026-03-02.";
  const price = parseMoneyToCents(f.price);
  if (price === undefined) errors.price = "Write the sale price.";
  else if (Number.isNaN(price)) errors.price = MONEY_FORMAT_HELP;
  const odoText = f.odometer.replace(/[,\s]/g, "");
  const odometer = Number(odoText);
  if (!odoText) errors.odometer = "Write the odometer reading at the sale.";
  else if (!Number.isInteger(odometer) || odometer < 0) errors.odometer = "Enter a whole number.";
  if (Object.keys(errors).length) return { errors };
  return {
    body: {
      soldAt: saleInstant(f.date, lastEventAt),
      priceCents: price!,
      currency: f.currency,
      odometer,
    },
    errors,
  };
}

function saleFieldFor(apiField: string): string | undefined {
  switch (apiField) {
    case "soldAt":
      return "date";
    case "priceCents":
      return "price";
    case "currency":
    case "odometer":
      return apiField;
    default:
      return undefined;
  }
}

/** The API's words about a sale's field, for a person (its instants and bare numbers made readable). */
export function saleMessage(field: string, message: string, unit: string): string {
  const last = /before the vehicle's last record \(([^)]+)\)/.exec(message);
  if (field === "soldAt" && last && !Number.isNaN(Date.parse(last[1]!)))
    return `The sale cannot be dated before the vehicle's last record, of ${formatDate(last[1]!)}.`;
  const odo = /below the last recorded odometer \((\d+)\)/.exec(message);
  if (field === "odometer" && odo)
    return `The odometer at the sale cannot be below the last recorded reading, ${formatDistance(Number(odo[1]), unit)}.`;
  return sentence(message);
}

export function SellDialog({
  vehicle,
  currencies,
  onClose,
  onSold,
}: {
  vehicle: Vehicle;
  currencies: readonly string[];
  onClose: () => void;
  onSold: (vehicle: ChangedVehicle) => void;
}) {
  const { api } = useApi();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  const [f, setF] = useState<SaleFields>(() => ({
    date: today(),
    price: "",
    currency: currencies[0] ?? "USD",
    odometer: "",
  }));
  const [options] = useState(() => [...new Set([...currencies, ...allCurrencies()])]);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [sale, setSale] = useState<SellRequest | undefined>();
  const [busy, setBusy] = useState(false);
  const focusForm = useFocusFirstError(form, { orFirstField: true });
  const unit = vehicle.odometerUnit;

  // The confirm step's question takes focus when it shows (the button that had it is gone; the question,
  // not "Sell the vehicle", so that Enter does not sell at once); back on the form, the first field with an
  // error, else the first field (`focusForm`).
  useEffect(() => {
    if (sale) document.getElementById(`${id}-question`)?.focus();
  }, [sale, id]);

  function next(e: FormEvent) {
    e.preventDefault();
    setGeneral([]);
    const built = buildSale(f, vehicle.lastEventAt);
    setErrors(built.errors);
    if (built.body) setSale(built.body);
    else focusForm();
  }

  async function confirm() {
    if (busy || !sale) return;
    setBusy(true);
    setGeneral([]);
    try {
      onSold(
        await api.json<ChangedVehicle>(`${vehiclePath(vehicle)}/sell`, {
          method: "POST",
          body: sale,
        }),
      );
    } catch (err) {
      setBusy(false);
      const shown = formErrors(err, saleFieldFor, (field, m) => saleMessage(field, m, unit));
      if (Object.keys(shown.fields).length) {
        // Back to the form, the errors beside their fields.
        setErrors(shown.fields);
        setGeneral(shown.general);
        setSale(undefined);
        focusForm();
      } else setGeneral(shown.general);
    }
  }

  const last = vehicle.odometer;
  const hints: Partial<Record<keyof SaleFields, string>> = {
    date: vehicle.lastEventAt
      ? `Not before the vehicle's last record, of ${formatDate(vehicle.lastEventAt)}.`
      : undefined,
    odometer: last
      ? `In ${unit}; not below the last recorded reading, ${formatDistance(last.value, last.unit ?? unit)}.`
      : `In ${unit}.`,
  };
  const field = bindFields({ prefix: id, values: f, update: setF, errors, setErrors, hints });

  return (
    <Dialog
      title={
        <>
          Sell <bdi>{vehicleName(vehicle)}</bdi>
        </>
      }
      onClose={onClose}
      className="vehicle-dialog"
    >
      {!sale ? (
        <form ref={form} className="record" onSubmit={next} aria-label="The sale" noValidate>
          <div className="grid">
            <TextField {...field("date")} label="Date of sale" type="date" />
            <TextField
              {...field("odometer")}
              label={`Odometer at sale (${unit})`}
              inputMode="numeric"
              autoComplete="off"
            />
            <TextField
              {...field("price")}
              label={`Sale price (${f.currency})`}
              inputMode="decimal"
              autoComplete="off"
            />
            <SelectField {...field("currency")} label="Currency" options={options} />
          </div>
          <GeneralErrors errors={general} />
          <div className="actions">
            <button type="submit" className="primary">
              Continue
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="record">
          <p id={`${id}-question`} tabIndex={-1} className="confirm-question">
            Sell <bdi>{vehicleName(vehicle)}</bdi> on {formatDate(sale.soldAt)} for{" "}
            {formatMoney(sale.priceCents, sale.currency)} at {formatDistance(sale.odometer, unit)}?
          </p>
          <ul id={`${id}-what`} className="consequences small">
            <li>No record dated after the sale can be added (late receipts up to it still can).</li>
            <li>
              Its value stops: the page shows the sale price and the total cost of ownership
              instead.
            </li>
            <li>
              It leaves the fleet&apos;s counts and totals; its reminders stop and it leaves the
              calendar feeds.
            </li>
            <li>Its history is kept, and can still be read, corrected and exported.</li>
            <li>The dashboard cannot undo a sale.</li>
          </ul>
          <GeneralErrors errors={general} />
          <div className="actions">
            <button
              type="button"
              className="danger"
              aria-describedby={`${id}-question ${id}-what`}
              aria-disabled={busy || undefined}
              onClick={() => void confirm()}
            >
              {busy ? "Selling…" : "Sell the vehicle"}
            </button>
            <button
              type="button"
              onClick={() => {
                if (busy) return;
                setGeneral([]);
                setSale(undefined);
                focusForm();
              }}
            >
              Back
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Archive

export function ArchiveDialog({
  vehicle,
  onClose,
  onArchived,
}: {
  vehicle: Vehicle;
  onClose: () => void;
  onArchived: (vehicle: ChangedVehicle) => void;
}) {
  const { api } = useApi();
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  async function archive() {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      onArchived(
        await api.json<ChangedVehicle>(`${vehiclePath(vehicle)}/archive`, { method: "POST" }),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  }

  return (
    <Dialog
      title={
        <>
          Archive <bdi>{vehicleName(vehicle)}</bdi>?
        </>
      }
      onClose={onClose}
      initialFocus="title"
    >
      <ul id={`${id}-what`} className="consequences">
        <li>It leaves the fleet: its counts, totals and value.</li>
        <li>Its reminders stop, and it leaves the calendar feeds.</li>
        <li>
          Its history is kept: it can still be read and exported
          {vehicle.sale ? "" : ", and records can still be added"}.
        </li>
        <li>The dashboard cannot undo archiving.</li>
      </ul>
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
          onClick={() => void archive()}
        >
          {busy ? "Archiving…" : "Archive the vehicle"}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Import

export type ImportReport = S["ImportReport"];
export type ImportKind = "maintenance" | "repair" | "upgrade";
/** The kinds LubeLogger's generic records can be imported as, in the timeline's words (`KIND_STYLE`). */
const IMPORT_KINDS: readonly ImportKind[] = ["maintenance", "repair", "upgrade"];
/** How many refused rows the dialog lists; the count says how many more there are. */
const LISTED_ERRORS = 50;

/** The query of `POST …/imports` for the dialog's choices. */
export function importQuery(kind: ImportKind, currency: string, dryRun: boolean): string {
  const q = new URLSearchParams({ kind, currency });
  if (dryRun) q.set("dryRun", "true");
  return q.toString();
}

/** What a report says, in a sentence: rows recorded (or, checked only, that would be), skipped, refused. */
export function importSummary(report: ImportReport): string {
  const rows = (n: number) => `${n.toLocaleString("en-US")} ${n === 1 ? "row" : "rows"}`;
  const refused = new Set(report.errors.map((e) => e.row)).size;
  const refusedText = refused ? `${rows(refused)} refused (below)` : "none refused";
  const skipped = report.skipped ? `, ${rows(report.skipped)} imported before (skipped)` : "";
  // Older servers send no `warnings`.
  const doubtful = new Set((report.warnings ?? []).map((w) => w.row)).size;
  const doubtfulText = doubtful
    ? ` ${doubtful === 1 ? "1 row has" : `${rows(doubtful)} have`} a doubtful odometer (below).`
    : "";
  if (report.dryRun)
    return `Checked: ${rows(report.imported)} would be recorded, ${refusedText}. Nothing was recorded.${doubtfulText}`;
  return `Recorded ${rows(report.imported)}${skipped}, ${refusedText}.${doubtfulText}`;
}

/** A report's rows (refused, or recorded with a warning) by line, column and why; the first 50. */
function ReportRows({
  rows,
  caption,
  testId,
}: {
  rows: ImportReport["errors"];
  caption: string;
  testId: string;
}) {
  if (rows.length === 0) return null;
  return (
    <table className="import-errors small" data-testid={testId}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Line</th>
          <th scope="col">Column</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, LISTED_ERRORS).map((e, i) => (
          <tr key={`${e.row}-${e.field}-${i}`}>
            <td>{e.row}</td>
            <td>{e.field}</td>
            <td>{e.message}</td>
          </tr>
        ))}
      </tbody>
      {rows.length > LISTED_ERRORS && (
        <tfoot>
          <tr>
            <td colSpan={3}>…and {rows.length - LISTED_ERRORS} more.</td>
          </tr>
        </tfoot>
      )}
    </table>
  );
}

/**
 * "Import records": a CSV file (LubeLogger's, Fuelly's or this product's own export) sent as it is to
 * `POST …/imports` — the server reads its encoding and delimiter (docs/import.md) — with the kind of
 * LubeLogger's generic records, the currency of costs that name none, and "check only" (`dryRun`). The
 * report stays in the dialog: what was recorded and each refused row by its line and column.
 */
export function ImportDialog({
  vehicle,
  currencies,
  onClose,
  onImported,
}: {
  vehicle: Vehicle;
  currencies: readonly string[];
  onClose: () => void;
  onImported: () => void;
}) {
  const { api } = useApi();
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [kind, setKind] = useState<ImportKind>("maintenance");
  const [options] = useState(() => [...new Set([...currencies, ...allCurrencies()])]);
  const [currency, setCurrency] = useState(options[0] ?? "USD");
  const [dryRun, setDryRun] = useState(false);
  const [missing, setMissing] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [report, setReport] = useState<ImportReport>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    if (!file) {
      setMissing("Choose the CSV file to import.");
      return;
    }
    setMissing("");
    setBusy(true);
    setError(undefined);
    setReport(undefined);
    try {
      const res = await api.raw(
        `${vehiclePath(vehicle)}/imports?${importQuery(kind, currency, dryRun)}`,
        { method: "POST", file, fileType: "text/csv", headers: { Accept: "application/json" } },
      );
      const answer = (await res.json()) as ImportReport;
      setReport(answer);
      if (!answer.dryRun && answer.imported > 0) onImported();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const errors = report?.errors ?? [];
  const warnings = report?.warnings ?? [];
  return (
    <Dialog
      title={
        <>
          Import records into <bdi>{vehicleName(vehicle)}</bdi>
        </>
      }
      onClose={onClose}
      className="vehicle-dialog"
    >
      <form className="record" onSubmit={(e) => void submit(e)} noValidate>
        <Field
          prefix={id}
          name="file"
          label="CSV file"
          error={missing || undefined}
          hint="LubeLogger's or Fuelly's export, or this vehicle's history exported from here; UTF-8 or UTF-16, separated by commas, semicolons or tabs; up to 256 KiB."
        >
          <input
            id={`${id}-file`}
            name="file"
            type="file"
            accept=".csv,.txt,text/csv"
            aria-invalid={missing ? true : undefined}
            aria-describedby={missing ? `${id}-file-error ${id}-file-hint` : `${id}-file-hint`}
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              setMissing("");
              setReport(undefined);
            }}
          />
        </Field>
        <fieldset className="unit-choice">
          <legend>LubeLogger records are</legend>
          {IMPORT_KINDS.map((choice) => (
            <Check
              key={choice}
              type="radio"
              name={`${id}-kind`}
              value={choice}
              label={KIND_STYLE[choice].label}
              checked={kind === choice}
              onChange={() => setKind(choice)}
            />
          ))}
          <span className="hint">
            LubeLogger exports each kind of record in its own file; other files say what each row
            is.
          </span>
        </fieldset>
        <SelectField
          prefix={id}
          name="currency"
          label="Currency of the costs"
          value={currency}
          onValue={setCurrency}
          options={options}
          hint="For files whose amounts name no currency; amounts are never converted."
        />
        <CheckField
          prefix={id}
          name="dryRun"
          label="Check only: record nothing"
          value={dryRun}
          onValue={setDryRun}
        />
        <ErrorText error={error} />
        <div className="actions">
          <button type="submit" className="primary" aria-disabled={busy || undefined}>
            {busy ? "Importing…" : dryRun ? "Check the file" : "Import"}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        <p className="action-status small" role="status" data-testid="import-status">
          {report ? importSummary(report) : ""}
        </p>
        <ReportRows
          rows={errors}
          caption="Refused rows (line numbers in the file; the header is line 1)"
          testId="import-errors"
        />
        <ReportRows
          rows={warnings}
          caption="Recorded, but the odometer is doubtful (correct the record if it is a typo)"
          testId="import-warnings"
        />
      </form>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Export

export type ExportFormat = "csv" | "json" | "zip";

/** `2021-toyota-rav4-blue-history-2026-12-02.csv`: the vehicle, what it is and the day, for a file name. */
export function exportFileName(vehicle: Vehicle, format: ExportFormat, now = new Date()): string {
  const slug = [vehicle.year, vehicle.make, vehicle.model, vehicle.nickname]
    .filter((p) => p !== undefined && p !== null && p !== "")
    .join(" ")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+/, "")
    .slice(0, 80)
    .replace(/-+$/, "");
  return `${slug || vehicle.id}-history-${today(now)}.${format}`;
}

/** What each format is asked for as. */
const ACCEPT: Record<ExportFormat, string> = {
  csv: "text/csv",
  json: "application/json",
  zip: "application/zip",
};

/** How long a downloaded file's object URL is kept before it is revoked. */
const REVOKE_AFTER_MS = 10_000;

export function ExportDialog({ vehicle, onClose }: { vehicle: Vehicle; onClose: () => void }) {
  const { api } = useApi();
  const id = useId();
  const [format, setFormat] = useState<ExportFormat>("csv");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const [error, setError] = useState<unknown>();
  // The link is clicked inside the dialog: the page behind a modal dialog is inert.
  const here = useRef<HTMLDivElement>(null);

  async function download() {
    if (busy) return;
    setBusy(true);
    setStatus("");
    setError(undefined);
    try {
      const res = await api.raw(`${vehiclePath(vehicle)}/export?format=${format}`, {
        headers: { Accept: ACCEPT[format] },
      });
      const blob = await res.blob();
      const name = exportFileName(vehicle, format);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.hidden = true;
      (here.current ?? document.body).appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
      setStatus(`Downloaded “${name}”.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      title={
        <>
          Export the history of <bdi>{vehicleName(vehicle)}</bdi>
        </>
      }
      onClose={onClose}
      className="vehicle-dialog"
    >
      <div className="record" ref={here}>
        <fieldset className="unit-choice">
          <legend>Format</legend>
          {(["csv", "json", "zip"] as const).map((choice) => (
            <Check
              key={choice}
              type="radio"
              name={`${id}-format`}
              value={choice}
              label={choice.toUpperCase()}
              checked={format === choice}
              aria-describedby={`${id}-${choice}-hint`}
              onChange={() => setFormat(choice)}
            />
          ))}
          <span className="hint" id={`${id}-csv-hint`}>
            CSV opens in a spreadsheet, and another vehicle can import it.
          </span>
          <span className="hint" id={`${id}-json-hint`}>
            JSON holds every record as the API returns it.
          </span>
          <span className="hint" id={`${id}-zip-hint`}>
            ZIP holds the CSV with every record&apos;s receipts and documents, a folder a record.
          </span>
        </fieldset>
        <p className="muted small">
          Every current record, oldest first; voided records (and their files) are left out.
        </p>
        <ErrorText error={error} />
        <div className="actions">
          <button
            type="button"
            className="primary"
            aria-disabled={busy || undefined}
            onClick={() => void download()}
          >
            {busy ? "Preparing…" : "Download"}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        <p className="action-status small" role="status" data-testid="export-status">
          {status}
        </p>
      </div>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------------------
// Calendar link

export function CalendarLinkDialog({
  vehicle,
  onClose,
}: {
  vehicle: Vehicle;
  onClose: () => void;
}) {
  const { api } = useApi();
  const id = useId();
  const feed = useQuery(`vehicle-calendar:${vehicle.id}`, (signal) =>
    api.json<CalendarFeed>(`${vehiclePath(vehicle)}/maintenance/calendar`, { signal }),
  );
  return (
    <Dialog
      title={
        <>
          Calendar link for <bdi>{vehicleName(vehicle)}</bdi>
        </>
      }
      onClose={onClose}
      loading={feed.loading && !feed.data}
    >
      <p className="small">
        Subscribe to this link in a calendar app (Google Calendar, Apple Calendar, Outlook) to see
        this vehicle&apos;s maintenance on the day each item falls due.
      </p>
      <p className="small secret-warning">
        <strong>Keep it secret.</strong> The link itself is the key: anyone who has it can read this
        vehicle&apos;s maintenance until the organisation&apos;s calendar link is rotated in
        Settings.
      </p>
      {feed.loading && !feed.data && <Loading label="Loading the calendar link…" />}
      <ErrorText error={feed.error} onRetry={feed.reload} />
      {feed.data && (
        <CopyField
          prefix={id}
          name="calendar"
          label="This vehicle's calendar link"
          value={feed.data.calendarUrl}
          button="Copy link"
          hint={`Valid until the link is rotated (last created or rotated on ${formatDateTime(feed.data.rotatedAt)}).`}
        />
      )}
      <div className="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
