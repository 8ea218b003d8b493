// The forms' labelled fields: a label, its control and the control's help — a hint, a warning (said, does
// not block) and an error — each help line named by the control's `aria-describedby`, the error first (it is
// what needs doing). Ids: a form's fields share a prefix (its `useId`): the control is `{prefix}-{name}`,
// its help `{prefix}-{name}-hint|-warning|-error`; an error marks the control `aria-invalid`, which is what
// `useFocusFirstError` looks for.
import type { ComponentProps, Dispatch, ReactNode, SetStateAction } from "react";

/** What a field says under its control. */
export interface FieldHelp {
  error?: string;
  warning?: string;
  hint?: ReactNode;
}

/** A field of a form: the form's id prefix, the field's name and its help. */
export interface FieldPlace extends FieldHelp {
  prefix: string;
  name: string;
}

/** An `aria-describedby` of the ids given, or none. */
export function describedBy(...ids: (string | false | undefined | null)[]): string | undefined {
  return ids.filter(Boolean).join(" ") || undefined;
}

/** The ids and attributes of one field's control, in a form whose ids start with `prefix`. */
export function fieldAttrs(prefix: string, name: string, help: FieldHelp) {
  return {
    id: `${prefix}-${name}`,
    name,
    "aria-invalid": help.error ? true : undefined,
    "aria-describedby": describedBy(
      help.error && `${prefix}-${name}-error`,
      help.warning && `${prefix}-${name}-warning`,
      help.hint ? `${prefix}-${name}-hint` : undefined,
    ),
  } as const;
}

/** A field's help lines (hint, warning, error), each with the id `fieldAttrs` names. */
export function FieldNotes({ prefix, name, error, warning, hint }: FieldPlace) {
  return (
    <>
      {hint && (
        <span className="hint" id={`${prefix}-${name}-hint`}>
          {hint}
        </span>
      )}
      {warning && (
        <span className="field-warning" id={`${prefix}-${name}-warning`}>
          {warning}
        </span>
      )}
      {error && (
        <span className="field-error" id={`${prefix}-${name}-error`} role="alert">
          {error}
        </span>
      )}
    </>
  );
}

/** A label, the control given as `children` (with `fieldAttrs`' id) and its help. */
export function Field({
  label,
  children,
  ...place
}: FieldPlace & { label: ReactNode; children: ReactNode }) {
  return (
    <div className={`field${place.error ? " invalid" : ""}`}>
      <label htmlFor={`${place.prefix}-${place.name}`}>{label}</label>
      {children}
      <FieldNotes {...place} />
    </div>
  );
}

/** A field's value and what changes it (`bindFields` gives both with the field's place). */
interface Bound<V> {
  value: V;
  onValue?: (value: V) => void;
}

/** A field of `element`: its place, label, value, and the element's other attributes. */
type FieldProps<V, E extends "input" | "textarea" | "select"> = FieldPlace &
  Bound<V> & { label: ReactNode } & Omit<ComponentProps<E>, "id" | "name" | "value">;

/** A field's props apart: its place (and help), label, value, setter, and the control's own attributes. */
function apart<P extends FieldPlace & { label: ReactNode; value: unknown; onValue?: unknown }>(
  props: P,
) {
  const { prefix, name, error, warning, hint, label, value, onValue, ...control } = props;
  const place = { prefix, name, error, warning, hint };
  return {
    place,
    label,
    // What destructuring a generic object loses: these are the props' own types.
    value: value as P["value"],
    onValue: onValue as P["onValue"],
    control,
    attrs: fieldAttrs(prefix, name, place),
  };
}

/**
 * A labelled text input (any `type` but checkbox and radio). Its other attributes pass through; an
 * `onChange` given replaces `onValue` (a field that reworks what is typed).
 */
export function TextField(props: FieldProps<string, "input">) {
  const { place, label, value, onValue, control, attrs } = apart(props);
  return (
    <Field label={label} {...place}>
      <input {...attrs} value={value} onChange={(e) => onValue?.(e.target.value)} {...control} />
    </Field>
  );
}

/** A labelled multi-line text. */
export function TextAreaField(props: FieldProps<string, "textarea">) {
  const { place, label, value, onValue, control, attrs } = apart(props);
  return (
    <Field label={label} {...place}>
      <textarea {...attrs} value={value} onChange={(e) => onValue?.(e.target.value)} {...control} />
    </Field>
  );
}

/** A choice of a select: a text that is its own value, or a value and what it is called. */
export type SelectOption<V extends string = string> = V | { value: V; label: ReactNode };

/** A labelled select of `options`. */
export function SelectField<V extends string>({
  options,
  ...props
}: FieldProps<V, "select"> & { options: readonly SelectOption<V>[] }) {
  const { place, label, value, onValue, control, attrs } = apart(props);
  return (
    <Field label={label} {...place}>
      {/* The value is one of the options'. */}
      <select
        {...attrs}
        value={value}
        onChange={(e) => onValue?.(e.target.value as V)}
        {...control}
      >
        {options.map((o) =>
          typeof o === "string" ? (
            <option key={o}>{o}</option>
          ) : (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ),
        )}
      </select>
    </Field>
  );
}

