// "Register a vehicle": a button for the roles that may (`register_vehicles`) and its dialog, which decodes
// the VIN as it is typed (`GET /v1/vin/{vin}`: year and make filled in, a wrong check digit said beside the
// VIN) and registers it (`POST /v1/vehicles`). docs/dashboard.md, "Registering a vehicle".
import {
  useCallback,
  useEffect,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type FormEvent,
} from "react";
import { ApiError } from "../api/client";
import { useApi } from "../api/context";
import type { components } from "../api/schema";
import type { Vehicle } from "../api/types";
import { mayRegisterVehicles } from "../auth/permissions";
import { MONEY_FORMAT_HELP, parseMoneyToCents } from "../format";
import { formErrors, sentence, type FieldErrors } from "../settings/fields";
import { Dialog } from "../ui/Dialog";
import { GeneralErrors } from "../ui/Feedback";
import {
  bindFields,
  Check,
  fieldSetter,
  RadioField,
  SelectField,
  TextField,
  withoutError,
  type FieldPlace,
} from "../ui/Field";
import { useFocusFirstError } from "../ui/focusFirstError";
import "../settings/settings.css";

type NewVehicle = components["schemas"]["NewVehicle"];
/** A vehicle as `POST /v1/vehicles` answers it (without the read model's counts). */
export type Registered = components["schemas"]["Vehicle"];
export type VinDecoding = components["schemas"]["VinDecoding"];

interface Fields {
  vin: string;
  year: string;
  make: string;
  model: string;
  trim: string;
  nickname: string;
  unit: "mi" | "km";
  price: string;
  currency: string;
  /** Register a North American VIN whose check digit does not match, as written (`vinCheck: skip`). */
  skipCheck: boolean;
}

const EMPTY: Fields = {
  vin: "",
  year: "",
  make: "",
  model: "",
  trim: "",
  nickname: "",
  unit: "mi",
  price: "",
  currency: "USD",
  skipCheck: false,
};

/** The unit a vehicle's odometer reads in, as its forms choose it; `hint` says what the choice means there. */
export function OdometerUnitField(
  props: FieldPlace & { value: "mi" | "km"; onValue?: (unit: "mi" | "km") => void },
) {
  return (
    <RadioField
      {...props}
      className="unit-choice"
      legend="Odometer unit"
      options={[
        { value: "mi", label: "Miles (mi)" },
        { value: "km", label: "Kilometres (km)" },
      ]}
    />
  );
}

/** A VIN as the API takes it: 17 letters and digits without I, O and Q (any case). */
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/i;

/** How long the dialog waits after the last key before it decodes a complete VIN. */
export const DECODE_SETTLE_MS = 250;

/**
 * A VIN as typed or pasted, made what the field holds: spaces, tabs, line breaks and dashes removed (a VIN
 * copied from papers or an e-mail often has them), in capitals. Never cut: cutting to 17 dropped the
 * VIN's last character when one more was typed in its middle (`vinEdit` refuses that key instead), and a
 * pasted text too long is kept whole to be seen and mended.
 */
export function normalVin(text: string): string {
  return text.replace(/[\s\u2010-\u2015-]+/g, "").toUpperCase();
}

/** What the VIN field says when a key past the 17th character was refused. */
export const VIN_KEY_REFUSED = "A VIN has 17 characters: that key was not added.";

/** What the VIN field says while it holds more than 17 characters (a paste). */
export function vinTooLong(vin: string): string | undefined {
  return vin.length > 17
    ? `A VIN has 17 characters; this one has ${vin.length}: remove what does not belong.`
    : undefined;
}

/**
 * A change of the VIN field, as the field takes it: `raw` (the input's text now, the caret at `caret`) after
 * `inputType` (the input event's: `insertText` for a key) over the VIN `was`. A key that would make the VIN
 * longer than 17 characters is refused — the VIN and the caret stay as they were (`refused`) — rather than
 * cut from its end; anything else (a paste, a deletion, a key in a shorter VIN) is kept, normalised
 * (`normalVin`), the caret after what was typed (`caret`: null when it stays where the input put it).
 */
