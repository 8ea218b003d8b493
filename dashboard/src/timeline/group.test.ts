import { describe, expect, it } from "vitest";
import type { VehicleEvent } from "../api/types";
import { groupByMonth } from "./group";

function ev(id: string, occurredAt: string): VehicleEvent {
  return {
    id,
    occurredAt,
    kind: "maintenance",
    title: id,
    vehicleId: "veh_1",
    orgId: "org_1",
    recordedAt: occurredAt,
    source: "user",
    details: {},
  };
}

describe("groupByMonth", () => {
  it("groups a newest-first timeline by month, in order", () => {
    const groups = groupByMonth([
      ev("a", "2026-03-20T10:00:00Z"),
      ev("b", "2026-03-02T09:30:00Z"),
      ev("c", "2026-01-15T00:00:00Z"),
    ]);
    expect(groups.map((g) => g.month)).toEqual(["2026-03", "2026-01"]);
    expect(groups[0]!.events.map((e) => e.id)).toEqual(["a", "b"]);
  });

  it("merges a month split across two pages and drops repeated ids", () => {
    const page1 = [ev("a", "2026-03-20T10:00:00Z"), ev("b", "2026-02-10T00:00:00Z")];
    const page2 = [ev("b", "2026-02-10T00:00:00Z"), ev("c", "2026-02-01T00:00:00Z")];
    const groups = groupByMonth([...page1, ...page2]);
    expect(groups.map((g) => [g.month, g.events.map((e) => e.id)])).toEqual([
      ["2026-03", ["a"]],
      ["2026-02", ["b", "c"]],
    ]);
  });

  it("uses the UTC month, not the viewer's", () => {
    expect(groupByMonth([ev("a", "2025-12-31T23:30:00Z")])[0]!.month).toBe("2025-12");
  });

  it("is empty for no events", () => {
    expect(groupByMonth([])).toEqual([]);
  });
});

describe("insertEvent", () => {
  it("puts a recorded event at its place in a newest-first list, once", async () => {
    const { insertEvent } = await import("./Timeline");
    const list = [ev("a", "2026-03-20T10:00:00Z"), ev("c", "2026-01-15T00:00:00Z")];
    const b = ev("b", "2026-02-01T00:00:00Z");
    expect(insertEvent(list, b).map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(insertEvent(insertEvent(list, b), b).map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(insertEvent(list, ev("z", "2020-01-01T00:00:00Z")).map((e) => e.id)).toEqual([
      "a",
      "c",
      "z",
    ]);
  });
});
