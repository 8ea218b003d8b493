import { useMemo, useState, type ReactNode } from "react";
import { qs } from "../api/client";
import { useApi } from "../api/context";
import type { CostGroup, FleetCosts, FleetOverview, FleetRow, Page } from "../api/types";
import { useQuery } from "../api/useQuery";
import { formatAmounts, formatDistance, formatRate, type Amount } from "../format";
import { Empty, ErrorText, Loading } from "../ui/Feedback";
import { vehicleName } from "../vehicle/VehiclePage";
import { CostChart } from "./CostChart";
import { lastMonths, monthBars, monthRange } from "./costs";

export const FLEET_PAGE_SIZE = 25;

/** A total not read yet ("…"), or "Unavailable" once its read has failed (the error shows below). */
function pending(error: unknown): ReactNode {
  return error ? <span className="muted">Unavailable</span> : "…";
}

/** An error as the page says it (the same sentence `ErrorText` shows). */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
type SortKey =
  "vehicle" | "odometer" | "dueSoon" | "overdue" | "value" | "cost" | "costPerDistance";

/** Kilometres in a mile (the international mile, exactly): the only conversion the page makes. */
export const KM_PER_MILE = 1.609344;

export function toKm(value: number, unit: string): number {
  return unit === "mi" ? value * KM_PER_MILE : value;
}

export interface Row {
  row: FleetRow;
  name: string;
  /** The vehicle's distance unit (its odometer reading's, else the one it was registered with). */
  unit: string;
  /** Lifetime cost, one amount per currency (none: no costs): the row's `lifetimeCost` (`lifetimeCosts`). */
  costs: Amount[];
  /** Cost per `unit` per currency, in cents; undefined without an odometer reading. */
  perDistance?: Amount[];
}

/**
 * Amounts in several currencies compared currency by currency, in `currencies`' order (a currency a row has
 * no amount in counts as `missing`): amounts in different currencies are never compared with each other.
 */
function compareAmounts(
  a: readonly Amount[],
  b: readonly Amount[],
  currencies: readonly string[],
  missing: number,
): number {
  for (const c of currencies) {
    const va = a.find((x) => x.currency === c)?.cents ?? missing;
    const vb = b.find((x) => x.currency === c)?.cents ?? missing;
    if (va !== vb) return va - vb;
  }
  return 0;
}

/** A row's cost per kilometre, per currency (miles converted), so that rows in km and mi compare. */
function perKm(r: Row): Amount[] | undefined {
  return r.perDistance?.map((a) => ({ currency: a.currency, cents: a.cents / toKm(1, r.unit) }));
}

/**
 * The vehicle's current value as an amount (none before the valuation service has one): the API's row
 * carries the value its vehicle page shows, so the page reads no valuation of its own.
 */
export function valueAmounts(r: Row): Amount[] {
  const v = r.row.currentValue;
  return v ? [{ currency: v.currency, cents: v.amountCents }] : [];
}

/**
 * The vehicle's lifetime cost, one amount per currency, by currency code, as its fleet row carries it:
 * everything paid for it — every cost recorded and not voided, an acquisition record's cost as its purchase —
 * plus the purchase price given at registration when no acquisition record carries a cost
 * (`purchaseRecorded`), summed by the server. So the page reads no cost or timeline of its own per vehicle.
 */
export function lifetimeCosts(row: FleetRow): Amount[] {
  return (row.lifetimeCost ?? [])
    .map((c) => ({ currency: c.currency, cents: c.totalCents }))
    .sort((a, b) => a.currency.localeCompare(b.currency));
}

