// A small OpenID Connect provider for the browser test, just enough of the authorization code flow with
// PKCE (RFC 7636, S256 only) to be checked for real: discovery, /authorize (signs the fixed test user in at
// once and redirects back with a single-use code), /token (checks client, redirect URI and the PKCE
// verifier against the challenge, then returns RS256 ID and access tokens), /jwks. Not for anything else.
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { createServer } from "node:http";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/**
 * Starts the provider on 127.0.0.1 (a free port). `user` is who /authorize signs in; `audience` the `aud`
 * of access tokens; `ttlSeconds` (changeable on the returned object) how long tokens live.
 */
export async function startProvider({ clientId, audience, user, ttlSeconds = 3600 }) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = b64url(randomBytes(8));
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const codes = new Map(); // code → { challenge, redirectUri, nonce, expires }
  const provider = {
    issuer: "",
    ttlSeconds,
    /** What the test can assert on: every token request and how it was answered. */
    tokenRequests: [],
    close: () => new Promise((r) => server.close(r)),
  };

  function jwt(claims) {
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
    const body = b64url(JSON.stringify(claims));
    const signature = sign("RSA-SHA256", Buffer.from(`${header}.${body}`), privateKey);
    return `${header}.${body}.${b64url(signature)}`;
  }

  function send(res, status, body, headers = {}) {
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      // The dashboard fetches discovery, keys and tokens from its own origin.
      "Access-Control-Allow-Origin": "*",
      ...headers,
    });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  }

  async function readForm(req) {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    return new URLSearchParams(raw);
  }

  async function handle(req, res) {
    const url = new URL(req.url, provider.issuer);
    if (req.method === "OPTIONS") {
      return send(res, 204, "", {
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type, Authorization",
      });
    }
    if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      return send(res, 200, {
        issuer: provider.issuer,
        authorization_endpoint: `${provider.issuer}/authorize`,
        token_endpoint: `${provider.issuer}/token`,
        jwks_uri: `${provider.issuer}/jwks`,
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["none"],
        scopes_supported: ["openid", "profile", "email"],
      });
    }
    if (req.method === "GET" && url.pathname === "/jwks") {
      return send(res, 200, { keys: [jwk] });
    }
    if (req.method === "GET" && url.pathname === "/authorize") {
      const p = url.searchParams;
      const redirectUri = p.get("redirect_uri") ?? "";
      const problems = [];
      if (p.get("client_id") !== clientId) problems.push("unknown client_id");
      if (p.get("response_type") !== "code") problems.push("response_type must be code");
      if (p.get("code_challenge_method") !== "S256") problems.push("PKCE S256 is required");
      if (!/^[A-Za-z0-9_-]{43}$/.test(p.get("code_challenge") ?? ""))
        problems.push("code_challenge missing");
      if (!(p.get("scope") ?? "").split(" ").includes("openid"))
        problems.push("scope lacks openid");
      if (!/^https?:\/\//.test(redirectUri)) problems.push("redirect_uri missing");
      // Errors about the client or the redirect are shown here, never sent to an unchecked redirect URI.
      if (problems.length) return send(res, 400, { error: "invalid_request", problems });
      const code = b64url(randomBytes(24));
      codes.set(code, {
        challenge: p.get("code_challenge"),
        redirectUri,
        nonce: p.get("nonce") ?? undefined,
        expires: Date.now() + 60_000,
      });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      back.searchParams.set("state", p.get("state") ?? "");
      res.writeHead(302, { Location: back.toString(), "Cache-Control": "no-store" });
      return res.end();
    }
    if (req.method === "POST" && url.pathname === "/token") {
      const form = await readForm(req);
      const code = form.get("code") ?? "";
      const grant = codes.get(code);
      codes.delete(code); // single use, whatever happens next
      const refuse = (why) => {
        provider.tokenRequests.push({ ok: false, why });
        send(res, 400, { error: "invalid_grant", error_description: why });
      };
      if (form.get("grant_type") !== "authorization_code")
        return refuse("grant_type must be authorization_code");
      if (form.get("client_id") !== clientId) return refuse("unknown client_id");
      if (!grant || grant.expires < Date.now()) return refuse("unknown or used code");
      if (form.get("redirect_uri") !== grant.redirectUri) return refuse("redirect_uri differs");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = b64url(createHash("sha256").update(verifier).digest());
      if (verifier.length < 43 || challenge !== grant.challenge)
        return refuse("code_verifier does not match the code_challenge");
      const now = Math.floor(Date.now() / 1000);
      const exp = now + provider.ttlSeconds;
      const common = { iss: provider.issuer, sub: user.sub, iat: now, exp };
      provider.tokenRequests.push({ ok: true });
      return send(res, 200, {
        token_type: "Bearer",
        expires_in: provider.ttlSeconds,
        scope: "openid profile email",
        access_token: jwt({ ...common, aud: audience, org: user.org, roles: user.roles }),
        id_token: jwt({
          ...common,
          aud: clientId,
          nonce: grant.nonce,
          name: user.name,
          org: user.org,
          roles: user.roles,
        }),
      });
    }
    send(res, 404, { error: "not_found" });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, { error: "server_error", why: String(e) }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  provider.issuer = `http://127.0.0.1:${server.address().port}`;
  return provider;
}
