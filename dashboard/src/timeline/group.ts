import type { VehicleEvent } from "../api/types";

export interface MonthGroup<E extends VehicleEvent = VehicleEvent> {
  /** `YYYY-MM` (UTC). */
  month: string;
  events: E[];
}

/**
 * Groups a newest-first timeline by calendar month (UTC), keeping the order of the months and of the
 * events inside each. Pages arrive one after another, so the last month of one page and the first of the
 * next merge into one group; duplicate ids (a page boundary seen twice) are dropped.
 */
export function groupByMonth<E extends VehicleEvent>(events: readonly E[]): MonthGroup<E>[] {
  const groups: MonthGroup<E>[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const month = e.occurredAt.slice(0, 7);
    const last = groups[groups.length - 1];
    if (last && last.month === month) last.events.push(e);
    else {
      const earlier = groups.find((g) => g.month === month);
      if (earlier) earlier.events.push(e);
      else groups.push({ month, events: [e] });
    }
  }
  return groups;
}