export function vinEdit(
  was: string,
  raw: string,
  caret: number | null,
  inputType: string | undefined,
): { vin: string; caret: number | null; refused: boolean } {
  const vin = normalVin(raw);
  const key = inputType === "insertText" || inputType === "insertCompositionText";
  if (key && vin.length > 17 && vin.length > was.length) {
    // What was typed sits just before the caret: where it was is that many places back.
    const added = raw.length - was.length;
    return { vin: was, caret: caret === null ? null : Math.max(0, caret - added), refused: true };
  }
  return {
    vin,
    caret:
      caret !== null && vin !== raw
        ? Math.min(normalVin(raw.slice(0, caret)).length, vin.length)
        : null,
    refused: false,
  };
}

/** What is wrong with a typed VIN before it is sent, or nothing. */
export function vinError(text: string): string | undefined {
  const vin = text.trim();
  if (!vin) return "Write the vehicle's VIN.";
  if (vin.length !== 17)
    return `A VIN is 17 characters; this one has ${vin.length}. It is on the windscreen, the door frame and the registration papers.`;
  if (!VIN.test(vin)) return "A VIN has only letters and digits, and never I, O or Q.";
  return undefined;
}

/** A check digit that does not match, in words, when the VIN must carry one (North American VINs). */
export function checkDigitWarning(d: VinDecoding | undefined): string | undefined {
  if (!d || d.checkDigit.valid || !d.checkDigit.required) return undefined;
  return `The check digit (the 9th character) is ${d.checkDigit.actual}, but the other characters give ${d.checkDigit.expected}: check the VIN for a typo. A VIN misprinted on the vehicle's papers can be registered as written (tick below).`;
}

/** "Honda · United States · model year 2003": what the VIN said, as the VIN field's hint. */
export function decodedText(d: VinDecoding): string {
  const parts = [d.make ?? d.manufacturer, d.country ?? d.region].filter((p): p is string => !!p);
  if (d.modelYear) parts.push(`model year ${d.modelYear}`);
  return parts.length
    ? `From the VIN: ${parts.join(" · ")}.`
    : "The VIN names no maker this server knows.";
}

/** The API's words about a field, for a person (the check digit's and the make's name the request's JSON). */
function say(field: string, message: string): string {
  if (field === "vin" && /check digit mismatch/i.test(message))
    return "The VIN's check digit (the 9th character) does not match the rest: check the VIN for a typo, or tick “Register the VIN as written” if it is written so on the vehicle's papers.";
  if (field === "make" && /required/i.test(message))
    return "Write the make: the VIN does not say which brand it is.";
  return sentence(message);
}

/** The form field a field of the API's answer is about. */
function fieldFor(apiField: string): keyof Fields | undefined {
  switch (apiField) {
    case "vin":
    case "vinCheck":
      return "vin";
    case "year":
    case "make":
    case "model":
    case "trim":
    case "nickname":
      return apiField;
    case "purchasePriceCents":
      return "price";
    case "purchaseCurrency":
      return "currency";
    default:
      return undefined;
  }
}

/** The request for the form's fields, or the fields' errors found before sending. */
export function buildVehicle(f: Fields): { body?: NewVehicle; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const vin = f.vin.trim().toUpperCase();
  const vErr = vinError(vin);
  if (vErr) errors.vin = vErr;
  if (!f.model.trim()) errors.model = "Write the model, such as RAV4.";
  const yearText = f.year.trim();
  if (yearText && !/^\d{4}$/.test(yearText))
    errors.year = "Write the model year as four digits, such as 2021.";
  const price = parseMoneyToCents(f.price);
  if (Number.isNaN(price)) errors.price = MONEY_FORMAT_HELP;
  if (Object.keys(errors).length) return { errors };
  const opt = (s: string) => s.trim() || undefined;
  const body: NewVehicle = {
    vin,
    model: f.model.trim(),
    year: yearText ? Number(yearText) : undefined,
    make: opt(f.make),
    trim: opt(f.trim),
    nickname: opt(f.nickname),
    odometerUnit: f.unit,
    ...(price !== undefined && {
      purchasePriceCents: price,
      purchaseCurrency: f.currency as never,
    }),
    ...(f.skipCheck && { vinCheck: "skip" as const }),
  };
  return { body, errors };
}

