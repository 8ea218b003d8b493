import { ApiError, type Api } from "../api/client";
import { useApi } from "../api/context";
import type { Page, Valuation } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatMoney } from "../format";

/** A vehicle's latest valuation; `null` when it has none yet (an empty history or a 404). */
export function latestValue(
  api: Api,
  vehicleId: string,
  signal?: AbortSignal,
): Promise<Valuation | null> {
  return api
    .json<Page<Valuation>>(`/v1/vehicles/${encodeURIComponent(vehicleId)}/valuations?limit=1`, {
      signal,
    })
    .then(
      (p) => p.items[0] ?? null,
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      },
    );
}

/**
 * A vehicle's latest valuation, loaded for the rows on screen only ("—" until the valuation service has
 * one), or `known` when the page has read it already (to sort by value).
 */
export function VehicleValue({
  vehicleId,
  known,
}: {
  vehicleId: string;
  known?: Valuation | null;
}) {
  const { api } = useApi();
  const q = useQuery(known === undefined ? `value:${vehicleId}` : null, (signal) =>
    latestValue(api, vehicleId, signal),
  );
  if (q.loading) return <span className="muted">…</span>;
  if (q.error)
    return (
      <span className="muted" title={q.error instanceof Error ? q.error.message : undefined}>
        unavailable
      </span>
    );
  const v = known === undefined ? q.data : known;
  if (!v || v.amountCents === undefined) return <span className="muted">—</span>;
  return <>{formatMoney(v.amountCents, v.currency ?? "USD", true)}</>;
}