export function sortRows(rows: Row[], key: SortKey, ascending: boolean): Row[] {
  // Money compares currency by currency, the one most vehicles have first.
  const currencies = currencyOrder(rows.map((r) => (key === "value" ? valueAmounts(r) : r.costs)));
  const compare = (a: Row, b: Row): number => {
    switch (key) {
      case "vehicle": {
        const name = (r: Row) =>
          `${r.row.make} ${r.row.model} ${r.row.year} ${r.row.nickname ?? ""}`.toLowerCase();
        return name(a).localeCompare(name(b));
      }
      case "odometer": {
        // Distances compare in km whatever unit each vehicle reads in.
        const km = (r: Row) =>
          r.row.odometer ? toKm(r.row.odometer.value, r.row.odometer.unit) : -1;
        return km(a) - km(b);
      }
      case "dueSoon":
        return a.row.dueSoon - b.row.dueSoon;
      case "overdue":
        return a.row.overdue - b.row.overdue;
      case "value":
        return compareAmounts(valueAmounts(a), valueAmounts(b), currencies, -1);
      case "cost":
        return compareAmounts(a.costs, b.costs, currencies, 0);
      case "costPerDistance":
        return compareAmounts(perKm(a) ?? [], perKm(b) ?? [], currencies, -1);
    }
  };
  const sorted = rows.slice().sort((a, b) => compare(a, b) || a.name.localeCompare(b.name));
  return ascending ? sorted : sorted.reverse();
}

/** The currencies of these amounts, the one most rows have first (then by code). */
export function currencyOrder(lists: readonly (readonly Amount[])[]): string[] {
  const count = new Map<string, number>();
  for (const list of lists)
    for (const a of list) count.set(a.currency, (count.get(a.currency) ?? 0) + 1);
  return [...count.keys()].sort((a, b) => count.get(b)! - count.get(a)! || a.localeCompare(b));
}

export interface FleetPerDistance {
  /** The unit of `amounts`: the vehicles' one unit, or km when they read in both. */
  unit: string;
  /** Whether miles were converted to km (the vehicles read in both units). */
  converted: boolean;
  /** The distance the costs are divided by, in `unit`. */
  distance: number;
  /** Cents per `unit`, per currency. */
  amounts: Amount[];
}

/**
 * The fleet's lifetime cost per distance over the vehicles with an odometer reading: each currency's costs
 * ÷ the distance of the vehicles with costs in it (or with none at all). In the vehicles' unit when they
 * share one; in km, miles converted at 1 mi = 1.609344 km, when they do not.
 */
export function fleetPerDistance(rows: readonly Row[]): FleetPerDistance {
  const read = rows.filter((r) => r.row.odometer?.value);
  const units = [...new Set(read.map((r) => r.unit))];
  const converted = units.length > 1;
  const unit = converted ? "km" : (units[0] ?? rows[0]?.unit ?? "mi");
  const dist = (r: Row) => {
    const v = r.row.odometer!.value;
    return converted ? toKm(v, r.unit) : v;
  };
  const cost = new Map<string, number>();
  const distance = new Map<string, number>();
  const currencies = currencyOrder(read.map((r) => r.costs));
  for (const r of read) {
    for (const c of currencies) {
      const amount = r.costs.find((a) => a.currency === c);
      if (!amount && r.costs.length) continue;
      cost.set(c, (cost.get(c) ?? 0) + (amount?.cents ?? 0));
      distance.set(c, (distance.get(c) ?? 0) + dist(r));
    }
  }
  return {
    unit,
    converted,
    distance: read.reduce((d, r) => d + dist(r), 0),
    amounts: currencies
      .filter((c) => distance.get(c))
      .map((c) => ({ currency: c, cents: cost.get(c)! / distance.get(c)! })),
  };
}

