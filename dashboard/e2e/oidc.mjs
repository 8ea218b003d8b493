// Browser test of AWS-mode sign-in: a local OpenID Connect provider (oidc-provider.mjs) and `vwc up`
// trusting its JWKS and issuer; chromium signs in through the authorization code flow with PKCE and loads
// the RAV4's page, then a short-lived token returns to sign-in with a message.
//
//   VWC_BIN=path/to/vwc  node e2e/oidc.mjs   [VWC_E2E_OUT=dir for screenshots] [CHROMIUM=path]
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { assert, createHarness, freePort } from "./harness.mjs";
import { startProvider } from "./oidc-provider.mjs";

const require = createRequire(import.meta.url);
const here = resolve(import.meta.dirname, "..");
const bin = process.env.VWC_BIN;
const out = resolve(process.env.VWC_E2E_OUT ?? join(here, "..", "target", "dashboard-e2e"), "oidc");
const CLIENT_ID = "vwc-dashboard";
const USER = {
  sub: "demo-owner",
  name: "Dana Owner",
  org: "org_demo",
  roles: ["owner", "fleet_manager"],
};

const h = createHarness({
  name: "oidc e2e",
  out,
  bin,
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
});
const { step, shot } = h;
let provider;
const dataDir = mkdtempSync(join(tmpdir(), "vwc-e2e-oidc-"));
h.atCleanup(async () => {
  await provider?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function run(args) {
  return new Promise((res, rej) => {
    const p = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    p.stdout.on("data", (c) => (log += c));
    p.stderr.on("data", (c) => (log += c));
    p.once("exit", (code) =>
      code === 0 ? res(log) : rej(new Error(`vwc ${args[0]} exited ${code}:\n${log}`)),
    );
  });
}

function decodeClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

await h.checkSetup();
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) rmSync(join(out, f));

let base;
await step("start the provider, seed, and vwc up trusting the provider", async () => {
  provider = await startProvider({ clientId: CLIENT_ID, audience: "vwc-api", user: USER });
  // The demo seed is loaded with embedded tokens, before the server trusts only the provider.
  await run(["seed", "--data-dir", dataDir]);
  const port = await freePort();
  base = await h.startVwc([
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--jwks",
    `${provider.issuer}/jwks`,
    "--jwt-issuer",
    provider.issuer,
    "--oidc-authority",
    provider.issuer,
    "--oidc-client-id",
    CLIENT_ID,
  ]);
  console.log(`    provider ${provider.issuer}; vwc ${base}`);
});

await step("the server names the provider and mints no dev tokens", async () => {
  const config = await (await fetch(`${base}/v1/auth/config`)).json();
  assert(
    config.mode === "oidc" &&
      config.oidc.authority === provider.issuer &&
      config.oidc.clientId === CLIENT_ID &&
      config.oidc.apiToken === "access",
    `unexpected /v1/auth/config: ${JSON.stringify(config)}`,
  );
  const dev = await fetch(`${base}/v1/auth/dev-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sub: "x", org: "org_demo", roles: ["owner"] }),
  });
  assert(dev.status === 404, `dev tokens are offered (${dev.status})`);
});

await step(
  "the provider refuses a code redeemed with the wrong PKCE verifier, and twice",
  async () => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const q = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: "code",
      scope: "openid",
      redirect_uri: `${base}/`,
      state: "s",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const authorize = async () => {
      const r = await fetch(`${provider.issuer}/authorize?${q}`, { redirect: "manual" });
      return new URL(r.headers.get("location")).searchParams.get("code");
    };
    const redeem = (code, v) =>
      fetch(`${provider.issuer}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          client_id: CLIENT_ID,
          redirect_uri: `${base}/`,
          code,
          code_verifier: v,
        }),
      });
    const wrong = await redeem(await authorize(), randomBytes(32).toString("base64url"));
    assert(wrong.status === 400, `a wrong verifier got ${wrong.status}`);
    const code = await authorize();
    const right = await redeem(code, verifier);
    assert(right.status === 200, `the right verifier got ${right.status}`);
    const again = await redeem(code, verifier);
    assert(again.status === 400, `a used code got ${again.status}`);
    // The API takes the provider's access token, and refuses its ID token (another audience).
    const tokens = await right.json();
    const ok = await fetch(`${base}/v1/vehicles`, {
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    assert(ok.status === 200, `the provider's access token got ${ok.status}`);
    const id = await fetch(`${base}/v1/vehicles`, {
      headers: { Authorization: `Bearer ${tokens.id_token}` },
    });
    assert(id.status === 401, `the ID token (aud ${CLIENT_ID}) got ${id.status}`);
    provider.tokenRequests.length = 0;
  },
);

