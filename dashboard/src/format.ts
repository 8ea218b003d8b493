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

/**
 * A rate in cents (a cost per mile or km, fractional): to the cent, but a non-zero rate below one cent as
 * "< $0.01" rather than a "$0.00" that reads as nothing spent.
 */
export function formatRate(cents: number, currency = "USD"): string {
  if (cents > 0 && cents < 0.5) return `< ${formatMoney(1, currency)}`;
  return formatMoney(cents, currency);
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
export function formatAmounts(
  amounts: readonly Amount[],
  whole = false,
  empty = "—",
  format: (a: Amount) => string = (a) => formatMoney(a.cents, a.currency, whole),
): string {
  if (!amounts.length) return empty;
  return amounts
    .slice()
    .sort((a, b) => a.currency.localeCompare(b.currency))
    .map(format)
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

/**
 * A number as a person types it, in either convention (`1,234.56` or `1.234,56`), or `undefined` when
 * empty. Amounts never have more than `maxDecimals` decimals, which is what makes a lone separator readable:
 * - with both `,` and `.`, the later one is the decimal separator and the other groups thousands;
 * - with one kind only, a single separator followed by 1 to `maxDecimals` digits at the end is the decimal
 *   separator, and separators each followed by exactly 3 digits group thousands (`24.500` is 24500);
 * - anything else (`1,2,3`, `12.345.6`, `1,234.5.6`) is `NaN`: a field error, never a guess.
 * Spaces and a leading currency sign (`$`, `€`, `£`) are ignored. `grouped` says thousands were grouped.
 */
export function parseDecimal(
  text: string,
  maxDecimals = 2,
): { whole: string; fraction: string; grouped: boolean } | undefined | typeof Number.NaN {
  const t = text.replace(/[\s\u00a0\u202f]/g, "").replace(/^[$€£]/, "");
  if (t === "") return undefined;
  if (!/^[\d.,]+$/.test(t)) return Number.NaN;
  const last = Math.max(t.lastIndexOf(","), t.lastIndexOf("."));
  if (last < 0) return { whole: t, fraction: "", grouped: false };
  const sep = t[last]!;
  const other = sep === "," ? "." : ",";
  const tail = t.slice(last + 1);
  const decimalTail = new RegExp(`^\\d{1,${maxDecimals}}$`);
  let whole: string;
  let fraction = "";
  if (t.includes(other)) {
    // Both kinds: the later one is the decimal separator, once; the other one only groups.
    if (!decimalTail.test(tail) || t.slice(0, last).includes(sep)) return Number.NaN;
    whole = t.slice(0, last);
    fraction = tail;
    return grouping(whole, other, fraction);
  }
  const count = t.split(sep).length - 1;
  if (count === 1 && decimalTail.test(tail) && !/^\d{3}$/.test(tail)) {
    whole = t.slice(0, last);
    if (whole !== "" && !/^\d+$/.test(whole)) return Number.NaN;
    return { whole: whole || "0", fraction: tail, grouped: false };
  }
  return grouping(t, sep, "");
}

/** `1,234,567` grouped by `sep` (1–3 digits, then groups of exactly 3), or NaN. */
function grouping(whole: string, sep: string, fraction: string) {
  const groups = whole.split(sep);
  if (groups.length === 1)
    return /^\d+$/.test(whole) ? { whole, fraction, grouped: false } : Number.NaN;
  // A first group of 0 (`0.500`) is not a thousand of anything: it is a third decimal, which is refused.
  if (!/^[1-9]\d{0,2}$/.test(groups[0]!) || groups.slice(1).some((g) => !/^\d{3}$/.test(g)))
    return Number.NaN;
  return { whole: groups.join(""), fraction, grouped: true };
}

/** What to say when `parseDecimal` cannot read an amount of money. */
export const MONEY_FORMAT_HELP =
  "Write the amount with at most 2 decimals, such as 1234.50, 1,234.50 or 1.234,50.";

/**
 * An amount of money typed by a person (`89.99`, `89,99`, `$1,200`, `24.500`, `1.234,56`) → cents, or
 * `undefined` when empty, or `NaN` when it cannot be read without guessing (`parseDecimal`).
 */
export function parseMoneyToCents(text: string): number | undefined {
  const n = parseDecimal(text, 2);
  if (n === undefined || typeof n === "number") return n;
  return Number(n.whole) * 100 + Number(n.fraction.padEnd(2, "0"));
}
