// Money, dates and distances as a person reads them. Pure functions, unit-tested.

/*
 * Building an `Intl` formatter is slow (a fresh one for each of 3,000 timeline rows took ~270 ms; cached,
 * ~3 ms): each one is built once per locale and options, and kept.
 */
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** The `en-US` number format for these options (built once). Throws for an unknown currency code. */
function numberFormat(options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  const key = JSON.stringify(options);
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat("en-US", options);
    numberFormats.set(key, f);
  }
  return f;
}

/** Integer cents in an ISO currency: `$8,999.00` style, whole units when `whole`. */
export function formatMoney(cents: number, currency = "USD", whole = false): string {
  const digits = whole ? 0 : 2;
  try {
    return numberFormat({
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

/** An amount in one currency. */
export interface Amount {
  currency: string;
  cents: number;
}

/**
 * Amounts in several currencies, each in its own (`$1,200 · €800`), by currency code; amounts in different
 * currencies are never added together. `empty` when there are none.
 */
export function formatAmounts(amounts: readonly Amount[], whole = false, empty = "—"): string {
  if (!amounts.length) return empty;
  return amounts
    .slice()
    .sort((a, b) => a.currency.localeCompare(b.currency))
    .map((a) => formatMoney(a.cents, a.currency, whole))
    .join(" · ");
}

/** Dates as read in the UK style, in UTC: a date does not shift with the viewer's zone (built once). */
function utcFormat(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = JSON.stringify(options);
  let f = dateFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" });
    dateFormats.set(key, f);
  }
  return f;
}

/** The first instant (UTC) of the month that `2026-03` (or any instant in it) names, with its year. */
function monthStart(isoOrMonth: string): { date: Date; year: string } | undefined {
  const m = /^(\d{4})-(\d{2})/.exec(isoOrMonth);
  if (!m) return undefined;
  return { date: new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)), year: m[1]! };
}

/** `2026-03-02T09:30:00Z` → `2 Mar 2026` (UTC, so it does not shift with the viewer's zone). */
export function formatDate(iso: string): string {
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return utcFormat({ day: "numeric", month: "short", year: "numeric" }).format(d);
}

/** `2026-03-02T09:30:00Z` → `2 Mar 2026, 09:30 UTC`: when a change was made, to the minute. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const f = utcFormat({
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  return `${f.format(d)} UTC`;
}

/** `8999` → `89.99`: cents as a person types them into a cost field (no symbol, no grouping). */
export function centsToText(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** `2026-03` (or any instant in it) → `March 2026`. */
export function formatMonth(isoOrMonth: string): string {
  const start = monthStart(isoOrMonth);
  if (!start) return isoOrMonth;
  return utcFormat({ month: "long", year: "numeric" }).format(start.date);
}

/** `2026-03` → `Mar 26`, for chart axes. */
export function formatMonthShort(month: string): string {
  const start = monthStart(month);
  if (!start) return month;
  return `${utcFormat({ month: "short" }).format(start.date)} ${start.year.slice(2)}`;
}

/** `41250, "mi"` → `41,250 mi`. */
export function formatDistance(value: number, unit: string): string {
  return `${numberFormat().format(value)} ${unit}`;
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