/** Every currency the browser knows by code (the API checks it is an active ISO 4217 one). */
export function currencies(): string[] {
  const known =
    typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("currency") : [];
  return [...new Set(["USD", "EUR", "GBP", ...known])].sort();
}

/**
 * The "Register a vehicle" button (nothing for roles that may not register) and its dialog. On success
 * `onRegistered` gets the vehicle (the page lists it, opens its page and focuses the picker:
 * `useRegistering`); on Cancel or Escape focus goes back to the button.
 */
export function RegisterVehicleButton({
  onRegistered,
  primary = true,
}: {
  onRegistered: (vehicle: Registered) => void;
  /** The page's main action (the empty state's), or one beside others (the picker's). */
  primary?: boolean;
}) {
  const { session } = useApi();
  const [open, setOpen] = useState(false);
  if (!mayRegisterVehicles(session.roles)) return null;
  return (
    <>
      <button
        type="button"
        className={primary ? "primary" : undefined}
        onClick={() => setOpen(true)}
      >
        Register a vehicle
      </button>
      {open && (
        <RegisterVehicleDialog
          // Focus goes back to the button: the dialog returns it to its opener as it closes.
          onClose={() => setOpen(false)}
          onRegistered={(v) => {
            setOpen(false);
            onRegistered(v);
          }}
        />
      )}
    </>
  );
}

