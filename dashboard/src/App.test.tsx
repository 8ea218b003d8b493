import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App, parseRoute } from "./App";

function token(exp: number): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
  return `${b64({ alg: "HS256" })}.${b64({ sub: "u", org: "o", roles: ["owner"], exp })}.sig`;
}

afterEach(() => {
  sessionStorage.clear();
  vi.unstubAllGlobals();
});

describe("App", () => {
  it("offers the dev-token form when nobody is signed in", () => {
    render(<App />);
    expect(
      screen.getByRole("heading", { name: "Sign in (development token)" }),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Organisation")).toHaveValue("org_demo");
  });

  it("returns an expired token to sign-in with a message, not a blank page", () => {
    sessionStorage.setItem("vwc.token", token(Math.floor(Date.now() / 1000) - 10));
    render(<App />);
    expect(screen.getByRole("alert")).toHaveTextContent(
      "Your session has expired. Please sign in again.",
    );
  });

  it("reads routes from the hash", () => {
    expect(parseRoute("#/fleet")).toEqual({ page: "fleet" });
    expect(parseRoute("#/vehicles/veh_1")).toEqual({ page: "vehicles", vehicleId: "veh_1" });
    expect(parseRoute("")).toEqual({ page: "vehicles", vehicleId: undefined });
  });
});
