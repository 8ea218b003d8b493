// What the browser tests (run.mjs, oidc.mjs) share: the setup checks, a free port, `vwc` started and read
// until it prints its URL, chromium launched headless, steps that screenshot and report their failure with
// the tail of vwc's log, and a cleanup that stops everything (politely, then firmly).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { chromium } from "playwright-core";

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * One browser test run, named `name` in its messages, screenshots numbered into `out`. `atCleanup` adds
 * what else to stop or remove; `page` and `browser` are set by the test once it has them.
 */
export function createHarness({ name, out, bin, executablePath }) {
  const h = {
    vwc: undefined,
    vwcLog: "",
    browser: undefined,
    page: undefined,
    screenshots: [],
    timings: [],
    cleanups: [],
    started: Date.now(),
  };

  h.atCleanup = (fn) => h.cleanups.push(fn);

  h.cleanup = async () => {
    await h.browser?.close().catch(() => {});
    const vwc = h.vwc;
    if (vwc && vwc.exitCode === null) {
      vwc.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => (vwc.kill("SIGKILL"), r()), 5000);
        vwc.once("exit", () => (clearTimeout(t), r()));
      });
    }
    for (const fn of h.cleanups) await fn();
  };

  h.fail = async (step, message) => {
    console.error(`\n✗ ${name} step "${step}" failed: ${message}`);
    if (h.vwcLog)
      console.error(`--- vwc log (tail) ---\n${h.vwcLog.split("\n").slice(-25).join("\n")}`);
    await h.cleanup();
    process.exit(1);
  };

  h.shot = async (label) => {
    const file = join(out, `${String(h.screenshots.length + 1).padStart(2, "0")}-${label}.png`);
    await h.page.screenshot({ path: file });
    h.screenshots.push(file);
  };

  h.step = async (label, fn) => {
    const t0 = Date.now();
    try {
      await fn();
    } catch (e) {
      if (h.page) await h.shot(`FAILED-${label.replace(/\W+/g, "-")}`).catch(() => {});
      await h.fail(label, e instanceof Error ? e.message : String(e));
    }
    const ms = Date.now() - t0;
    h.timings.push([label, ms]);
    console.log(`  ✓ ${label} (${ms} ms)`);
  };

  /** Fails the run before it starts when the vwc binary or the browser is missing. */
  h.checkSetup = async () => {
    if (!bin || !existsSync(bin))
      await h.fail("setup", `VWC_BIN must name the vwc binary (got ${bin ?? "nothing"})`);
    if (!existsSync(executablePath))
      await h.fail(
        "setup",
        `${executablePath} is missing: install Debian's chromium (apt-get install -y chromium)`,
      );
  };

  /**
   * Starts `vwc up ARGS` (its output collected for failure reports); resolves with the dashboard's URL,
   * without a trailing slash, once the output shows it and `ready` (what else must have been printed).
   */
  h.startVwc = (args, { ready = /./ } = {}) => {
    h.vwc = spawn(bin, ["up", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
    });
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error("vwc up printed no URL within 120 s")), 120_000);
      const onData = (chunk) => {
        h.vwcLog += chunk.toString();
        const m = /Dashboard: (http:\/\/\S+)/.exec(h.vwcLog);
        if (m && ready.test(h.vwcLog)) {
          clearTimeout(t);
          res(m[1].replace(/\/$/, ""));
        }
      };
      h.vwc.stdout.on("data", onData);
      h.vwc.stderr.on("data", onData);
      h.vwc.once("exit", (code) => rej(new Error(`vwc up exited with ${code}`)));
    });
  };

  /** Headless chromium with a 1400×900 page whose actions wait 15 s at most. */
  h.openPage = async () => {
    h.browser = await chromium.launch({
      executablePath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    const context = await h.browser.newContext({ viewport: { width: 1400, height: 900 } });
    h.page = await context.newPage();
    h.page.setDefaultTimeout(15_000);
    return h.page;
  };

  /** Seconds since the harness was created, for the summary line. */
  h.elapsed = () => ((Date.now() - h.started) / 1000).toFixed(1);

  return h;
}
