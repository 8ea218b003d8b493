import { useCallback, useEffect, useState, type RefObject } from "react";

/**
 * Moves focus to the first field marked invalid (`aria-invalid="true"`) in `container`, once the errors set
 * alongside the request have rendered. Call the function it returns in the same tick as the `setErrors`
 * (before or after an `await`): the request is a state update batched with the errors, so the effect runs
 * after the render that marks the fields — a `setTimeout` can run before React renders errors that arrive
 * after an `await`, and finds no field marked. Nothing is marked (an error for the whole form): focus stays —
 * or, with `orFirstField`, goes to the container's first field (a form shown again, e.g. a dialog's step).
 */
export function useFocusFirstError(
  container: RefObject<HTMLElement | null>,
  { orFirstField = false }: { orFirstField?: boolean } = {},
): () => void {
  const [requested, setRequested] = useState(0);
  useEffect(() => {
    if (!requested) return;
    const c = container.current;
    (
      c?.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      (orFirstField ? c?.querySelector<HTMLElement>("input, select, textarea") : null)
    )?.focus();
  }, [requested, container, orFirstField]);
  return useCallback(() => setRequested((n) => n + 1), []);
}
