import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CostChart } from "./CostChart";
import { lastMonths, type MonthBar } from "./costs";

const bars: MonthBar[] = lastMonths("2026-03", 12).map((month, i) => ({
  month,
  totalCents: 10_000 * (i + 1),
  byKind: { maintenance: 10_000 * (i + 1) },
}));

/** A ResizeObserver that reports the observed box as `width` pixels wide. */
function boxWidth(width: number) {
  vi.stubGlobal(
    "ResizeObserver",
    class {
      constructor(private readonly cb: ResizeObserverCallback) {}
      observe(el: Element) {
        this.cb([{ contentRect: { width } } as ResizeObserverEntry], this as never);
        void el;
      }
      disconnect() {}
    },
  );
}

const monthLabels = () =>
  [...screen.getByTestId("cost-chart").querySelectorAll("text.axis-label")].map(
    (t) => t.textContent,
  );

afterEach(() => vi.unstubAllGlobals());

describe("CostChart", () => {
  it("draws in its box's own pixels, so labels keep the page's text size on a narrow screen", () => {
    boxWidth(320);
    render(<CostChart bars={bars} currency="USD" />);
    // One unit a pixel: 320 wide (a fixed 960-unit drawing scaled its 11-unit labels to under 4 px).
    expect(screen.getByTestId("cost-chart")).toHaveAttribute("viewBox", "0 0 320 260");
    // Labels that would collide are thinned out, keeping the latest month.
    const labels = monthLabels();
    expect(labels.length).toBeLessThan(12);
    expect(labels.length).toBeGreaterThan(1);
    expect(labels.at(-1)).toBe("Mar 26");
  });

  it("labels every month where there is room", () => {
    boxWidth(1200);
    render(<CostChart bars={bars} currency="USD" />);
    expect(screen.getByTestId("cost-chart")).toHaveAttribute("viewBox", "0 0 1200 260");
    expect(monthLabels()).toHaveLength(12);
  });
});
