import { useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from "react";

/**
 * A form of one line of text and its button: the button says it is disabled while the line is blank (or
 * `busy`) and does nothing then, and a submit hands over the trimmed text and clears the line. It is
 * `aria-disabled`, not `disabled`: a focused button that becomes disabled drops focus to <body>. The sign-in page's paste-a-token box and the
 * chat's question box.
 */
export function LineForm({
  label,
  hideLabel = false,
  button,
  buttonClass,
  busy = false,
  onSubmit,
  input,
  children,
  ...form
}: {
  label: ReactNode;
  /** Keep the label for screen readers only (the placeholder and the context say it on screen). */
  hideLabel?: boolean;
  button: string;
  buttonClass?: string;
  busy?: boolean;
  onSubmit: (text: string) => void;
  /** More attributes for the input (name, placeholder, maxLength). */
  input?: InputHTMLAttributes<HTMLInputElement>;
  /** Shown above the line (a heading). */
  children?: ReactNode;
  className?: string;
  "aria-label"?: string;
}) {
  const [text, setText] = useState("");
  const blank = !text.trim();

  function submit(e: FormEvent) {
    e.preventDefault();
    if (blank || busy) return;
    onSubmit(text.trim());
    setText("");
  }

  return (
    <form {...form} onSubmit={submit}>
      {children}
      <label>
        <span className={hideLabel ? "visually-hidden" : undefined}>{label}</span>
        <input
          {...input}
          value={text}
          onChange={(e) => setText(e.target.value)}
          autoComplete="off"
        />
      </label>
      <button type="submit" className={buttonClass} aria-disabled={busy || blank || undefined}>
        {button}
      </button>
    </form>
  );
}
