import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/**
 * An error as a sentence, with "Try again" when `onRetry` is given (not after a 401: that one returns to
 * sign-in).
 */
export function ErrorText({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const retry = onRetry && !(error instanceof ApiError && error.status === 401);
  if (!retry)
    return (
      <p className="error" role="alert">
        {message}
      </p>
    );
  return (
    <div className="error-retry">
      <p className="error" role="alert">
        {message}
      </p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}

/** A form's errors that belong to no one field, one item each (nothing when there are none). */
export function GeneralErrors({ errors }: { errors: readonly string[] }) {
  if (!errors.length) return null;
  return (
    <ul className="error" role="alert">
      {errors.map((g) => (
        <li key={g}>{g}</li>
      ))}
    </ul>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
