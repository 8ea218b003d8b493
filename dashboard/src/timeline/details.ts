import { formatMoney, humanize } from "../format";

/**
 * The details whose strings are codes from a fixed set (the contract's `TaskCode`, `Severity`,
 * `ValuationSource`, `Condition`): those are humanised (`oil_change` → `Oil change`). Every other string is
 * free text a person or a dealer wrote (a claim id, a part, a station) and is shown as written.
 */
const CODE_DETAILS = new Set(["tasks", "severity", "source", "condition"]);
const VOLUME_UNITS: Record<string, string> = { gal: "US gallons", l: "litres" };

/** The kind-specific details as readable pairs (`tasks: oil_change, tire_rotation` → `Oil change, Tire rotation`). */
export function detailEntries(details: unknown, currency = "USD"): [string, string][] {
  if (!details || typeof details !== "object") return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(details as Record<string, unknown>)) {
    if (v === null || v === undefined || v === "") continue;
    const str = (x: string) =>
      CODE_DETAILS.has(k) ? humanize(x) : k === "volumeUnit" ? (VOLUME_UNITS[x] ?? x) : x;
    let text: string;
    if (Array.isArray(v))
      text = v.map((x) => (typeof x === "string" ? str(x) : JSON.stringify(x))).join(", ");
    else if (typeof v === "boolean") text = v ? "Yes" : "No";
    else if (typeof v === "number" && /Cents$/.test(k)) {
      text = formatMoney(v, currency);
    } else if (typeof v === "string") text = str(v);
    else if (typeof v === "number") text = String(v);
    else text = JSON.stringify(v);
    out.push([k.replace(/Cents$/, ""), text]);
  }
  return out;
}
