import { useId, useLayoutEffect, useRef, type ReactNode } from "react";

/**
 * A modal dialog (`<dialog>` opened with `showModal`, so the page behind it is inert and Tab stays inside).
 * On open, focus moves to the first field (or button) in its body, or to its heading (`initialFocus`), never
 * to the "×" that `showModal` itself focuses — while it is `loading`, to the dialog
 * itself, then to the first field once it has loaded; Escape, the close button and the browser's own cancel
 * all call `onClose` once. The title may hold elements (record text isolated in `<bdi>`).
 *
 * Closing is unmounting it. While a modal `<dialog>` is open the rest of the page is inert, so a `focus()`
 * the opener makes in its close handler (before React unmounts the dialog) does nothing. So the dialog
 * itself, as it unmounts, first closes (the page stops being inert) and then returns focus to the element
 * that had it when the dialog opened (its opener), if that is still on the page. An opener that wants focus
 * elsewhere (a row that moved, the picker after registering) moves it in an effect, which runs after this.
 */
export function Dialog({
  title,
  onClose,
  children,
  className,
  loading = false,
  initialFocus = "field",
}: {
  title: ReactNode;
  onClose: () => void;
  children: ReactNode;
  className?: string;
  /** Its body is still being read: focus waits on the dialog, then moves to the first field. */
  loading?: boolean;
  /** Where focus goes on open: the first field (or button) of the body, or the heading — for a dialog that
   * is read rather than filled in (a record's history, whose only button is "Close" at its end). */
  initialFocus?: "field" | "title";
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closed = useRef(false);
  const close = useRef(onClose);
  close.current = onClose;

  // A layout effect: its cleanup runs before React removes the <dialog> from the document, while closing it
  // still makes the page behind it focusable again.
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // jsdom (the unit tests) has no showModal: the dialog is then only marked open.
    if (typeof d.showModal === "function") {
      // showModal focuses the first focusable element itself — the "×" — which the effect below would take
      // for the person's own move and keep: the dialog holds focus until that effect places it.
      if (!d.open) d.showModal();
      d.focus();
    } else d.setAttribute("open", "");
    return () => {
      if (typeof d.close === "function" && d.open) d.close();
      else d.removeAttribute("open");
      // Focus still in the dialog (or dropped to <body>) goes back to the opener.
      const active = document.activeElement;
      const lost = !active || active === document.body || d.contains(active);
      if (lost && opener && opener !== d && opener.isConnected && !d.contains(opener))
        opener.focus();
    };
  }, []);

  // Also a layout effect: focus moves in the same commit that shows the body, so nothing (a key pressed, a
  // test's next line) sees the loaded form without its first field focused.
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    // Once loaded, the first field (or the heading) takes focus unless the person has moved it meanwhile
    // (to "Close").
    const active = document.activeElement;
    if (loading || (active && active !== d && d.contains(active))) {
      if (loading && !d.contains(active)) d.focus();
      return;
    }
    const first =
      initialFocus === "title"
        ? d.querySelector<HTMLElement>(".dialog-head h2")
        : d.querySelector<HTMLElement>(
            ".dialog-body input, .dialog-body select, .dialog-body textarea, .dialog-body button",
          );
    (first ?? d).focus();
  }, [loading, initialFocus]);

  const requestClose = () => {
    if (closed.current) return;
    closed.current = true;
    close.current();
  };

  return (
    <dialog
      ref={ref}
      className={`dialog${className ? ` ${className}` : ""}`}
      aria-labelledby={titleId}
      tabIndex={-1}
      onCancel={(e) => {
        e.preventDefault();
        requestClose();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          requestClose();
        }
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId} tabIndex={initialFocus === "title" ? -1 : undefined}>
          {title}
        </h2>
        <button
          type="button"
          className="dialog-close"
          aria-label="Close the dialog"
          onClick={requestClose}
        >
          <span aria-hidden="true">×</span>
        </button>
      </div>
      <div className="dialog-body" aria-busy={loading || undefined}>
        {children}
      </div>
    </dialog>
  );
}
