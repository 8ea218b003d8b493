import { useEffect, useRef, useState, type RefObject } from "react";
import { EVENT_KINDS } from "../api/types";
import { formatMoney, formatMonth, formatMonthShort } from "../format";
import { kindColor, kindStyle } from "../timeline/kinds";
import { niceMax, type MonthBar } from "./costs";

/** The chart's width before it is measured (and where nothing measures it). */
const DEFAULT_WIDTH = 960;
const H = 260;
/** The labels' size, in the root font size (as `.small` text); `.chart text` in styles.css says the same. */
const LABEL_REM = 0.8;

/**
 * The drawing's geometry for a box `width` CSS pixels wide whose labels are `font` pixels: the viewBox is the
 * box's own size, so one unit is one pixel and labels keep the page's text size at any width or zoom (a
 * fixed 960-unit viewBox shrank them with the box: unreadable at 320 px). Month labels that would collide
 * are thinned out, always keeping the latest month.
 */
export function chartLayout(width: number, font: number, bars: number, maxLabel: string) {
  // "Sept 26": about 4.2em wide, centred under its bar.
  const label = font * 4.2;
  const left = Math.ceil(maxLabel.length * font * 0.62) + 10; // the longest amount, ~0.62em a character
  const stepFor = (right: number) => Math.max(1, width - left - right) / Math.max(1, bars);
  // Room on the right for half of the latest month's label, beyond half a step.
  const right = Math.max(8, Math.ceil(label / 2 - stepFor(8) / 2) + 2);
  const pad = { left, right, top: Math.ceil(font / 2) + 4, bottom: Math.ceil(font * 1.2) + 12 };
  const plotW = Math.max(1, width - pad.left - pad.right);
  const step = plotW / Math.max(1, bars);
  const every = Math.max(1, Math.ceil((label + 8) / step));
  return { pad, plotW, plotH: H - pad.top - pad.bottom, step, every };
}

/** The width of an element's box, kept up to date (undefined until measured, or without ResizeObserver). */
function useWidth(ref: RefObject<HTMLElement | null>): number | undefined {
  const [width, setWidth] = useState<number>();
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver((entries) => {
      const w = Math.round(entries[0]?.contentRect.width ?? 0);
      if (w > 0) setWidth(w);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

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
  const figure = useRef<HTMLElement>(null);
  const W = useWidth(figure) ?? DEFAULT_WIDTH;
  const font =
    LABEL_REM *
    (parseFloat(
      typeof getComputedStyle === "function"
        ? getComputedStyle(document.documentElement).fontSize
        : "",
    ) || 16);
  const max = niceMax(Math.max(0, ...bars.map((b) => b.totalCents)));
  const {
    pad: PAD,
    plotH,
    step,
    every,
  } = chartLayout(W, font, bars.length, formatMoney(max, currency, true));
  const barW = Math.min(36, step * 0.7);
  const y = (cents: number) => PAD.top + plotH - (cents / max) * plotH;
  const kinds = EVENT_KINDS.filter((k) => bars.some((b) => b.byKind[k]));
  const total = bars.reduce((s, b) => s + b.totalCents, 0);

  return (
    <figure className="chart" ref={figure}>
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
            <text x={PAD.left - 6} y={y(max * f) + font * 0.35} textAnchor="end">
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
              {(bars.length - 1 - i) % every === 0 && (
                <text x={x + barW / 2} y={H - 8} textAnchor="middle" className="axis-label">
                  {formatMonthShort(b.month)}
                </text>
              )}
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
