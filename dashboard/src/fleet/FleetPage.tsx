import { useMemo, useState } from "react";
import { qs } from "../api/client";
import { useApi } from "../api/context";
import type { CostGroup, FleetCosts, FleetOverview, FleetRow, Page } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatDistance, formatMoney } from "../format";
import { Empty, ErrorText, Loading } from "../ui/Feedback";
import { vehicleName } from "../vehicle/VehiclePage";
import { CostChart } from "./CostChart";
import { VehicleValue } from "./VehicleValue";
import { lastMonths, monthBars, monthRange } from "./costs";

export const FLEET_PAGE_SIZE = 25;

/** Every item of a paged route, 200 a request, following `nextCursor` to the last page. */
async function everyItem<T>(
  get: (path: string) => Promise<Page<T>>,
  path: string,
  params: Record<string, string>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await get(`${path}${qs({ ...params, limit: 200, cursor })}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}
type SortKey = "vehicle" | "odometer" | "dueSoon" | "overdue" | "cost" | "costPerDistance";

interface Row {
  row: FleetRow;
  name: string;
  costCents: number;
  perDistance?: number;
}

export function sortRows(rows: Row[], key: SortKey, ascending: boolean): Row[] {
  const value = (r: Row): number | string => {
    switch (key) {
      case "vehicle":
        return `${r.row.make} ${r.row.model} ${r.row.year} ${r.row.nickname ?? ""}`.toLowerCase();
      case "odometer":
        return r.row.odometer?.value ?? -1;
      case "dueSoon":
        return r.row.dueSoon;
      case "overdue":
        return r.row.overdue;
      case "cost":
        return r.costCents;
      case "costPerDistance":
        return r.perDistance ?? -1;
    }
  };
  const sorted = rows.slice().sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = typeof va === "string" ? va.localeCompare(vb as string) : va - (vb as number);
    return c || a.name.localeCompare(b.name);
  });
  return ascending ? sorted : sorted.reverse();
}

export function FleetPage() {
  const { api, session } = useApi();
  const [sort, setSort] = useState<{ key: SortKey; ascending: boolean }>({
    key: "overdue",
    ascending: false,
  });
  const [page, setPage] = useState(0);

  // Every page of the fleet and of its costs by vehicle, so sorting covers all vehicles, not only the
  // first page.
  const fleet = useQuery(`fleet:${session.org}`, (signal) =>
    everyItem((path) => api.json<FleetOverview>(path, { signal }), "/v1/fleet/overview", {}),
  );
  const byVehicle = useQuery(`costs-vehicle:${session.org}`, async (signal) => ({
    items: await everyItem((path) => api.json<FleetCosts>(path, { signal }), "/v1/fleet/costs", {
      groupBy: "vehicle",
    }),
  }));
  const thisMonth = new Date().toISOString().slice(0, 7);
  const chart = useQuery(`costs-months:${session.org}:${thisMonth}`, async (signal) => {
    const months = lastMonths(thisMonth, 12);
    const results = await Promise.all(
      months.map((m) =>
        api.json<FleetCosts>(`/v1/fleet/costs${qs({ groupBy: "kind", ...monthRange(m) })}`, {
          signal,
        }),
      ),
    );
    const byMonth: Record<string, CostGroup[]> = {};
    months.forEach((m, i) => (byMonth[m] = results[i]!.items));
    return { months, byMonth };
  });

  const currency = byVehicle.data?.items[0]?.currency ?? "USD";
  const rows = useMemo<Row[]>(() => {
    const cost = new Map<string, number>();
    for (const g of byVehicle.data?.items ?? []) {
      if (g.currency === currency) cost.set(g.key, (cost.get(g.key) ?? 0) + g.totalCents);
    }
    return (fleet.data ?? []).map((row) => {
      const costCents = cost.get(row.id) ?? 0;
      const odo = row.odometer?.value;
      return {
        row,
        name: vehicleName(row),
        costCents,
        perDistance: odo ? costCents / odo : undefined,
      };
    });
  }, [fleet.data, byVehicle.data, currency]);

  const sorted = useMemo(() => sortRows(rows, sort.key, sort.ascending), [rows, sort]);
  const pages = Math.max(1, Math.ceil(sorted.length / FLEET_PAGE_SIZE));
  const current = Math.min(page, pages - 1);
  const visible = sorted.slice(current * FLEET_PAGE_SIZE, (current + 1) * FLEET_PAGE_SIZE);
  const totals = rows.reduce(
    (t, r) => ({
      dueSoon: t.dueSoon + r.row.dueSoon,
      overdue: t.overdue + r.row.overdue,
      cost: t.cost + r.costCents,
      distance: t.distance + (r.row.odometer?.value ?? 0),
    }),
    { dueSoon: 0, overdue: 0, cost: 0, distance: 0 },
  );
  const unit = rows[0]?.row.odometerUnit ?? "mi";

  function header(key: SortKey, label: string, numeric = false) {
    const active = sort.key === key;
    return (
      <th
        scope="col"
        aria-sort={active ? (sort.ascending ? "ascending" : "descending") : "none"}
        className={numeric ? "num" : undefined}
      >
        <button
          type="button"
          className="sort"
          onClick={() => {
            setSort((s) => ({ key, ascending: s.key === key ? !s.ascending : !numeric }));
            setPage(0);
          }}
        >
          {label}
          <span aria-hidden="true">{active ? (sort.ascending ? " ▲" : " ▼") : ""}</span>
        </button>
      </th>
    );
  }

  return (
    <div className="fleet-page">
      <h1>Fleet</h1>
      <dl className="fleet-totals card" aria-label="Fleet totals">
        <div>
          <dt>Vehicles</dt>
          <dd data-testid="fleet-vehicles">{fleet.data ? rows.length : "…"}</dd>
        </div>
        <div>
          <dt>Items due soon</dt>
          <dd data-testid="fleet-due-soon">{fleet.data ? totals.dueSoon : "…"}</dd>
        </div>
        <div>
          <dt>Items overdue</dt>
          <dd data-testid="fleet-overdue">{fleet.data ? totals.overdue : "…"}</dd>
        </div>
        <div>
          <dt>Lifetime cost (incl. purchase)</dt>
          <dd>{byVehicle.data ? formatMoney(totals.cost, currency, true) : "…"}</dd>
        </div>
        <div>
          <dt>Cost per {unit}</dt>
          <dd title={`Lifetime cost ÷ odometer total (${formatDistance(totals.distance, unit)})`}>
            {byVehicle.data && totals.distance
              ? formatMoney(totals.cost / totals.distance, currency)
              : "—"}
          </dd>
        </div>
      </dl>

      <section className="card" aria-labelledby="costs-title">
        <h2 id="costs-title">Costs by month and kind (last 12 months)</h2>
        {chart.loading && <Loading label="Loading costs…" />}
        <ErrorText error={chart.error} />
        {chart.data && (
          <CostChart
            bars={monthBars(chart.data.months, chart.data.byMonth, currency)}
            currency={currency}
          />
        )}
      </section>

      <section className="card" aria-labelledby="vehicles-title">
        <h2 id="vehicles-title">Vehicles</h2>
        {fleet.loading && <Loading label="Loading the fleet…" />}
        <ErrorText error={fleet.error ?? byVehicle.error} />
        {fleet.data && rows.length === 0 && <Empty>No vehicles in this organisation yet.</Empty>}
        {rows.length > 0 && (
          <>
            <div className="table-wrap">
              <table className="fleet-table">
                <thead>
                  <tr>
                    {header("vehicle", "Vehicle")}
                    {header("odometer", "Odometer", true)}
                    {header("dueSoon", "Due soon", true)}
                    {header("overdue", "Overdue", true)}
                    <th scope="col" className="num">
                      Value
                    </th>
                    {header("cost", "Lifetime cost", true)}
                    {header("costPerDistance", `Cost per ${unit}`, true)}
                  </tr>
                </thead>
                <tbody>
                  {visible.map((r) => (
                    <tr key={r.row.id}>
                      <th scope="row">
                        <a href={`#/vehicles/${encodeURIComponent(r.row.id)}`}>{r.name}</a>
                        <span className="muted mono small"> {r.row.vin}</span>
                      </th>
                      <td className="num">
                        {r.row.odometer
                          ? formatDistance(r.row.odometer.value, r.row.odometer.unit)
                          : "—"}
                      </td>
                      <td className="num">
                        {r.row.dueSoon ? (
                          <span className="badge badge-due_soon">{r.row.dueSoon}</span>
                        ) : (
                          0
                        )}
                      </td>
                      <td className="num">
                        {r.row.overdue ? (
                          <span className="badge badge-overdue">{r.row.overdue}</span>
                        ) : (
                          0
                        )}
                      </td>
                      <td className="num">
                        <VehicleValue vehicleId={r.row.id} />
                      </td>
                      <td className="num">{formatMoney(r.costCents, currency, true)}</td>
                      <td className="num">
                        {r.perDistance !== undefined ? formatMoney(r.perDistance, currency) : "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <nav className="pager" aria-label="Fleet pages">
              <button type="button" disabled={current === 0} onClick={() => setPage(current - 1)}>
                Previous
              </button>
              <span>
                Page {current + 1} of {pages} · {sorted.length} vehicles
              </span>
              <button
                type="button"
                disabled={current >= pages - 1}
                onClick={() => setPage(current + 1)}
              >
                Next
              </button>
            </nav>
          </>
        )}
      </section>
    </div>
  );
}
