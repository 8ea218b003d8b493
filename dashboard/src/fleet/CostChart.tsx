import { EVENT_KINDS } from "../api/types";
import { formatMoney, formatMonth, formatMonthShort } from "../format";
import { kindColor, kindStyle } from "../timeline/kinds";
import { niceMax, type MonthBar } from "./costs";

const W = 960;
const H = 260;
const PAD = { left: 64, right: 8, top: 12, bottom: 28 };

/**
 * Stacked bars of cost per month by kind, in SVG, with the same numbers in a table for screen readers. One
 * currency a chart; `titled` names it (the page shows a chart per currency when there are several).
 */
export function CostChart({
  bars,
  currency,
  titled = false,
}: {
  bars: MonthBar[];
  currency: string;
  titled?: boolean;
}) {
  const max = niceMax(Math.max(0, ...bars.map((b) => b.totalCents)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, bars.length);
  const barW = Math.min(36, step * 0.7);
  const y = (cents: number) => PAD.top + plotH - (cents / max) * plotH;
  const kinds = EVENT_KINDS.filter((k) => bars.some((b) => b.byKind[k]));
  const total = bars.reduce((s, b) => s + b.totalCents, 0);

  return (
    <figure className="chart">
      {titled && <h3 className="chart-currency">In {currency}</h3>}
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Costs per month by kind${titled ? ` in ${currency}` : ""}: ${formatMoney(total, currency, true)} over ${bars.length} months`}
        data-testid="cost-chart"
      >
        {[0, 0.25, 0.5, 0.75, 1].map((f) => (
          <g key={f} className="grid-line">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(max * f)} y2={y(max * f)} />
            <text x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">
              {formatMoney(max * f, currency, true)}
            </text>
          </g>
        ))}
        {bars.map((b, i) => {
          const x = PAD.left + i * step + (step - barW) / 2;
          let acc = 0;
          return (
            <g key={b.month} className="bar">
              <title>{`${formatMonth(b.month)}: ${formatMoney(b.totalCents, currency)}`}</title>
              {kinds.map((k) => {
                const v = b.byKind[k] ?? 0;
                if (!v) return null;
                const top = y(acc + v);
                const height = y(acc) - top;
                acc += v;
                return (
                  <rect
                    key={k}
                    className={`kind-${k} kind-fill`}
                    style={kindColor(k)}
                    x={x}
                    y={top}
                    width={barW}
                    height={Math.max(0.5, height)}
                  />
                );
              })}
              <text x={x + barW / 2} y={H - 8} textAnchor="middle" className="axis-label">
                {formatMonthShort(b.month)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul className="legend">
          {kinds.map((k) => (
            <li key={k}>
              <span
                className={`swatch kind-${k} kind-fill`}
                style={kindColor(k)}
                aria-hidden="true"
              />
              {kindStyle(k).label}
            </li>
          ))}
        </ul>
      </figcaption>
      {/* Hidden in a box: a table is never narrower than its content, so hidden itself it widened the page. */}
      <div className="visually-hidden">
        <table>
          <caption>Costs per month by kind{titled ? ` in ${currency}` : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Month</th>
              {kinds.map((k) => (
                <th key={k} scope="col">
                  {kindStyle(k).label}
                </th>
              ))}
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.month}>
                <th scope="row">{formatMonth(b.month)}</th>
                {kinds.map((k) => (
                  <td key={k}>{formatMoney(b.byKind[k] ?? 0, currency)}</td>
                ))}
                <td>{formatMoney(b.totalCents, currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
