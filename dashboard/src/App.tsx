import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api } from "./api/client";
import { ApiContext } from "./api/context";
import { SignIn } from "./auth/SignIn";
import {
  callbackErrorSentence,
  fetchAuthConfig,
  isSignInCallback,
  type SignInConfig,
} from "./auth/config";
import { completeSignIn, forgetProviderSession, startSignIn } from "./auth/oidc";
import {
  clearSession,
  decodeToken,
  isExpired,
  loadSession,
  saveSession,
  type Session,
} from "./auth/session";
import { FleetPage } from "./fleet/FleetPage";
import { Bell } from "./notifications/Bell";
import { SettingsPage } from "./settings/SettingsPage";
import { VehiclePage } from "./vehicle/VehiclePage";

const EXPIRED = "Your session has expired. Please sign in again.";

/** `#/vehicles/veh_1` → vehicle page; `#/fleet` → fleet page; `#/settings` → settings. */
export type Route =
  { page: "vehicles"; vehicleId?: string } | { page: "fleet" } | { page: "settings" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "fleet") return { page: "fleet" };
  if (parts[0] === "settings") return { page: "settings" };
  return {
    page: "vehicles",
    vehicleId: parts[0] === "vehicles" && parts[1] ? decodeURIComponent(parts[1]) : undefined,
  };
}

function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return useMemo(() => parseRoute(hash), [hash]);
}

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => {
    const s = loadSession();
    return s && !isExpired(s) ? s : undefined;
  });
  const [message, setMessage] = useState<string | undefined>(() => {
    const s = loadSession();
    return s && isExpired(s) ? EXPIRED : undefined;
  });
  const route = useRoute();
  const [config, setConfig] = useState<SignInConfig | undefined>();
  // The provider sent the browser back with a single-use code: redeem it once (StrictMode runs effects
  // twice in development).
  const pendingCallback = useRef(isSignInCallback(window.location.search));
  const [completing, setCompleting] = useState(pendingCallback.current);

  // `forget`: the user signed out (rather than the session expiring): the tab's chats go too.
  const signOut = useCallback((why?: string, forget = false) => {
    clearSession(forget);
    forgetProviderSession();
    setSession(undefined);
    setMessage(why);
  }, []);

  const onToken = useCallback((token: string) => {
    const s = decodeToken(token);
    if (!s) {
      setMessage("That is not a token this dashboard can read. Paste the whole token.");
      return;
    }
    if (isExpired(s)) {
      setMessage("That token has already expired. Mint or paste a new one.");
      return;
    }
    saveSession(token);
    setMessage(undefined);
    setSession(s);
  }, []);

  useEffect(() => {
    let live = true;
    void fetchAuthConfig().then((c) => live && setConfig(c));
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    if (!config || !pendingCallback.current) return;
    pendingCallback.current = false;
    const { href, search } = window.location;
    // The code and state leave the address bar (and history) at once.
    window.history.replaceState(null, "", `${window.location.pathname}#/vehicles`);
    const refused = callbackErrorSentence(search);
    if (refused || config.mode !== "oidc") {
      setMessage(refused ?? "This server does not sign in with an identity provider.");
      setCompleting(false);
      return;
    }
    completeSignIn(config.oidc, href)
      .then(onToken, (e: unknown) =>
        setMessage(
          `Signing in with the identity provider failed (${e instanceof Error ? e.message : String(e)}). Please try again.`,
        ),
      )
      .finally(() => setCompleting(false));
  }, [config, onToken]);

  const api = useMemo(
    () => (session ? new Api(session.token, () => signOut(EXPIRED)) : undefined),
    [session, signOut],
  );

  // A token that expires while the page is open returns to sign-in even before the next request.
  useEffect(() => {
    if (!session?.exp) return;
    const ms = session.exp * 1000 - Date.now();
    const t = window.setTimeout(() => signOut(EXPIRED), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return () => window.clearTimeout(t);
  }, [session, signOut]);

  useEffect(() => {
    document.title = session ? "Vehicle Wellness Center" : "Sign in · Vehicle Wellness Center";
  }, [session]);

  if (!session || !api)
    return (
      <SignIn
        message={message}
        config={config}
        busy={completing}
        onToken={onToken}
        onProvider={startSignIn}
      />
    );

  return (
    <ApiContext.Provider value={{ api, session }}>
      <a
        className="skip"
        href="#main"
        onClick={(e) => {
          // The hash is the router's: `#main` would be read as a page. Move focus only.
          e.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Vehicle Wellness Center</span>
        <nav aria-label="Pages">
          <a href="#/vehicles" aria-current={route.page === "vehicles" ? "page" : undefined}>
            Vehicles
          </a>
          <a href="#/fleet" aria-current={route.page === "fleet" ? "page" : undefined}>
            Fleet
          </a>
          <a href="#/settings" aria-current={route.page === "settings" ? "page" : undefined}>
            Settings
          </a>
        </nav>
        <div className="topbar-end">
          <Bell />
          <span className="who" title={`Roles: ${session.roles.join(", ")}`}>
            {session.sub} · {session.org}
          </span>
          <button type="button" onClick={() => signOut("You have signed out.", true)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "fleet" ? (
          <FleetPage />
        ) : route.page === "settings" ? (
          <SettingsPage />
        ) : (
          <VehiclePage vehicleId={route.vehicleId} />
        )}
      </main>
    </ApiContext.Provider>
  );
}
