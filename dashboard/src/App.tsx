import { useCallback, useEffect, useMemo, useState } from "react";
import { Api } from "./api/client";
import { ApiContext } from "./api/context";
import { SignIn } from "./auth/SignIn";
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
import { VehiclePage } from "./vehicle/VehiclePage";

const EXPIRED = "Your session has expired. Please sign in again.";

/** `#/vehicles/veh_1` → vehicle page; `#/fleet` → fleet page. */
export type Route = { page: "vehicles"; vehicleId?: string } | { page: "fleet" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "fleet") return { page: "fleet" };
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

  const signOut = useCallback((why?: string) => {
    clearSession();
    setSession(undefined);
    setMessage(why);
  }, []);

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

  function onToken(token: string) {
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
  }

  useEffect(() => {
    document.title = session ? "Vehicle Wellness Center" : "Sign in · Vehicle Wellness Center";
  }, [session]);

  if (!session || !api) return <SignIn message={message} onToken={onToken} />;

  return (
    <ApiContext.Provider value={{ api, session }}>
      <a className="skip" href="#main">
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
        </nav>
        <div className="topbar-end">
          <Bell />
          <span className="who" title={`Roles: ${session.roles.join(", ")}`}>
            {session.sub} · {session.org}
          </span>
          <button type="button" onClick={() => signOut("You have signed out.")}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "fleet" ? <FleetPage /> : <VehiclePage vehicleId={route.vehicleId} />}
      </main>
    </ApiContext.Provider>
  );
}