/** A checkbox or radio button inside its label (`type` checkbox unless given). */
export function Check({ label, ...input }: { label: ReactNode } & ComponentProps<"input">) {
  return (
    <label className="check">
      <input type="checkbox" {...input} />
      {label}
    </label>
  );
}

/** A checkbox field: the box inside its label, then its help (its error marks the box). */
export function CheckField(props: Omit<FieldProps<boolean, "input">, "checked" | "type">) {
  const { place, label, value, onValue, control, attrs } = apart(props);
  return (
    <div className={`field${place.error ? " invalid" : ""}`}>
      <Check
        label={label}
        {...attrs}
        checked={value}
        onChange={(e) => onValue?.(e.target.checked)}
        {...control}
      />
      <FieldNotes {...place} />
    </div>
  );
}

/**
 * A choice of one of `options` as radio buttons, grouped under `legend` (the fieldset is described by the
 * help; an error marks each button, so that focus can go to the first).
 */
export function RadioField<V extends string>({
  legend,
  options,
  className,
  ...props
}: Omit<FieldProps<V, "input">, "label"> & {
  legend: ReactNode;
  options: readonly { value: V; label: ReactNode }[];
  className: string;
}) {
  const { place, value, onValue, attrs } = apart({ ...props, label: legend });
  return (
    <fieldset
      className={`${className}${place.error ? " invalid" : ""}`}
      aria-describedby={attrs["aria-describedby"]}
    >
      <legend>{legend}</legend>
      {options.map((o) => (
        <Check
          key={o.value}
          type="radio"
          name={place.name}
          value={o.value}
          label={o.label}
          checked={value === o.value}
          aria-invalid={attrs["aria-invalid"]}
          onChange={() => onValue?.(o.value)}
        />
      ))}
      <FieldNotes {...place} />
    </fieldset>
  );
}

/**
 * A form's values, how one changes (`set`, or `update`, the state's setter, for a form that does nothing
 * more), and its fields' help, by field name.
 */
export type FormFields<F> = {
  /** The form's `useId`. */
  prefix: string;
  values: F;
  errors: Readonly<Record<string, string>>;
  /** The errors' setter: a field's error goes as soon as that field is changed (`withoutError`). */
  setErrors?: Dispatch<SetStateAction<Record<string, string>>>;
  hints?: Partial<Record<keyof F, ReactNode>>;
  warnings?: Partial<Record<keyof F, string>>;
  /**
   * Errors about more than one field (quiet hours that end when they start): `linked[name]` are the other
   * fields the error shown under `name` is about. It goes when any of them is changed too, not only its own.
   */
  linked?: Partial<Record<keyof F, readonly (keyof F)[]>>;
} & (
  | { set: <K extends keyof F>(name: K, value: F[K]) => void }
  | { update: Dispatch<SetStateAction<F>> }
);

/**
 * The fields of one form: `field(name)` is that field's place, help, value and setter, to spread into a
 * `TextField`, `SelectField`, `CheckField`… with what only it says (its label, its input's attributes).
 */
export function bindFields<F extends object>(form: FormFields<F>) {
  const set = "set" in form ? form.set : fieldSetter(form.update);
  return <K extends keyof F & string>(name: K) => ({
    prefix: form.prefix,
    name,
    error: form.errors[name],
    warning: form.warnings?.[name],
    hint: form.hints?.[name],
    value: form.values[name],
    onValue: (value: F[K]) => {
      set(name, value);
      form.setErrors?.((errors) => withoutErrors(errors, [name, ...linkedTo(form.linked, name)]));
    },
  });
}

/** The fields whose errors (`linked`, as `FormFields` has it) are also about `name`. */
export function linkedTo<F>(
  linked: Partial<Record<keyof F, readonly (keyof F)[]>> | undefined,
  name: keyof F,
): string[] {
  if (!linked) return [];
  return (Object.keys(linked) as (keyof F & string)[]).filter((k) => linked[k]?.includes(name));
}

/** The errors less those about any of `names` (the same object when there are none). */
export function withoutErrors<E extends Readonly<Record<string, string>>>(
  errors: E,
  names: readonly string[],
): E {
  return names.reduce((e, n) => withoutError(e, n), errors);
}

/**
 * The errors less the one about `name` — what a form shows once that field is changed: the error was about
 * what it held before. The same object when it has none (nothing renders again).
 */
export function withoutError<E extends Readonly<Record<string, string>>>(
  errors: E,
  name: string,
): E {
  if (!(name in errors)) return errors;
  const rest: Record<string, string> = { ...errors };
  delete rest[name];
  return rest as E;
}

/** A `set` for `bindFields` that changes one field of a form's state. */
export function fieldSetter<F>(setValues: Dispatch<SetStateAction<F>>) {
  return <K extends keyof F>(name: K, value: F[K]) =>
    setValues((cur) => ({ ...cur, [name]: value }));
}
