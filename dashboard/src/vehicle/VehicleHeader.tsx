import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import type {
  FuelEconomy,
  MaintenanceItem,
  MaintenanceStatus,
  Overview,
  Valuation,
  ValuationFactor,
  Vehicle,
} from "../api/types";
import { formatAmounts, formatDate, formatDistance, formatMoney, humanize } from "../format";
import { ErrorText } from "../ui/Feedback";
import { StatusBadge } from "../ui/StatusBadge";
import "./actions.css";
import { vehicleName } from "./VehiclePage";

const URGENCY: Record<MaintenanceStatus, number> = { overdue: 0, due_soon: 1, ok: 2, unknown: 3 };

/** The items to show first: overdue, then due soon, then the rest, each by how soon they fall due. */
export function nextDue(items: readonly MaintenanceItem[], count = 6): MaintenanceItem[] {
  const when = (i: MaintenanceItem) => i.dueAt ?? i.projectedDueAt ?? "9999";
  return items
    .filter((i) => i.enabled !== false)
    .slice()
    .sort((a, b) => URGENCY[a.status] - URGENCY[b.status] || when(a).localeCompare(when(b)))
    .slice(0, count);
}

/** "27.7 mpg" or "6.7 L/100 km". */
export function economyText(fuel: FuelEconomy, value: number): string {
  return fuel.unit === "mpg" ? `${value.toFixed(1)} mpg` : `${value.toFixed(1)} L/100 km`;
}

function factorText(f: ValuationFactor, currency: string): string {
  const name = f.label ?? (f.name ? humanize(f.name) : "Factor");
  const cents = f.amountCents ?? f.effectCents;
  const amount =
    cents !== undefined
      ? ` ${cents >= 0 ? "+" : "−"}${formatMoney(Math.abs(cents), currency, true)}`
      : f.percent !== undefined
        ? ` ${f.percent >= 0 ? "+" : ""}${f.percent}%`
        : "";
  return `${name}${amount}${f.description ? ` (${f.description})` : ""}`;
}

/**
 * The current value, a button whose tooltip (on hover or focus) gives its method, date and factors. Escape
 * hides the tooltip until the pointer leaves or focus moves away (WCAG 1.4.13); a method given as a code
 * (`dealer_appraisal`) is humanised.
 */
function ValueTip({ valuation, currency }: { valuation: Valuation; currency: string }) {
  const tipId = useId();
  const wrap = useRef<HTMLSpanElement>(null);
  const [dismissed, setDismissed] = useState(false);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && wrap.current?.matches(":hover, :focus-within")) setDismissed(true);
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const reset = () => setDismissed(false);
  return (
    <span
      className="value-wrap"
      ref={wrap}
      onMouseLeave={reset}
      onBlur={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) reset();
      }}
    >
      <button type="button" className="value" aria-describedby={tipId}>
        {formatMoney(valuation.amountCents!, currency, true)}
      </button>
      <span role="tooltip" id={tipId} className="tooltip" hidden={dismissed}>
        {valuation.method ? humanize(valuation.method) : "Valuation"}
        {valuation.asOf ? ` as of ${formatDate(valuation.asOf)}` : ""}
        {valuation.factors?.length ? ":" : "."}
        {valuation.factors?.length ? (
          <ul>
            {valuation.factors.map((f, i) => (
              <li key={i}>{factorText(f, currency)}</li>
            ))}
          </ul>
        ) : null}
      </span>
    </span>
  );
}

/** "Sold on 2 Mar 2026 for $12,000", "Archived on 5 Jan 2026", or undefined for an active vehicle. */
export function retiredText(vehicle: Vehicle): string | undefined {
  const status = vehicle.status ?? "active";
  if (status === "active") return undefined;
  if (vehicle.sale)
    return `Sold on ${formatDate(vehicle.sale.soldAt)} for ${formatMoney(vehicle.sale.priceCents, vehicle.sale.currency, true)}`;
  if (vehicle.archivedAt) return `Archived on ${formatDate(vehicle.archivedAt)}`;
  return status === "sold" ? "Sold" : "Archived";
}

type Sale = NonNullable<Vehicle["sale"]>;

/** "purchase $25,000 + costs $90 − sale $21,000", the terms of a sale's total cost of ownership. */
export function ownershipTerms(sale: Sale): string {
  const t = sale.totalCostOfOwnership;
  const money = (cents: number) => formatMoney(cents, t.currency, true);
  const purchase =
    t.purchasePriceSource === "unknown"
      ? "purchase unknown"
      : `purchase ${money(t.purchasePriceCents)}`;
  const other = t.recordsInOtherCurrencies
    ? `; ${t.recordsInOtherCurrencies} record${t.recordsInOtherCurrencies === 1 ? "" : "s"} in other currencies left out`
    : "";
  return `${purchase} + costs ${money(t.costsCents)} − sale ${money(t.salePriceCents)}${other}`;
}

