import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App, parseRoute } from "./App";
import { json, mockFetch } from "./test-utils";

function token(exp: number, sub = "u"): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
  return `${b64({ alg: "HS256" })}.${b64({ sub, org: "o", roles: ["owner"], exp })}.sig`;
}

/** Signed in with a token valid for an hour, against an API with nothing in it. */
function signedIn() {
  sessionStorage.setItem("vwc.token", token(Math.floor(Date.now() / 1000) + 3600));
  mockFetch(() => json({ items: [], nextCursor: null }));
  return render(<App />);
}

afterEach(() => {
  sessionStorage.clear();
  vi.unstubAllGlobals();
});

describe("App", () => {
  it("offers the dev-token form when nobody is signed in", async () => {
    render(<App />);
    expect(
      await screen.findByRole("heading", { name: "Sign in (development token)" }),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Organisation")).toHaveValue("org_demo");
  });

  it("offers the identity provider, not the dev-token form, when the server names one", async () => {
    mockFetch((url) =>
      url.pathname === "/v1/auth/config"
        ? json({
            mode: "oidc",
            oidc: {
              authority: "https://id.example.com",
              clientId: "dash",
              scope: "openid",
              apiToken: "access",
            },
          })
        : json({}, 404),
    );
    render(<App />);
    expect(
      await screen.findByRole("button", { name: "Sign in with your identity provider" }),
    ).toBeInTheDocument();
    expect(screen.getByText("id.example.com")).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Sign in (development token)" })).toBeNull();
    expect(screen.getByRole("form", { name: "Sign in with a token" })).toBeInTheDocument();
  });

  it("turns a provider's refusal into a sentence and cleans the address bar", async () => {
    window.history.replaceState(null, "", "/?error=access_denied&error_description=Nope&state=s");
    render(<App />);
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The identity provider did not sign you in (Nope).",
    );
    expect(window.location.search).toBe("");
  });

  it("returns an expired token to sign-in with a message, not a blank page", async () => {
    sessionStorage.setItem("vwc.token", token(Math.floor(Date.now() / 1000) - 10));
    render(<App />);
    expect(screen.getByRole("alert")).toHaveTextContent(
      "Your session has expired. Please sign in again.",
    );
    expect(await screen.findByRole("form", { name: "Sign in with a token" })).toBeInTheDocument();
  });

  it("reads routes from the hash", () => {
    expect(parseRoute("#/fleet")).toEqual({ page: "fleet" });
    expect(parseRoute("#/settings")).toEqual({ page: "settings" });
    expect(parseRoute("#/vehicles/veh_1")).toEqual({ page: "vehicles", vehicleId: "veh_1" });
    expect(parseRoute("")).toEqual({ page: "vehicles", vehicleId: undefined });
  });

  it("skips to the content without changing the page", async () => {
    window.history.replaceState(null, "", "/#/fleet");
    signedIn();
    const before = window.history.length;
    await userEvent.click(screen.getByRole("link", { name: "Skip to content" }));
    expect(screen.getByRole("main")).toHaveFocus();
    expect(window.location.hash).toBe("#/fleet");
    expect(window.history.length).toBe(before);
    expect(screen.getByRole("heading", { level: 1, name: "Fleet" })).toBeInTheDocument();
  });

  it("forgets the tab's chat conversations on sign-out", async () => {
    sessionStorage.setItem("vwc.chat.veh_1", "conv_1");
    signedIn();
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByText("You have signed out.")).toBeInTheDocument();
    expect(sessionStorage.getItem("vwc.chat.veh_1")).toBeNull();
    expect(sessionStorage.getItem("vwc.token")).toBeNull();
  });
});
