// Money, dates and distances as a person reads them. Pure functions, unit-tested.

/** Integer cents in an ISO currency: `$8,999.00` style, whole units when `whole`. */
export function formatMoney(cents: number, currency = "USD", whole = false): string {
  const digits = whole ? 0 : 2;
  try {
    return new Intl.NumberFormat("en-US", {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(cents / 100);
  } catch {
    // An unknown currency code: show the number and the code.
    return `${(cents / 100).toFixed(digits)} ${currency}`;
  }
}

/** `2026-03-02T09:30:00Z` → `2 Mar 2026` (UTC, so it does not shift with the viewer's zone). */
export function formatDate(iso: string): string {
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  }).format(d);
}

/** `2026-03` (or any instant in it) → `March 2026`. */
export function formatMonth(isoOrMonth: string): string {
  const m = /^(\d{4})-(\d{2})/.exec(isoOrMonth);
  if (!m) return isoOrMonth;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  return new Intl.DateTimeFormat("en-GB", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(d);
}

/** `2026-03` → `Mar 26`, for chart axes. */
export function formatMonthShort(month: string): string {
  const m = /^(\d{4})-(\d{2})/.exec(month);
  if (!m) return month;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  const name = new Intl.DateTimeFormat("en-GB", { month: "short", timeZone: "UTC" }).format(d);
  return `${name} ${m[1]!.slice(2)}`;
}

/** `41250, "mi"` → `41,250 mi`. */
export function formatDistance(value: number, unit: string): string {
  return `${new Intl.NumberFormat("en-US").format(value)} ${unit}`;
}

/** `odometer_reading` → `Odometer reading`. */
export function humanize(code: string): string {
  const s = code.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Dollars typed by a person (`89.99`, `$1,200`) → cents, or `undefined` when it is not a number. */
export function parseMoneyToCents(text: string): number | undefined {
  const t = text.replace(/[$,\s]/g, "");
  if (t === "") return undefined;
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return Number.NaN;
  const [whole, frac = ""] = t.split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
}
