import type { CSSProperties } from "react";
import type { EventKind } from "../api/types";

export interface KindStyle {
  label: string;
  glyph: string;
  /** The kind's colour: the timeline's border and icon, its filter chip's glyph, the chart's bars. */
  color?: string;
}

/**
 * How each kind looks: a label, a short glyph and a colour, in one table, so a kind the contract adds is a
 * type error here until it has all three.
 */
export const KIND_STYLE: Record<EventKind, Required<KindStyle>> = {
  acquisition: { label: "Acquisition", glyph: "★", color: "#6d28d9" },
  maintenance: { label: "Maintenance", glyph: "✓", color: "#15803d" },
  repair: { label: "Repair", glyph: "⚙", color: "#c2410c" },
  collision: { label: "Collision", glyph: "!", color: "#b91c1c" },
  upgrade: { label: "Upgrade", glyph: "↑", color: "#0e7490" },
  valuation: { label: "Valuation", glyph: "$", color: "#a16207" },
  odometer_reading: { label: "Odometer", glyph: "◷", color: "#475569" },
  fuel: { label: "Fuel", glyph: "◆", color: "#1d4ed8" },
};

export function kindStyle(kind: string): KindStyle {
  return (
    (KIND_STYLE as Record<string, KindStyle>)[kind] ?? {
      label: kind.replace(/_/g, " "),
      glyph: "•",
    }
  );
}

/**
 * The kind's colour as the `--kind` custom property that styles.css reads (unset for a kind the page does
 * not know: the rules fall back to neutral grey). React sets it through the CSS object model, which the
 * page's `style-src 'self'` allows, unlike a `style` attribute in markup.
 */
export function kindColor(kind: string): CSSProperties {
  const color = kindStyle(kind).color;
  return (color ? { "--kind": color } : {}) as CSSProperties;
}