const page = await h.openPage();
const consoleErrors = [];
page.on("console", (m) => {
  // The browser reports responses the app handles (a chat route's 404) as console errors; those are fine.
  if (m.type() === "error" && !/Failed to load resource: .* status of (401|404)/.test(m.text()))
    consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));

await step("sign-in page offers the identity provider, with it in connect-src", async () => {
  const res = await page.goto(`${base}/`);
  const csp = (await res.allHeaders())["content-security-policy"] ?? "";
  assert(
    new RegExp(`connect-src 'self' ${provider.issuer}(;|$)`).test(csp),
    `connect-src does not name the provider: ${csp}`,
  );
  await page.getByRole("button", { name: "Sign in with your identity provider" }).waitFor();
  assert(
    !(await page.getByRole("heading", { name: "Sign in (development token)" }).count()),
    "the dev-token form is offered although the server mints no dev tokens",
  );
  await shot("signin-oidc");
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const bad = await page.evaluate(async () =>
    (await axe.run(document)).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => v.id),
  );
  assert(!bad.length, `axe: ${bad.join(", ")}`);
});

async function signInThroughProvider() {
  const authorize = page.waitForRequest((r) => r.url().startsWith(`${provider.issuer}/authorize`));
  await page.getByRole("button", { name: "Sign in with your identity provider" }).click();
  const q = new URL((await authorize).url()).searchParams;
  assert(q.get("code_challenge_method") === "S256", "no PKCE S256 challenge in /authorize");
  assert(q.get("redirect_uri") === `${base}/`, `redirect_uri ${q.get("redirect_uri")}`);
  await page.getByLabel("Vehicle", { exact: true }).waitFor();
}

await step("sign in through the provider (code + PKCE) and load the RAV4", async () => {
  await signInThroughProvider();
  assert(
    provider.tokenRequests.length === 1 && provider.tokenRequests[0].ok,
    `token requests: ${JSON.stringify(provider.tokenRequests)}`,
  );
  assert(!new URL(page.url()).search, `the code stayed in the address bar: ${page.url()}`);
  const token = await page.evaluate(() => sessionStorage.getItem("vwc.token"));
  const claims = decodeClaims(token ?? "x.e30.x");
  assert(
    claims.iss === provider.issuer && claims.aud === "vwc-api",
    `the page holds ${JSON.stringify(claims)}`,
  );
  await page.getByText(`${USER.sub} · ${USER.org}`).waitFor();
  const picker = page.getByLabel("Vehicle", { exact: true });
  const rav4 = (await picker.locator("option").allTextContents()).find((o) => o.includes("RAV4"));
  assert(rav4, "no RAV4 in the picker");
  await picker.selectOption({ label: rav4 });
  await page.getByRole("heading", { level: 1, name: /RAV4/ }).waitFor();
  await page.locator(".month").first().waitFor();
  await shot("vehicle-rav4-oidc");
});

await step("an expired provider token returns to sign-in with a message", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in with your identity provider" }).waitFor();
  provider.ttlSeconds = 8;
  await signInThroughProvider();
  await page
    .getByRole("alert")
    .filter({ hasText: /session has expired/i })
    .waitFor({ timeout: 20_000 });
  await page.getByRole("button", { name: "Sign in with your identity provider" }).waitFor();
  await shot("oidc-token-expired");
  provider.ttlSeconds = 3600;
});

await step("no console errors", async () => {
  assert(!consoleErrors.length, `console errors:\n${consoleErrors.join("\n")}`);
});

await h.cleanup();
console.log(
  `\noidc e2e: ${h.timings.length} steps passed in ${h.elapsed()} s; screenshots:\n${h.screenshots.map((s) => `  ${s}`).join("\n")}`,
);
