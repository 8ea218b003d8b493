import type { CostGroup } from "../api/types";

export interface MonthBar {
  month: string;
  totalCents: number;
  /** Kind → cents, in the legend's order. */
  byKind: Record<string, number>;
}

/** The last `count` calendar months ending with `end` (`YYYY-MM`), oldest first. */
export function lastMonths(end: string, count: number): string[] {
  const [y, m] = end.split("-").map(Number) as [number, number];
  const out: string[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(y, m - 1 - i, 1));
    out.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

/** The first and last day of a `YYYY-MM` month, for `from`/`to`. */
export function monthRange(month: string): { from: string; to: string } {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, "0")}` };
}

/** Bars for the chart: each month's costs (in one currency) split by kind. */
export function monthBars(
  months: string[],
  byMonth: Record<string, CostGroup[]>,
  currency: string,
): MonthBar[] {
  return months.map((month) => {
    const byKind: Record<string, number> = {};
    let totalCents = 0;
    for (const g of byMonth[month] ?? []) {
      if (g.currency !== currency) continue;
      byKind[g.key] = (byKind[g.key] ?? 0) + g.totalCents;
      totalCents += g.totalCents;
    }
    return { month, totalCents, byKind };
  });
}

/** A round axis maximum at or above `max` (1, 2 or 5 × a power of ten). */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const f of [1, 2, 5, 10]) if (f * p >= max) return f * p;
  return 10 * p;
}
