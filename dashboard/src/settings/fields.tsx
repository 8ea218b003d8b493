// What the registration dialog, the vehicle's dialogs and the settings page share: field errors from a 422
// mapped onto the form's own fields, and copying a secret link to the clipboard (the fields themselves are
// ui/Field's).
import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { Field, fieldAttrs } from "../ui/Field";

export type FieldErrors = Record<string, string>;

/** `must be …` → `Must be ….` */
export function sentence(s: string): string {
  const t = s.trim();
  const u = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(u) ? u : `${u}.`;
}

/**
 * A failed write as the form shows it: each of the problem's field errors beside the form field `fieldFor`
 * maps it to (in the words `say` gives it), and what no field takes as sentences for the form (the whole
 * message when the problem names no field).
 */
export function formErrors(
  err: unknown,
  fieldFor: (apiField: string) => string | undefined,
  say: (apiField: string, message: string) => string = (_f, m) => sentence(m),
): { fields: FieldErrors; general: string[] } {
  if (!(err instanceof ApiError)) {
    return { fields: {}, general: [err instanceof Error ? err.message : String(err)] };
  }
  const fields: FieldErrors = {};
  const general: string[] = [];
  for (const fe of err.problem?.errors ?? []) {
    const field = fieldFor(fe.field);
    const message = say(fe.field, fe.message);
    if (field && !fields[field]) fields[field] = message;
    else if (!field) general.push(message);
  }
  if (!Object.keys(fields).length && !general.length) general.push(err.message);
  return { fields, general };
}

/**
 * Puts `text` on the clipboard: the Clipboard API where the page may use it, else the old way, selecting
 * the `fallback` input's text and `execCommand("copy")`. Answers whether it worked.
 */
export async function copyText(text: string, fallback?: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (no permission, not a secure context): try the old way.
  }
  if (!fallback) return false;
  fallback.focus();
  fallback.select();
  try {
    return typeof document.execCommand === "function" && document.execCommand("copy");
  } catch {
    return false;
  }
}

/**
 * A read-only text (a secret link) with a "Copy" button and a polite status saying whether it was copied;
 * when copying fails the text is left selected for the person to copy.
 */
export function CopyField({
  prefix,
  name,
  label,
  value,
  button,
  hint,
}: {
  prefix: string;
  name: string;
  label: string;
  value: string;
  button: string;
  hint?: ReactNode;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [status, setStatus] = useState("");
  // A new value (a rotated link) is not the one that was copied.
  useEffect(() => setStatus(""), [value]);
  return (
    <Field prefix={prefix} name={name} label={label} hint={hint}>
      <div className="copy-row">
        <input
          ref={input}
          {...fieldAttrs(prefix, name, { hint })}
          className="mono"
          readOnly
          value={value}
          spellCheck={false}
          onFocus={(e) => e.target.select()}
        />
        <button
          type="button"
          onClick={() => {
            void copyText(value, input.current).then((ok) =>
              setStatus(
                ok
                  ? "Copied to the clipboard."
                  : "It could not be copied here: the text is selected, copy it with Ctrl+C (⌘C).",
              ),
            );
          }}
        >
          {button}
        </button>
      </div>
      <span className="copy-status small" role="status">
        {status}
      </span>
    </Field>
  );
}