export function VehicleHeader({
  vehicle,
  overview,
  valuation,
  loading,
  error,
  valuationError,
  onRetry,
  actions,
}: {
  vehicle: Vehicle;
  overview?: Overview;
  valuation?: Valuation;
  loading: boolean;
  /** The overview could not be read: nothing it would have said is claimed ("not yet" is not known). */
  error: unknown;
  /** The value could not be read (an error other than "none yet"). */
  valuationError?: unknown;
  onRetry?: () => void;
  /** The vehicle's own actions (`VehicleActions`), under its name. */
  actions?: ReactNode;
}) {
  const sale = vehicle.sale ?? undefined;
  // A sold vehicle's odometer is the reading at its sale, never an estimate past it.
  const odo = sale
    ? { value: sale.odometer, unit: vehicle.odometerUnit, estimated: false, asOf: sale.soldAt }
    : (overview?.odometer ?? vehicle.odometer ?? null);
  const currency = valuation?.currency ?? "USD";
  const items = nextDue(overview?.maintenance ?? []);
  const retired = retiredText(vehicle);
  // Without the overview (or the value) the page cannot say there is none yet.
  const unavailable = !loading && !!error && !overview;
  const missing = (none: string) => (loading ? "…" : unavailable ? "Unavailable" : none);

  return (
    <section
      className={`vehicle-header card${retired ? " retired-vehicle" : ""}`}
      aria-labelledby="vehicle-title"
    >
      <div className="vehicle-id">
        <h1 id="vehicle-title">{vehicleName(vehicle)}</h1>
        <p className="muted">
          {[vehicle.trim, vehicle.colour].filter(Boolean).map((part) => `${part} · `)}
          {vehicle.plate && (
            <>
              plate <span className="plate">{vehicle.plate}</span> ·{" "}
            </>
          )}
          VIN <span className="mono">{vehicle.vin}</span>
        </p>
        {retired && (
          <p className="notice retired" data-testid="vehicle-retired">
            {retired}. Its history is kept; its maintenance is no longer tracked and no reminders
            are sent.
          </p>
        )}
        {actions}
      </div>
      <dl className="facts">
        {sale ? (
          <>
            <div>
              <dt>Sold for</dt>
              <dd data-testid="sale-price">
                {formatMoney(sale.priceCents, sale.currency, true)}{" "}
                <span className="muted small">on {formatDate(sale.soldAt)}</span>
              </dd>
            </div>
            <div>
              <dt>Total cost of ownership</dt>
              <dd data-testid="total-cost-of-ownership">
                {formatMoney(
                  sale.totalCostOfOwnership.totalCents,
                  sale.totalCostOfOwnership.currency,
                  true,
                )}{" "}
                <span className="muted small">({ownershipTerms(sale)})</span>
              </dd>
            </div>
          </>
        ) : (
          <div>
            <dt>Current value</dt>
            <dd>
              {valuation?.amountCents !== undefined ? (
                <ValueTip valuation={valuation} currency={currency} />
              ) : (
                <span className="muted">
                  {valuationError && !loading ? "Unavailable" : missing("Not valued yet")}
                </span>
              )}
            </dd>
          </div>
        )}
        <div>
          <dt>{sale ? "Odometer at sale" : "Odometer"}</dt>
          <dd>
            {odo ? (
              <>
                {odo.estimated ? "≈ " : ""}
                {formatDistance(odo.value, odo.unit)}
                {/* A space, so the badge is a word of its own to a screen reader ("52,500 mi estimated"). */}
                {odo.estimated && " "}
                {odo.estimated && (
                  <span
                    className="tag"
                    title={`Estimated from your driving as of ${formatDate(odo.asOf)}`}
                  >
                    estimated
                  </span>
                )}
              </>
            ) : (
              <span className="muted">{missing("No reading yet")}</span>
            )}
          </dd>
        </div>
        {overview?.costs.length ? (
          <div>
            <dt>Spent (12 months)</dt>
            <dd data-testid="spent-12-months">
              {formatAmounts(
                overview.costs.map((c) => ({ currency: c.currency, cents: c.last12MonthsCents })),
                true,
              )}
            </dd>
          </div>
        ) : null}
        {overview?.fuel?.average != null && (
          <div>
            <dt>Fuel economy</dt>
            <dd>
              {economyText(overview.fuel, overview.fuel.average)}
              {overview.fuel.drop && (
                <span className="tag tag-warn" role="note" title={overview.fuel.drop.message}>
                  latest {economyText(overview.fuel, overview.fuel.drop.economy)}, down{" "}
                  {overview.fuel.drop.dropPercent.toFixed(0)} %
                </span>
              )}
            </dd>
          </div>
        )}
      </dl>
      <div className="due">
        <h2 className="label">Next due</h2>
        {retired ? (
          <p className="muted">
            Not tracked: the vehicle is{" "}
            {vehicle.sale || vehicle.status === "sold" ? "sold" : "archived"}.
          </p>
        ) : items.length ? (
          <ul className="badges" aria-label="Maintenance status">
            {items.map((i) => (
              <li key={i.task} title={i.reason}>
                <StatusBadge status={i.status}>{i.title}</StatusBadge>
                <span className="due-when">
                  {i.dueAt || i.projectedDueAt
                    ? ` ${formatDate((i.dueAt ?? i.projectedDueAt)!)}`
                    : ""}
                  {i.dueOdometer != null
                    ? ` · ${formatDistance(i.dueOdometer, vehicle.odometerUnit)}`
                    : ""}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">
            {loading ? "Loading…" : unavailable ? "Unavailable." : "No maintenance schedule yet."}
          </p>
        )}
      </div>
      <ErrorText error={error ?? valuationError} onRetry={onRetry} />
    </section>
  );
}
