import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { expect, vi } from "vitest";
import { Api } from "./api/client";
import { ApiContext } from "./api/context";
import type { Vehicle, VehicleEvent } from "./api/types";

export type Handler = (url: URL, init: RequestInit) => Response | Promise<Response>;

/**
 * Replaces `fetch` with a handler; returns the mock so tests can read the requests made. A timeline row that
 * opens reads its record's files: that read is answered with none unless `attachments` hands it to `handler`.
 */
export function mockFetch(handler: Handler, { attachments = false } = {}) {
  const fn = vi.fn((input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://localhost");
    if (!attachments && url.pathname.endsWith("/attachments") && (init.method ?? "GET") === "GET")
      return Promise.resolve(json({ items: [] }));
    return Promise.resolve(handler(url, init));
  });
  vi.stubGlobal("fetch", fn);
  return fn;
}

export function json(body: unknown, status = 200, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

export function problem(
  status: number,
  detail: string,
  errors?: { field: string; message: string }[],
  kind = "x",
): Response {
  return json(
    { type: `https://vwc.dev/problems/${kind}`, title: "x", status, detail, errors },
    status,
    "application/problem+json",
  );
}

/** An OpenID Connect provider's settings as `GET /v1/auth/config` names them (the dashboard's client). */
export const oidcSettings = {
  authority: "https://id.example.com/realms/vwc",
  clientId: "vwc-dashboard",
  scope: "openid profile email",
  apiToken: "access" as const,
};

/** The demo organisation's RAV4 with three events, as the API lists it; `overrides` change fields. */
export function demoVehicle(overrides: Partial<Vehicle> = {}): Vehicle {
  return {
    id: "veh_1",
    orgId: "org_demo",
    vin: "2T3P1RFV3MW123456",
    year: 2021,
    make: "Toyota",
    model: "RAV4",
    odometerUnit: "mi",
    registeredAt: "2024-01-01T00:00:00Z",
    eventCount: 3,
    ...overrides,
  } as Vehicle;
}

/** The demo vehicle, sold on 2 March 2026 for $12,000 at 60,000 mi. */
export function soldDemoVehicle(): Vehicle {
  return demoVehicle({
    status: "sold",
    sale: {
      soldAt: "2026-03-02T00:00:00Z",
      priceCents: 1_200_000,
      currency: "USD",
      odometer: 60_000,
      totalCostOfOwnership: {
        currency: "USD",
        purchasePriceCents: 2_000_000,
        purchasePriceSource: "acquisition_event",
        costsCents: 150_000,
        salePriceCents: 1_200_000,
        totalCents: 950_000,
        recordsCounted: 4,
        recordsInOtherCurrencies: 1,
      },
    },
  });
}

/** Renders `ui` signed in (as the demo owner unless `roles` says otherwise). */
export function renderWithApi(ui: ReactElement, onUnauthorized = vi.fn(), roles = ["owner"]) {
  const api = new Api("t0k3n", onUnauthorized);
  const session = { token: "t0k3n", sub: "demo-owner", org: "org_demo", roles };
  return render(<ApiContext.Provider value={{ api, session }}>{ui}</ApiContext.Provider>);
}

export function event(
  id: string,
  occurredAt: string,
  kind: VehicleEvent["kind"] = "maintenance",
): VehicleEvent {
  return {
    id,
    occurredAt,
    kind,
    title: `Event ${id}`,
    vehicleId: "veh_1",
    orgId: "org_demo",
    recordedAt: occurredAt,
    source: "user",
    details: kind === "maintenance" ? { tasks: ["oil_change"] } : {},
    odometer: 1000,
    costCents: 8999,
    currency: "USD",
  };
}

/**
 * Checks that every hint and field error inside `root` is named by its field's `aria-describedby` (an
 * error's field also `aria-invalid`); answers how many it checked.
 */
export function expectHelpLinked(root: HTMLElement): number {
  const help = [...root.querySelectorAll<HTMLElement>(".hint, .field-error")];
  const fields = [...root.querySelectorAll<HTMLElement>("[aria-describedby]")];
  for (const el of help) {
    expect(el.id, `${el.textContent} has no id`).not.toBe("");
    const owner = fields.find((f) =>
      f.getAttribute("aria-describedby")!.split(" ").includes(el.id),
    );
    expect(owner, `no field is described by “${el.textContent}”`).toBeDefined();
    if (el.classList.contains("field-error")) expect(owner).toHaveAttribute("aria-invalid", "true");
  }
  return help.length;
}
