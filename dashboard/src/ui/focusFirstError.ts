import { useCallback, useEffect, useState, type RefObject } from "react";

/**
 * Moves focus to the first field marked invalid (`aria-invalid="true"`) in `container`, once the errors set
 * alongside the request have rendered. Call the function it returns in the same tick as the `setErrors`
 * (before or after an `await`): the request is a state update batched with the errors, so the effect runs
 * after the render that marks the fields — a `setTimeout` can run before React renders errors that arrive
 * after an `await`, and finds no field marked. Nothing is marked (an error for the whole form): focus stays.
 */
export function useFocusFirstError(container: RefObject<HTMLElement | null>): () => void {
  const [requested, setRequested] = useState(0);
  useEffect(() => {
    if (requested) container.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [requested, container]);
  return useCallback(() => setRequested((n) => n + 1), []);
}
