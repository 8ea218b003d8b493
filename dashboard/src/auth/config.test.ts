import { describe, expect, it, vi } from "vitest";
import {
  apiTokenOf,
  callbackErrorSentence,
  fetchAuthConfig,
  isSignInCallback,
  parseAuthConfig,
  userManagerSettings,
} from "./config";
import { oidcSettings as oidc } from "../test-utils";

describe("sign-in configuration", () => {
  it("reads each mode the server names", () => {
    expect(parseAuthConfig({ mode: "embedded" })).toEqual({ mode: "embedded" });
    expect(parseAuthConfig({ mode: "token" })).toEqual({ mode: "token" });
    expect(parseAuthConfig({ mode: "oidc", oidc })).toEqual({ mode: "oidc", oidc });
  });

  it("trims a trailing slash, keeps openid in the scope and defaults to the access token", () => {
    expect(
      parseAuthConfig({
        mode: "oidc",
        oidc: { authority: "https://id.example.com/", clientId: " c ", scope: "profile" },
      }),
    ).toEqual({
      mode: "oidc",
      oidc: {
        authority: "https://id.example.com",
        clientId: "c",
        scope: "openid",
        apiToken: "access",
      },
    });
    expect(parseAuthConfig({ mode: "oidc", oidc: { ...oidc, apiToken: "id" } })).toMatchObject({
      oidc: { apiToken: "id" },
    });
  });

  it("never offers a provider it cannot use: a bad authority or no client id leaves the paste box", () => {
    for (const bad of [
      { ...oidc, authority: "javascript:alert(1)" },
      { ...oidc, authority: "id.example.com" },
      { ...oidc, clientId: "" },
      {},
    ])
      expect(parseAuthConfig({ mode: "oidc", oidc: bad })).toEqual({ mode: "token" });
  });

  it("falls back to the dev-token form when the server says nothing usable", async () => {
    for (const body of [undefined, null, "oidc", { mode: "saml" }])
      expect(parseAuthConfig(body)).toEqual({ mode: "embedded" });
    const notFound = vi.fn(async () => new Response("{}", { status: 404 }));
    expect(await fetchAuthConfig(notFound as unknown as typeof fetch)).toEqual({
      mode: "embedded",
    });
    const down = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(await fetchAuthConfig(down as unknown as typeof fetch)).toEqual({ mode: "embedded" });
    const ok = vi.fn(async () => Response.json({ mode: "oidc", oidc }));
    expect(await fetchAuthConfig(ok as unknown as typeof fetch)).toEqual({ mode: "oidc", oidc });
    expect(ok).toHaveBeenCalledWith("/v1/auth/config", expect.anything());
  });

  it("asks for the code flow back to this page's root, kept for the tab, without silent renew", () => {
    expect(userManagerSettings(oidc, "https://vwc.example.com")).toEqual({
      authority: oidc.authority,
      client_id: "vwc-dashboard",
      redirect_uri: "https://vwc.example.com/",
      post_logout_redirect_uri: "https://vwc.example.com/",
      response_type: "code",
      scope: "openid profile email",
      loadUserInfo: false,
      automaticSilentRenew: false,
      monitorSession: false,
    });
  });

  it("recognises the provider's redirect back, and its refusals as sentences", () => {
    expect(isSignInCallback("?code=abc&state=xyz")).toBe(true);
    expect(isSignInCallback("?error=access_denied&state=xyz")).toBe(true);
    expect(isSignInCallback("?code=abc")).toBe(false);
    expect(isSignInCallback("")).toBe(false);
    expect(callbackErrorSentence("?error=access_denied&error_description=User+cancelled")).toBe(
      "The identity provider did not sign you in (User cancelled).",
    );
    expect(callbackErrorSentence("?code=abc&state=x")).toBeUndefined();
  });

  it("sends the token the server asked for", () => {
    const user = { access_token: "AT", id_token: "IT" };
    expect(apiTokenOf(user, "access")).toBe("AT");
    expect(apiTokenOf(user, "id")).toBe("IT");
    expect(apiTokenOf({ access_token: "AT" }, "id")).toBeUndefined();
  });
});
