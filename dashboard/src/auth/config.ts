// How this server wants the page to sign in (`GET /v1/auth/config`), and what the OpenID Connect
// library needs from it. Pure functions, so the parsing and the settings are unit-tested; the library
// itself is loaded only when a provider is configured (see oidc.ts).

export interface OidcConfig {
  authority: string;
  clientId: string;
  scope: string;
  /** Which of the provider's tokens the API accepts. */
  apiToken: "access" | "id";
}

export type SignInConfig =
  { mode: "embedded" } | { mode: "token" } | { mode: "oidc"; oidc: OidcConfig };

/** What an older server (no `/v1/auth/config`) or an unreadable answer means: the dev-token form. */
export const FALLBACK: SignInConfig = { mode: "embedded" };

function isHttpUrl(s: unknown): s is string {
  if (typeof s !== "string") return false;
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

/** Reads the route's answer defensively: anything unusable falls back to a mode that still works. */
export function parseAuthConfig(body: unknown): SignInConfig {
  if (!body || typeof body !== "object") return FALLBACK;
  const b = body as Record<string, unknown>;
  if (b.mode === "token") return { mode: "token" };
  if (b.mode !== "oidc") return FALLBACK;
  const o = (b.oidc ?? {}) as Record<string, unknown>;
  const clientId = typeof o.clientId === "string" ? o.clientId.trim() : "";
  // A provider we cannot use leaves the paste box, never a dev-token form the server would refuse.
  if (!isHttpUrl(o.authority) || !clientId) return { mode: "token" };
  const scope =
    typeof o.scope === "string" && o.scope.split(/\s+/).includes("openid")
      ? o.scope.trim()
      : "openid";
  return {
    mode: "oidc",
    oidc: {
      authority: o.authority.replace(/\/+$/, ""),
      clientId,
      scope,
      apiToken: o.apiToken === "id" ? "id" : "access",
    },
  };
}

export async function fetchAuthConfig(fetchFn: typeof fetch = fetch): Promise<SignInConfig> {
  try {
    const res = await fetchFn("/v1/auth/config", { headers: { Accept: "application/json" } });
    if (!res.ok) return FALLBACK;
    return parseAuthConfig(await res.json());
  } catch {
    return FALLBACK;
  }
}

/**
 * Settings for oidc-client-ts's `UserManager`: authorization code flow with PKCE (the library's only
 * flow), back to this page's root, the user kept for this tab only, no silent renew (an expired token
 * returns to sign-in with a message, as a dev token does).
 */
export function userManagerSettings(c: OidcConfig, origin: string) {
  return {
    authority: c.authority,
    client_id: c.clientId,
    redirect_uri: `${origin}/`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: "code",
    scope: c.scope,
    loadUserInfo: false,
    automaticSilentRenew: false,
    monitorSession: false,
  } as const;
}

/** The provider sent the browser back here: `?code=…&state=…` (or `?error=…&state=…`). */
export function isSignInCallback(search: string): boolean {
  const p = new URLSearchParams(search);
  return p.has("state") && (p.has("code") || p.has("error"));
}

/** The token to send to the API, as the server asked. */
export function apiTokenOf(
  user: { access_token?: string; id_token?: string },
  which: OidcConfig["apiToken"],
): string | undefined {
  const t = which === "id" ? user.id_token : user.access_token;
  return t || undefined;
}

/** The provider's refusal as a sentence (`?error=access_denied&error_description=…`). */
export function callbackErrorSentence(search: string): string | undefined {
  const p = new URLSearchParams(search);
  const error = p.get("error");
  if (!error) return undefined;
  const why = p.get("error_description");
  return `The identity provider did not sign you in (${why || error}).`;
}
