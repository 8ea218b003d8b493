import type { EventKind } from "../api/types";

/** How each kind looks on the timeline: a short glyph, a label and a colour class (see styles.css). */
export const KIND_STYLE: Record<EventKind, { label: string; glyph: string }> = {
  acquisition: { label: "Acquisition", glyph: "★" },
  maintenance: { label: "Maintenance", glyph: "✓" },
  repair: { label: "Repair", glyph: "⚙" },
  collision: { label: "Collision", glyph: "!" },
  upgrade: { label: "Upgrade", glyph: "↑" },
  valuation: { label: "Valuation", glyph: "$" },
  odometer_reading: { label: "Odometer", glyph: "◷" },
  fuel: { label: "Fuel", glyph: "◆" },
};

export function kindStyle(kind: string): { label: string; glyph: string } {
  return (
    (KIND_STYLE as Record<string, { label: string; glyph: string }>)[kind] ?? {
      label: kind.replace(/_/g, " "),
      glyph: "•",
    }
  );
}
