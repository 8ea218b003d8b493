import { useState, type FormEvent } from "react";
import { ApiError, problemSentence } from "../api/client";
import type { DevToken, Problem } from "../api/types";
import { LineForm } from "../ui/LineForm";
import type { OidcConfig, SignInConfig } from "./config";

const ROLES = [
  { value: "owner", label: "Owner" },
  { value: "fleet_manager", label: "Fleet manager" },
  { value: "technician", label: "Technician" },
  { value: "viewer", label: "Viewer" },
] as const;

/**
 * Sign-in as the server asks (`GET /v1/auth/config`): with its OpenID Connect provider (AWS mode), with a
 * dev token minted for an organisation, user and roles (embedded mode: the server issues them only to
 * callers on its own machine), or by pasting a token `vwc up` / `vwc token` printed.
 */
export function SignIn({
  message,
  config,
  busy,
  onToken,
  onProvider,
}: {
  message?: string;
  /** Unknown while the server is asked. */
  config?: SignInConfig;
  /** Finishing a sign-in the provider sent back. */
  busy?: boolean;
  onToken: (token: string) => void;
  onProvider: (oidc: OidcConfig) => Promise<void>;
}) {
  return (
    <main className="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Vehicle Wellness Center</h1>
      {message && (
        <p className="notice" role="alert">
          {message}
        </p>
      )}
      {!config || busy ? (
        <p role="status" className="card">
          {busy ? "Signing you in…" : "Loading…"}
        </p>
      ) : config.mode === "oidc" ? (
        <ProviderSignIn oidc={config.oidc} onProvider={onProvider} />
      ) : config.mode === "embedded" ? (
        <DevTokenForm onToken={onToken} />
      ) : (
        <p className="card">
          This server verifies tokens from an identity provider. Paste one below.
        </p>
      )}
      {!busy && config && <PasteForm onToken={onToken} embedded={config.mode === "embedded"} />}
    </main>
  );
}

function ProviderSignIn({
  oidc,
  onProvider,
}: {
  oidc: OidcConfig;
  onProvider: (oidc: OidcConfig) => Promise<void>;
}) {
  const [error, setError] = useState<string | null>(null);
  const [leaving, setLeaving] = useState(false);
  const host = new URL(oidc.authority).host;

  async function go() {
    if (leaving) return;
    setLeaving(true);
    setError(null);
    try {
      await onProvider(oidc);
    } catch {
      setLeaving(false);
      setError(`The identity provider at ${host} could not be reached. Try again in a moment.`);
    }
  }

  return (
    <section className="card" aria-labelledby="signin-provider">
      <h2 id="signin-provider">Sign in</h2>
      <p>
        You sign in with your organisation&apos;s identity provider (<code>{host}</code>), then come
        back here.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button
        type="button"
        className="primary"
        onClick={() => void go()}
        aria-disabled={leaving || undefined}
      >
        {leaving ? "Opening the identity provider…" : "Sign in with your identity provider"}
      </button>
    </section>
  );
}

function DevTokenForm({ onToken }: { onToken: (token: string) => void }) {
  const [org, setOrg] = useState("org_demo");
  const [sub, setSub] = useState("demo-owner");
  const [roles, setRoles] = useState<string[]>(["owner", "fleet_manager"]);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  // "Tick at least one role", shown beside the roles when Sign in is pressed with none ticked.
  const [noRoles, setNoRoles] = useState(false);

  async function mint(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setNoRoles(roles.length === 0);
    if (roles.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      const res = await fetch("/v1/auth/dev-token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ org: org.trim(), sub: sub.trim(), roles }),
      });
      const body = (await res.json().catch(() => undefined)) as (DevToken & Problem) | undefined;
      if (!res.ok) {
        const msg =
          res.status === 404
            ? "This server does not issue development tokens (it verifies tokens from an identity provider). Paste a token instead."
            : problemSentence(res.status, body);
        throw new ApiError(res.status, msg, body);
      }
      onToken(body!.token);
    } catch (err) {
      setError(
        err instanceof ApiError
          ? err
          : new ApiError(0, "The server could not be reached. Check that vwc is running."),
      );
    } finally {
      setBusy(false);
    }
  }

  // The server's message about a field, announced (role=alert) as the record form's are.
  const fieldError = (f: string) =>
    f === "roles" && noRoles ? (
      <span className="field-error" id="signin-roles-error" role="alert">
        Tick at least one role.
      </span>
    ) : error?.fields[f] ? (
      <span className="field-error" id={`signin-${f}-error`} role="alert">
        {sentence(error.fields[f])}
      </span>
    ) : null;
  // A field error about none of the form's fields is shown as the error.
  const shownFields = error ? FIELDS.filter((f) => error.fields[f]) : [];

  // A required text input with its label and the server's message about it (outside the label, so the
  // message is the input's description, not part of its name).
  const textField = (name: string, label: string, value: string, setValue: (v: string) => void) => (
    <div className="signin-field">
      <label htmlFor={`signin-${name}`}>{label}</label>
      <input
        id={`signin-${name}`}
        name={name}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        required
        aria-invalid={error?.fields[name] ? true : undefined}
        aria-describedby={error?.fields[name] ? `signin-${name}-error` : undefined}
      />
      {fieldError(name)}
    </div>
  );

  return (
    <form onSubmit={mint} className="card" aria-label="Development sign-in">
      <h2>Sign in (development token)</h2>
      {textField("org", "Organisation", org, setOrg)}
      {textField("sub", "User", sub, setSub)}
      <fieldset
        aria-describedby={noRoles || error?.fields.roles ? "signin-roles-error" : undefined}
      >
        <legend>Roles</legend>
        {ROLES.map((r) => (
          <label key={r.value} className="check">
            <input
              type="checkbox"
              name="roles"
              value={r.value}
              checked={roles.includes(r.value)}
              onChange={(e) => {
                setNoRoles(false);
                setRoles((rs) =>
                  e.target.checked ? [...rs, r.value] : rs.filter((x) => x !== r.value),
                );
              }}
            />
            {r.label}
          </label>
        ))}
        {fieldError("roles")}
      </fieldset>
      {error && !shownFields.length && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
      {/* aria-disabled, not disabled: a disabled button would drop focus to <body> while it signs in. */}
      <button type="submit" className="primary" aria-disabled={busy || undefined}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

/** The dev-token form's fields, as the API names them in a 422. */
const FIELDS = ["org", "sub", "roles"] as const;

function sentence(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function PasteForm({ onToken, embedded }: { onToken: (token: string) => void; embedded: boolean }) {
  return (
    <LineForm
      className="card"
      aria-label="Sign in with a token"
      label={
        embedded ? (
          <>
            Token printed by <code>vwc up</code> or <code>vwc token</code>
          </>
        ) : (
          "A bearer token for this API"
        )
      }
      input={{ name: "token" }}
      button="Use this token"
      onSubmit={(text) => {
        const token = text.replace(/^Bearer\s+/i, "");
        if (token) onToken(token);
      }}
    >
      <h2>Or paste a token</h2>
    </LineForm>
  );
}
