// The signed-in token, kept for this tab only (sessionStorage), and what its claims say.

const KEY = "vwc.token";
/** Whose chat conversations this tab holds (`org/sub` of the token that started them). */
const OWNER_KEY = "vwc.chat.owner";
/** The chat's conversation ids, one per vehicle (`vwc.chat.<vehicleId>`, chat/ChatPane.tsx). */
export const CHAT_KEY_PREFIX = "vwc.chat.";

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

/** Keeps the token; a token for another user or organisation first forgets the chats of the previous one. */
export function saveSession(token: string): void {
  const s = decodeToken(token);
  const owner = s ? `${s.org}/${s.sub}` : "";
  if (sessionStorage.getItem(OWNER_KEY) !== owner) forgetChats();
  sessionStorage.setItem(OWNER_KEY, owner);
  sessionStorage.setItem(KEY, token);
}

/**
 * Removes the token. Signing out (`forget`) also removes this tab's chat conversations, so the next person
 * to sign in here does not see (or continue) them; an expired session keeps them for its user's return.
 */
export function clearSession(forget = false): void {
  sessionStorage.removeItem(KEY);
  if (forget) forgetChats();
}

function forgetChats(): void {
  const keys: string[] = [];
  for (let i = 0; i < sessionStorage.length; i++) {
    const k = sessionStorage.key(i);
    if (k?.startsWith(CHAT_KEY_PREFIX)) keys.push(k);
  }
  keys.forEach((k) => sessionStorage.removeItem(k));
}