export function RegisterVehicleDialog({
  onClose,
  onRegistered,
}: {
  onClose: () => void;
  onRegistered: (vehicle: Registered) => void;
}) {
  const { api } = useApi();
  const id = useId();
  const [f, setF] = useState<Fields>(EMPTY);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [decoded, setDecoded] = useState<{ vin: string; data?: VinDecoding; error?: string }>();
  // The year and make the last decoding filled in: a later decoding replaces them, never what was typed.
  const filled = useRef<{ year: string; make: string }>({ year: "", make: "" });
  const [options] = useState(currencies);
  const form = useRef<HTMLFormElement>(null);
  const vinInput = useRef<HTMLInputElement>(null);
  // Where the caret goes once what was typed is normalised (spaces or dashes before it removed, letters made
  // capitals). A new object for every such key: a typed space or dash leaves the VIN as it was, yet React puts
  // the field's text back (the caret jumps to its end), so the caret must be placed after that render too —
  // keyed on the VIN alone, it was not, and the next key put it one place too far back.
  const [vinCaret, setVinCaret] = useState<{ at: number } | null>(null);
  // The last key was refused (the VIN had 17 characters already): said under the field and in a status.
  const [vinRefused, setVinRefused] = useState(false);
  useLayoutEffect(() => {
    if (vinCaret && vinInput.current === document.activeElement)
      vinInput.current?.setSelectionRange(vinCaret.at, vinCaret.at);
  }, [vinCaret]);
  // After the errors render (found here or sent by the server), focus moves to the first field with one.
  const focusFirstError = useFocusFirstError(form);

  const vin = f.vin.trim().toUpperCase();
  useEffect(() => {
    if (!VIN.test(vin)) return;
    const controller = new AbortController();
    const t = window.setTimeout(() => {
      api
        .json<VinDecoding>(`/v1/vin/${encodeURIComponent(vin)}`, { signal: controller.signal })
        .then(
          (data) => {
            if (controller.signal.aborted) return;
            setDecoded({ vin, data });
            const year = data.modelYear ? String(data.modelYear) : "";
            const make = data.make ?? "";
            setF((cur) => ({
              ...cur,
              year: !cur.year || cur.year === filled.current.year ? year : cur.year,
              make: !cur.make || cur.make === filled.current.make ? make : cur.make,
            }));
            filled.current = { year, make };
          },
          (e: unknown) => {
            if (controller.signal.aborted) return;
            const message =
              e instanceof ApiError && e.fields.vin ? sentence(e.fields.vin) : undefined;
            // A decoding that failed for another reason (the network) leaves registration to say.
            setDecoded({ vin, error: message });
          },
        );
    }, DECODE_SETTLE_MS);
    return () => {
      window.clearTimeout(t);
      controller.abort();
    };
  }, [api, vin]);

  const decoding = decoded?.vin === vin ? decoded : undefined;
  const warning = checkDigitWarning(decoding?.data);

  const set = fieldSetter(setF);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setGeneral([]);
    const built = buildVehicle(f);
    setErrors(built.errors);
    if (!built.body) {
      focusFirstError();
      return;
    }
    setBusy(true);
    try {
      const vehicle = await api.json<Registered>("/v1/vehicles", {
        method: "POST",
        body: built.body,
      });
      onRegistered(vehicle);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // The VIN is registered already (the problem says so): beside the VIN.
        setErrors({ vin: err.message });
      } else {
        const shown = formErrors(err, fieldFor, say);
        setErrors(shown.fields);
        setGeneral(shown.general);
      }
      focusFirstError();
    } finally {
      setBusy(false);
    }
  }

  const hints: Partial<Record<keyof Fields, string>> = {
    vin: decoding?.data
      ? decodedText(decoding.data)
      : "17 letters and digits; the year and make are filled in from it.",
    year: "From the VIN when left empty.",
    make: "From the VIN when left empty (where it names one brand).",
    price: `What was paid; the vehicle's value starts from it.`,
  };
  // The server's check-digit 422 says what the warning says: once is enough, the error (named first).
  // A refused key or a VIN too long is said first: it is what the last key or paste did (too long, once:
  // after "Register" its error says so).
  const vinWarning =
    (vinRefused ? VIN_KEY_REFUSED : errors.vin ? undefined : vinTooLong(f.vin)) ??
    (errors.vin && /check digit/i.test(errors.vin) ? undefined : (warning ?? decoding?.error));
  const field = bindFields({
    prefix: id,
    values: f,
    set,
    errors,
    setErrors,
    hints,
    warnings: { vin: vinWarning },
  });
  return (
    <Dialog title="Register a vehicle" onClose={onClose} className="register-dialog">
      <form
        ref={form}
        className="record"
        onSubmit={submit}
        aria-label="Register a vehicle"
        noValidate
      >
        <TextField
          {...field("vin")}
          label="VIN"
          autoComplete="off"
          // No maxLength: it would cut a pasted VIN before its spaces are removed (`normalVin` limits it).
          ref={vinInput}
          onChange={(e) => {
            const edit = vinEdit(
              f.vin,
              e.target.value,
              e.target.selectionStart,
              (e.nativeEvent as InputEvent).inputType,
            );
            // Refused, the text goes back to the VIN as it was (React puts it back): the caret goes back
            // to where it was too.
            setVinCaret(edit.caret === null ? null : { at: edit.caret });
            setVinRefused(edit.refused);
            if (edit.refused) return;
            set("vin", edit.vin);
            // The VIN's error was about what it held before (this replaces the field's own `onValue`).
            if (edit.vin !== f.vin) setErrors((errors) => withoutError(errors, "vin"));
          }}
          spellCheck={false}
          autoCapitalize="characters"
          className="mono"
          required
        />
        <span className="visually-hidden" role="status">
          {vinRefused ? VIN_KEY_REFUSED : ""}
        </span>
        {warning && (
          <Check
            checked={f.skipCheck}
            onChange={(e) => {
              set("skipCheck", e.target.checked);
              // The server's refusal of the check digit is about this box as much as the VIN.
              setErrors((errors) =>
                errors.vin && /check digit/i.test(errors.vin)
                  ? withoutError(errors, "vin")
                  : errors,
              );
            }}
            label="Register the VIN as written, although its check digit does not match"
          />
        )}
        <div className="grid">
          <TextField
            {...field("year")}
            label="Model year"
            autoComplete="off"
            inputMode="numeric"
            maxLength={4}
          />
          <TextField {...field("make")} label="Make" autoComplete="off" maxLength={60} />
          <TextField {...field("model")} label="Model" autoComplete="off" maxLength={60} required />
          <TextField {...field("trim")} label="Trim (optional)" autoComplete="off" maxLength={60} />
          <TextField
            {...field("nickname")}
            label="Nickname (optional)"
            autoComplete="off"
            maxLength={60}
          />
        </div>
        <OdometerUnitField
          {...field("unit")}
          hint="The unit its odometer reads in: every reading is recorded in it."
        />
        <div className="grid">
          <TextField
            {...field("price")}
            label={`Purchase price (optional, ${f.currency})`}
            autoComplete="off"
            inputMode="decimal"
          />
          <SelectField {...field("currency")} label="Currency" options={options} />
        </div>
        <GeneralErrors errors={general} />
        <div className="actions">
          {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it waits. */}
          <button type="submit" className="primary" aria-disabled={busy || undefined}>
            {busy ? "Registering…" : "Register"}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * The vehicles the list answered, plus those registered on this page that it does not show yet (the list is
 * a read model the bus updates a moment after the registration: in AWS mode up to seconds later).
 */
export function withRegistered(
  listed: readonly Vehicle[],
  registered: readonly Registered[],
): Vehicle[] {
  const ids = new Set(listed.map((v) => v.id));
  const extra = registered
    .filter((v) => !ids.has(v.id))
    .map((v) => ({ ...v, eventCount: 0 }) as Vehicle);
  return [...listed, ...extra];
}

/** The empty state of an organisation without vehicles: the way forward, or who can take it. */
export function NoVehiclesYet({ onRegistered }: { onRegistered: (vehicle: Registered) => void }) {
  const { session } = useApi();
  return (
    <div className="empty-register">
      <p className="empty">No vehicles are registered in this organisation yet.</p>
      {mayRegisterVehicles(session.roles) ? (
        <>
          <p>Register one with its VIN to start its history.</p>
          <RegisterVehicleButton onRegistered={onRegistered} />
        </>
      ) : (
        <p className="muted">An owner or a fleet manager can register one.</p>
      )}
    </div>
  );
}

/**
 * The vehicle page's side of registering: the vehicles to list (`withRegistered`) and what a registration
 * does — the vehicle is listed at once, the list is read again, its page opens (`#/vehicles/{id}`) and
 * focus moves to the picker.
 */
export function useRegistering(listed: readonly Vehicle[] | undefined, reload: () => void) {
  const [registered, setRegistered] = useState<Registered[]>([]);
  // Focus goes to the picker, which now lists the vehicle (the empty state's button is gone by then).
  useEffect(() => {
    if (registered.length) document.getElementById("vehicle-picker")?.focus();
  }, [registered]);
  const onRegistered = useCallback(
    (v: Registered) => {
      setRegistered((r) => [...r, v]);
      reload();
      window.location.hash = `#/vehicles/${encodeURIComponent(v.id)}`;
    },
    [reload],
  );
  const vehicles = useMemo(() => withRegistered(listed ?? [], registered), [listed, registered]);
  const registeredIds = useMemo(() => new Set(registered.map((v) => v.id)), [registered]);
  return { vehicles, onRegistered, registeredIds };
}
