import { useApi } from "../api/context";
import type { Page, Valuation } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatMoney } from "../format";

/** A vehicle's latest valuation, loaded for the rows on screen only ("—" until the valuation service has one). */
export function VehicleValue({ vehicleId }: { vehicleId: string }) {
  const { api } = useApi();
  const q = useQuery(`value:${vehicleId}`, (signal) =>
    api
      .json<Page<Valuation>>(`/v1/vehicles/${encodeURIComponent(vehicleId)}/valuations`, { signal })
      .then((p) => p.items[0] ?? null)
      .catch(() => null),
  );
  if (q.loading) return <span className="muted">…</span>;
  const v = q.data;
  if (!v || v.amountCents === undefined) return <span className="muted">—</span>;
  return <>{formatMoney(v.amountCents, v.currency ?? "USD", true)}</>;
}