export function FleetPage() {
  const { api, session } = useApi();
  const [sort, setSort] = useState<{ key: SortKey; ascending: boolean }>({
    key: "overdue",
    ascending: false,
  });
  const [page, setPage] = useState(0);

  // Every page of the fleet (each row with its lifetime cost), so sorting covers all vehicles, not only the
  // first page.
  const fleet = useQuery(`fleet:${session.org}`, async (signal) => {
    let totals: FleetOverview["totals"] | undefined;
    const items = await everyItem<FleetRow>(
      async (path) => {
        const page = await api.json<FleetOverview>(path, { signal });
        // The whole fleet's totals (its value per currency), the same on every page.
        totals ??= page.totals;
        return page;
      },
      "/v1/fleet/overview",
      {},
    );
    return { items, totals };
  });
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

  // The lifetime costs come with the fleet's rows.
  const costsRead = fleet.data !== undefined;
  const costsError = fleet.error;

  const rows = useMemo<Row[]>(() => {
    return (fleet.data?.items ?? []).map((row) => {
      const costs = lifetimeCosts(row);
      const odo = row.odometer?.value;
      return {
        row,
        name: vehicleName(row),
        unit: row.odometer?.unit ?? row.odometerUnit,
        costs,
        perDistance: odo
          ? costs.map((a) => ({ currency: a.currency, cents: a.cents / odo }))
          : undefined,
      };
    });
  }, [fleet.data]);

  const currencies = useMemo(() => currencyOrder(rows.map((r) => r.costs)), [rows]);
  const sorted = useMemo(() => sortRows(rows, sort.key, sort.ascending), [rows, sort]);
  const pages = Math.max(1, Math.ceil(sorted.length / FLEET_PAGE_SIZE));
  const current = Math.min(page, pages - 1);
  const visible = sorted.slice(current * FLEET_PAGE_SIZE, (current + 1) * FLEET_PAGE_SIZE);
  const totals = rows.reduce(
    (t, r) => ({
      dueSoon: t.dueSoon + r.row.dueSoon,
      overdue: t.overdue + r.row.overdue,
      // A vehicle with three items overdue is three items and one vehicle that needs attention.
      vehiclesOverdue: t.vehiclesOverdue + (r.row.overdue > 0 ? 1 : 0),
    }),
    { dueSoon: 0, overdue: 0, vehiclesOverdue: 0 },
  );
  // The rows' costs summed: the vehicles in the fleet, as every other total here (the API's cost totals
  // also hold what sold and archived vehicles cost while they were in it: the chart shows those).
  const costTotals: Amount[] = currencies.map((c) => ({
    currency: c,
    cents: rows.reduce((s, r) => s + (r.costs.find((a) => a.currency === c)?.cents ?? 0), 0),
  }));
  // The fleet's current value: the API's total, which is the rows' values summed per currency.
  const valueTotals: Amount[] | undefined = fleet.data?.totals?.value?.map((v) => ({
    currency: v.currency,
    cents: v.totalCents,
  }));
  const perDistance = fleetPerDistance(rows);
  // One unit across the fleet: the column says it once; else each cell says its vehicle's own.
  const units = new Set(rows.map((r) => r.unit));
  const oneUnit = units.size <= 1 ? (rows[0]?.unit ?? "mi") : undefined;
  // The chart: one per currency the last 12 months have costs in (amounts are never added across them).
  const chartCurrencies = chart.data
    ? [
        ...new Set(
          Object.values(chart.data.byMonth)
            .flat()
            .map((g) => g.currency),
        ),
      ].sort()
    : [];
  const reloadFleet = () => fleet.reload();
  // The read the totals and the table come from; the chart's is its own. When both fail for the same
  // reason (the server is down), it is said once, and its "Try again" reads everything again.
  const fleetError = fleet.error;
  const sameFailure =
    fleetError !== undefined &&
    chart.error !== undefined &&
    errorText(fleetError) === errorText(chart.error);
  const reloadAll = () => {
    reloadFleet();
    chart.reload();
  };

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
          <dd data-testid="fleet-vehicles">{fleet.data ? rows.length : pending(fleet.error)}</dd>
        </div>
        <div>
          <dt>Items due soon</dt>
          <dd data-testid="fleet-due-soon">{fleet.data ? totals.dueSoon : pending(fleet.error)}</dd>
        </div>
        <div>
          <dt>Items overdue</dt>
          <dd data-testid="fleet-overdue">{fleet.data ? totals.overdue : pending(fleet.error)}</dd>
        </div>
        <div>
          <dt>Vehicles with items overdue</dt>
          <dd data-testid="fleet-vehicles-overdue">
            {fleet.data ? totals.vehiclesOverdue : pending(fleet.error)}
          </dd>
        </div>
        <div>
          <dt>Current value</dt>
          <dd
            data-testid="fleet-value"
            title="The sum of the vehicles' current values, as each vehicle's page shows it"
          >
            {fleet.data ? formatAmounts(valueTotals ?? [], true) : pending(fleet.error)}
          </dd>
        </div>
        <div>
          <dt>Lifetime cost (incl. purchase)</dt>
          <dd
            data-testid="fleet-cost"
            title="Per currency: every cost recorded (an acquisition record's cost is the purchase), plus the purchase price given at registration of each vehicle without an acquisition record"
          >
            {costsRead ? formatAmounts(costTotals, true, "None recorded") : pending(costsError)}
          </dd>
        </div>
        <div>
          <dt>
            Cost per {rows.length ? perDistance.unit : "distance"}
            {perDistance.converted ? " (miles converted)" : ""}
          </dt>
          <dd
            data-testid="fleet-cost-per-distance"
            title={`Lifetime cost ÷ the odometers of the vehicles with a reading (${formatDistance(Math.round(perDistance.distance), perDistance.unit)})${perDistance.converted ? "; the vehicles read in miles and in km: miles are converted at 1 mi = 1.609344 km" : ""}`}
          >
            {costsRead
              ? formatAmounts(perDistance.amounts, false, "—", (a) =>
                  formatRate(a.cents, a.currency),
                )
              : pending(costsError)}
          </dd>
        </div>
      </dl>
      <p className="muted small" data-testid="fleet-totals-scope">
        Every figure above and in the table covers the vehicles in the fleet now: sold and archived
        vehicles are left out (what they cost while in the fleet stays in the chart below). Values
        are each vehicle&apos;s current value, as its own page shows it. Lifetime costs are per
        currency, the purchase included: an acquisition record&apos;s cost, else the price given at
        registration.
      </p>
      {/* The totals and the table come from the same reads: a failure is said here, with "Try again". */}
      {fleetError !== undefined && (
        <ErrorText error={fleetError} onRetry={sameFailure ? reloadAll : reloadFleet} />
      )}

      <section className="card" aria-labelledby="costs-title">
        <h2 id="costs-title">Costs by month and kind (last 12 months)</h2>
        {chart.loading && <Loading label="Loading costs…" />}
        {/* The same failure as the totals' is said once, above. */}
        {sameFailure ? (
          <p className="muted">Unavailable.</p>
        ) : (
          <ErrorText error={chart.error} onRetry={chart.reload} />
        )}
        {chart.data &&
          (chartCurrencies.length ? chartCurrencies : ["USD"]).map((c) => (
            <CostChart
              key={c}
              bars={monthBars(chart.data!.months, chart.data!.byMonth, c)}
              currency={c}
              titled={chartCurrencies.length > 1}
            />
          ))}
      </section>

      <section className="card" aria-labelledby="vehicles-title">
        <h2 id="vehicles-title">Vehicles</h2>
        {fleet.loading && <Loading label="Loading the fleet…" />}
        {/* Its failure is said once, above the totals (with "Try again"), which the same reads fill. */}
        {fleetError !== undefined && <p className="muted">Unavailable.</p>}
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
                    {header("value", "Value", true)}
                    {header("cost", "Lifetime cost", true)}
                    {header(
                      "costPerDistance",
                      oneUnit ? `Cost per ${oneUnit}` : "Cost per distance",
                      true,
                    )}
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
                      <td className="num">{formatAmounts(valueAmounts(r), true)}</td>
                      <td className="num">
                        {costsRead ? formatAmounts(r.costs, true) : pending(costsError)}
                      </td>
                      <td className="num">
                        {r.perDistance?.length
                          ? r.perDistance
                              .map(
                                (a) =>
                                  `${formatRate(a.cents, a.currency)}${oneUnit ? "" : `/${r.unit}`}`,
                              )
                              .join(" · ")
                          : "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {/* aria-disabled, not disabled: "Next" on the last page (or "Previous" on the first) keeps focus,
                and the new page is announced. */}
            <nav className="pager" aria-label="Fleet pages">
              <button
                type="button"
                aria-disabled={current === 0 || undefined}
                onClick={() => current > 0 && setPage(current - 1)}
              >
                Previous
              </button>
              <span role="status" aria-live="polite">
                Page {current + 1} of {pages} · {sorted.length}{" "}
                {sorted.length === 1 ? "vehicle" : "vehicles"}
              </span>
              <button
                type="button"
                aria-disabled={current >= pages - 1 || undefined}
                onClick={() => current < pages - 1 && setPage(current + 1)}
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
