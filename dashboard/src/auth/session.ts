// The signed-in token, kept for this tab only (sessionStorage), and what its claims say.

const KEY = "vwc.token";

export interface Session {
  token: string;
  sub: string;
  org: string;
  roles: string[];
  /** Unix seconds. */
  exp?: number;
}

export function decodeToken(token: string): Session | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const json = atob(
      part
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(part.length / 4) * 4, "="),
    );
    const claims = JSON.parse(json) as Record<string, unknown>;
    return {
      token,
      sub: typeof claims.sub === "string" ? claims.sub : "",
      org: typeof claims.org === "string" ? claims.org : "",
      roles: Array.isArray(claims.roles)
        ? claims.roles.filter((r): r is string => typeof r === "string")
        : [],
      exp: typeof claims.exp === "number" ? claims.exp : undefined,
    };
  } catch {
    return undefined;
  }
}

export function isExpired(s: Session, nowMs = Date.now()): boolean {
  return s.exp !== undefined && s.exp * 1000 <= nowMs;
}

export function loadSession(): Session | undefined {
  const token = sessionStorage.getItem(KEY);
  return token ? decodeToken(token) : undefined;
}

export function saveSession(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
