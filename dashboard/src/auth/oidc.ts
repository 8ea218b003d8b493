// Sign-in with an OpenID Connect provider through oidc-client-ts (authorization code + PKCE). The
// library is loaded on demand, so embedded mode's initial bundle does not carry it.
import { apiTokenOf, userManagerSettings, type OidcConfig } from "./config";

async function manager(c: OidcConfig) {
  const { UserManager, WebStorageStateStore } = await import("oidc-client-ts");
  const store = new WebStorageStateStore({ store: window.sessionStorage });
  return new UserManager({
    ...userManagerSettings(c, window.location.origin),
    userStore: store,
    stateStore: store,
  });
}

/** Leaves for the provider's sign-in page; it comes back to `/?code=…&state=…`. */
export async function startSignIn(c: OidcConfig): Promise<void> {
  await (await manager(c)).signinRedirect();
}

/** Exchanges the code (with the PKCE verifier kept for this tab) and returns the token for the API. */
export async function completeSignIn(c: OidcConfig, url: string): Promise<string> {
  const user = await (await manager(c)).signinRedirectCallback(url);
  const token = apiTokenOf(user, c.apiToken);
  if (!token) throw new Error(`the identity provider returned no ${c.apiToken} token`);
  return token;
}

/** Forgets what the library kept for this tab (the user, pending sign-in state). */
export function forgetProviderSession(): void {
  for (const key of Object.keys(window.sessionStorage))
    if (key.startsWith("oidc.")) window.sessionStorage.removeItem(key);
}
