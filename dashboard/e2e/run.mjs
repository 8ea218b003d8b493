// Browser end-to-end test of the dashboard: starts `vwc up` (demo seed) on a free port with a fresh data
// dir, drives Debian's chromium through playwright-core, and writes a screenshot of each step.
//
//   VWC_BIN=path/to/vwc  node e2e/run.mjs   [VWC_E2E_OUT=dir for screenshots] [CHROMIUM=path]
//
// Exits non-zero on the first failed step, with the step's name and the vwc log tail.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { assert, createHarness, freePort } from "./harness.mjs";

const require = createRequire(import.meta.url);
const here = resolve(import.meta.dirname, "..");
const out = resolve(process.env.VWC_E2E_OUT ?? join(here, "..", "target", "dashboard-e2e"));
const h = createHarness({
  name: "e2e",
  out,
  bin: process.env.VWC_BIN,
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
});
const { step, shot, fail } = h;
await h.checkSetup();
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith(".png")) rmSync(join(out, f));

/** `vwc up` with the demo seed in a fresh data dir (removed when vwc exits), once it printed its token. */
async function startVwc() {
  const dataDir = mkdtempSync(join(tmpdir(), "vwc-e2e-"));
  const port = await freePort();
  const url = h.startVwc(["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    ready: /Token \(/,
  });
  h.vwc.on("exit", () => rmSync(dataDir, { recursive: true, force: true }));
  return url;
}

/** The demo RAV4's id and its timeline's first 200 records, read through the API with the page's token. */
async function rav4Timeline() {
  return page.evaluate(async () => {
    const h = { Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}` };
    const vehicles = await (await fetch("/v1/vehicles?limit=200", { headers: h })).json();
    const rav4 = vehicles.items.find((v) => v.model === "RAV4");
    const events = await (
      await fetch(`/v1/vehicles/${rav4.id}/events?limit=200`, { headers: h })
    ).json();
    return { vehicleId: rav4.id, items: events.items };
  });
}

async function axeCheck(label) {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
    }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of violations)
    console.log(`    axe (${label}): ${v.impact} ${v.id}: ${v.help} ×${v.nodes}`);
  assert(!bad.length, `axe found serious/critical violations on ${label}: ${JSON.stringify(bad)}`);
}

/** Puts a forged token (expiring at `expSeconds`) in the session and reloads: the page must say the
 * session has expired, whether the server refused the token or the page saw its expiry first. */
async function reloadWithForgedToken(expSeconds) {
  await page.evaluate((t) => sessionStorage.setItem("vwc.token", t), forgedToken(expSeconds));
  await page.reload();
  await page
    .getByRole("alert")
    .filter({ hasText: /session has expired/i })
    .waitFor();
}

/** Waits (up to 2 s) for `locator` to have focus; else fails, saying where focus is. */
async function waitForFocus(locator, what) {
  const el = await locator.elementHandle();
  await page
    .waitForFunction((e) => e === document.activeElement, el, { timeout: 2_000 })
    .catch(async () => {
      const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80));
      throw new Error(`focus should be on ${what}, but is on ${at}`);
    });
}

/** The chat's newest answer, once it has stopped streaming (the model may take a while). */
async function settledAnswer() {
  await page.waitForFunction(
    () => {
      const a = [...document.querySelectorAll(".turn .answer")].pop();
      return a && !a.classList.contains("streaming");
    },
    null,
    { timeout: 60_000 },
  );
  return page.locator(".turn .answer").last();
}

/** The chat pane's "Recommended maintenance" items as text (none when it shows no list). */
async function recommendations() {
  return page.locator(".recommendations li").allTextContents();
}

/** A JWT whose signature is wrong (the server answers 401) with the given expiry. */
function forgedToken(expSeconds) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "demo-owner", org: "org_demo", roles: ["owner"], iss: "vwc", aud: "vwc-api", iat: now - 7200, exp: expSeconds })}.${Buffer.from("forged").toString("base64url")}`;
}

const base = await startVwc().catch((e) => fail("start vwc", e.message));
console.log(`vwc up at ${base}; screenshots in ${out}`);

const page = await h.openPage();

// The vwc binary embeds the bundle it was built with (services/vwc/build.rs). scripts/lib/dashboard.sh
// runs a binary that embeds this checkout's dashboard/dist; one that embeds another would have the run check
// that bundle instead, so it stops here — unless VWC_E2E_SERVE_DIST=1 (a prebuilt binary, while working on
// the dashboard without cargo): then the browser is served this checkout's dist/ in its place (index.html with
// the server's own headers, CSP included), and the run says so.
{
  const dist = join(here, "dist");
  const index = readFileSync(join(dist, "index.html"), "utf8");
  const served = await (await fetch(`${base}/`)).text();
  if (served !== index) {
    assert(
      process.env.VWC_E2E_SERVE_DIST === "1",
      "this vwc embeds another dashboard bundle than dashboard/dist: rebuild it (cargo build -p vwc), or set VWC_E2E_SERVE_DIST=1 to have the browser served dashboard/dist",
    );
    console.log(
      "    !!! this vwc embeds another dashboard bundle: the browser is served dashboard/dist instead (VWC_E2E_SERVE_DIST=1)",
    );
    const types = { js: "text/javascript", css: "text/css", svg: "image/svg+xml" };
    await page.route(
      (url) => url.origin === base && (url.pathname === "/" || url.pathname.startsWith("/assets/")),
      async (route) => {
        const { pathname } = new URL(route.request().url());
        if (pathname === "/") return route.fulfill({ response: await route.fetch(), body: index });
        const file = join(dist, "assets", pathname.slice("/assets/".length).replace(/[/\\]/g, ""));
        return route.fulfill({
          status: 200,
          contentType: types[file.split(".").pop()] ?? "application/octet-stream",
          body: readFileSync(file),
        });
      },
    );
  }
}

// VWC_E2E_API_DELAY_MS=n holds every API answer back n ms, as a slow machine or network would: each
// step must wait for what it reads, not for the time the API usually takes. Off by default.
const apiDelay = Number(process.env.VWC_E2E_API_DELAY_MS ?? 0);
if (apiDelay > 0) {
  console.log(`    every API answer is held back ${apiDelay} ms (VWC_E2E_API_DELAY_MS)`);
  await page.route(
    (url) => url.origin === base && url.pathname.startsWith("/v1/"),
    async (route) => {
      await new Promise((r) => setTimeout(r, apiDelay));
      await route.fallback();
    },
  );
}

// Console errors fail the run, except the browser's own report of a response the test provoked on purpose
// (the 422 of a bad odometer, the 401 of a forged token, the 404 of a chat route not yet deployed).
const consoleErrors = [];
const expectedFailures = [];
// While a step sends a file the server must refuse, its 415 is no console error.
let refusalExpected = false;
page.on("console", (m) => {
  if (m.type() !== "error") return;
  const text = m.text();
  if (
    /Failed to load resource: the server responded with a status of (401|404|422)/.test(text) ||
    (refusalExpected && /status of 415/.test(text))
  )
    expectedFailures.push(text);
  else consoleErrors.push(text);
});
page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
page.on("response", (r) => {
  // Record what the console message does not say: which URL answered which status.
  if (r.status() >= 400) expectedFailures.push(`${r.status()} ${new URL(r.url()).pathname}`);
});

let chatAvailable = false;

await step("sign-in form", async () => {
  const res = await page.goto(`${base}/`);
  const csp = (await res.allHeaders())["content-security-policy"] ?? "";
  assert(
    csp.includes("default-src 'self'"),
    `no CSP on / (got ${JSON.stringify(await res.allHeaders())} ${res.status()})`,
  );
  await page.getByRole("heading", { name: "Sign in (development token)" }).waitFor();
  await shot("signin");
  await axeCheck("sign-in");
});

await step("sign in with a dev token", async () => {
  await page.getByLabel("Organisation").fill("org_demo");
  await page.getByLabel("User").fill("demo-owner");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByLabel("Vehicle", { exact: true }).waitFor();
});

await step("pick the RAV4", async () => {
  const picker = page.getByLabel("Vehicle", { exact: true });
  // The list loads after the picker shows (a busy machine takes a moment).
  await picker
    .locator("option", { hasText: "RAV4" })
    .waitFor({ state: "attached" })
    .catch(() => {});
  const options = await picker.locator("option").allTextContents();
  const rav4 = options.find((o) => o.includes("RAV4"));
  assert(rav4, `no RAV4 among ${JSON.stringify(options)}`);
  await picker.selectOption({ label: rav4 });
  await page.getByRole("heading", { level: 1, name: /RAV4/ }).waitFor();
  await page.locator(".month").first().waitFor();
  await page.locator(".badges .badge").first().waitFor();
  await shot("vehicle-rav4");
});

await step("timeline grouped by month, with status badges", async () => {
  const months = await page.locator(".month-title").allTextContents();
  assert(months.length >= 2, `expected several month groups, got ${JSON.stringify(months)}`);
  for (const m of months)
    assert(/^[A-Z][a-z]+ \d{4}$/.test(m.trim()), `not a month heading: "${m}"`);
  const badges = await page.locator(".badges .badge").allTextContents();
  assert(badges.length > 0, "no maintenance status badges");
  const classes = await page
    .locator(".badges .badge")
    .evaluateAll((els) => els.map((e) => e.className));
  assert(
    classes.every((c) => /badge-(ok|due_soon|overdue|unknown)/.test(c)),
    `badges without a status colour: ${classes}`,
  );
  const odo = await page.locator(".facts").textContent();
  assert(/Odometer/.test(odo ?? "") && /\d/.test(odo ?? ""), `no odometer in the header: ${odo}`);
});

await step("filter chip", async () => {
  await page.getByRole("button", { name: "Maintenance", exact: true }).click();
  await page.waitForFunction(() => {
    const events = [...document.querySelectorAll(".event")];
    return events.length > 0 && events.every((e) => e.classList.contains("kind-maintenance"));
  });
  assert(
    (await page
      .getByRole("button", { name: "Maintenance", exact: true })
      .getAttribute("aria-pressed")) === "true",
    "the chip does not say it is pressed",
  );
  await shot("filter-maintenance");
  await page.getByRole("button", { name: "All", exact: true }).click();
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".event")].some((e) => !e.classList.contains("kind-maintenance")),
  );
});

await step("scrolling loads older events", async () => {
  const before = await page.locator(".event").count();
  assert(before === 20, `first page should hold 20 events, got ${before}`);
  await page.locator(".sentinel").scrollIntoViewIfNeeded();
  await page.waitForFunction((n) => document.querySelectorAll(".event").length > n, before);
  const after = await page.locator(".event").count();
  console.log(`    timeline: ${before} → ${after} events after scrolling`);
  await shot("timeline-scrolled");
  await page.evaluate(() => window.scrollTo(0, 0));
});

await step("event details on click", async () => {
  const first = page.locator(".event-row").first();
  await first.click();
  assert((await first.getAttribute("aria-expanded")) === "true", "details did not open");
  await page.locator(".event-details").first().waitFor();
  await first.click();
});

// The recommendations before the oil change is recorded (the demo RAV4's is due or overdue).
let recommendedBefore = [];

await step("record an event: bad odometer shows its field error", async () => {
  recommendedBefore = await recommendations();
  console.log(`    recommended maintenance: ${recommendedBefore.join(" | ") || "none"}`);
  await page.getByRole("button", { name: "Record event" }).click();
  const form = page.getByRole("form", { name: "Record an event" });
  await form.getByLabel("Title").fill("E2E oil and filter change");
  await form.getByLabel(/Odometer/).fill("9999999");
  await form.getByRole("button", { name: "Record", exact: true }).click();
  const err = form.locator(".field.invalid .field-error");
  await err.waitFor();
  const text = await err.textContent();
  const fieldLabel = await form.locator(".field.invalid label").textContent();
  assert(
    /Odometer/.test(fieldLabel ?? ""),
    `the error is not beside the odometer but "${fieldLabel}"`,
  );
  assert(/below|must/i.test(text ?? ""), `unexpected field error "${text}"`);
  assert(
    (await form.getByLabel(/Odometer/).getAttribute("aria-invalid")) === "true",
    "odometer not marked invalid",
  );
  // The server's 422: focus moves to the field once its error has rendered.
  await waitForFocus(form.getByLabel(/Odometer/), "the odometer after the 422");
  await shot("record-bad-odometer");
});

await step("record an event: a good one appears", async () => {
  const form = page.getByRole("form", { name: "Record an event" });
  await form.getByLabel(/Odometer/).fill("52610");
  // A decimal comma is a decimal: 62,40 is 62.40, never 6,240.00 (checked against the API below).
  await form.getByLabel(/^Cost/).fill("62,40");
  await form.getByRole("button", { name: "Record", exact: true }).click();
  const item = page.locator(".event", { hasText: "E2E oil and filter change" });
  await item.waitFor();
  await page.locator(".event.highlighted", { hasText: "E2E oil and filter change" }).waitFor();
  const recorded = (await rav4Timeline()).items.find(
    (e) => e.title === "E2E oil and filter change",
  );
  assert(
    recorded?.costCents === 6240,
    `a cost typed "62,40" was recorded as ${recorded?.costCents} cents, not 6240`,
  );
  await shot("record-good");
});

await step("record an event: a reading below an earlier one is kept with a warning", async () => {
  await page.getByRole("button", { name: "Record event" }).click();
  const form = page.getByRole("form", { name: "Record an event" });
  await form.getByLabel("Kind").selectOption("odometer_reading");
  // A digit dropped from the 52,610 just recorded ("E2E" keeps it out of the demo records steps below pick).
  await form.getByLabel("Title").fill("E2E odometer typo");
  await form.getByLabel(/Odometer/).fill("5261");
  await form.getByRole("button", { name: "Record", exact: true }).click();
  const warning = page.getByTestId("record-warning");
  await warning.waitFor();
  const text = (await warning.textContent()) ?? "";
  assert(
    /“E2E odometer typo” is recorded\. 5,261 mi is lower than the 52,610 mi recorded on .*rollback/.test(
      text,
    ),
    `unexpected warning "${text}"`,
  );
  await axeCheck("record warning");
  await shot("record-warning");
  // Voided again through the API, so the steps after this one see the demo as before.
  const rav4 = await rav4Timeline();
  const typo = rav4.items.find((e) => e.kind === "odometer_reading" && e.odometer === 5261);
  const voided = await page.evaluate(
    async ([vehicleId, eventId]) => {
      const r = await fetch(`/v1/vehicles/${vehicleId}/events/${eventId}?reason=typo`, {
        method: "DELETE",
        headers: {
          Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}`,
          "If-Match": '"1"',
        },
      });
      return r.status;
    },
    [rav4.vehicleId, typo?.id],
  );
  assert(voided === 200, `voiding the typo answered ${voided}`);
});

await step(
  "receipts: attach a PDF to the new record, download it, and a disguised program is refused",
  async () => {
    const item = page.locator(".event", { hasText: "E2E oil and filter change" });
    const row = item.locator(".event-row");
    if ((await row.getAttribute("aria-expanded")) !== "true") await row.click();
    const files = item.getByRole("region", { name: "Receipts and documents" });
    await files.getByText("No files attached.").waitFor();
    const pdf = Buffer.concat([
      Buffer.from("%PDF-1.4\n% e2e receipt\n"),
      Buffer.from("1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"),
    ]);
    await files
      .getByLabel("Attach a receipt or document")
      .setInputFiles({ name: "oil-receipt.pdf", mimeType: "application/pdf", buffer: pdf });
    await files.getByRole("status").filter({ hasText: "“oil-receipt.pdf” is attached." }).waitFor();
    const listed = await files.getByRole("listitem").allTextContents();
    assert(
      listed.length === 1 && /oil-receipt\.pdf PDF · \d+ B · added/.test(listed[0]),
      `listed: ${JSON.stringify(listed)}`,
    );
    const download = page.waitForEvent("download");
    await files.getByRole("button", { name: "Download oil-receipt.pdf" }).click();
    const file = await download;
    assert(file.suggestedFilename() === "oil-receipt.pdf", `saved as ${file.suggestedFilename()}`);
    assert(
      readFileSync(await file.path()).equals(pdf),
      "the downloaded bytes differ from the uploaded ones",
    );
    // An ELF program named like a receipt: the server judges the bytes, and its sentence is shown.
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(64)]);
    refusalExpected = true;
    await files
      .getByLabel("Attach a receipt or document")
      .setInputFiles({ name: "receipt.pdf", mimeType: "application/pdf", buffer: elf });
    const refused = await files.getByRole("alert").textContent();
    assert(/executable|not an image/i.test(refused ?? ""), `refusal: ${refused}`);
    refusalExpected = false;
    assert((await files.getByRole("listitem").count()) === 1, "the refused file was listed");
    await shot("receipts");
    await row.click();
  },
);

await step("record an event: the chat's recommended maintenance drops the oil change", async () => {
  const oil = (text) => /\boil\b/i.test(text);
  assert(
    recommendedBefore.some(oil),
    `the demo RAV4's oil change should be recommended before one is recorded, got: ${recommendedBefore.join(" | ") || "none"}`,
  );
  await page
    .waitForFunction(
      () =>
        ![...document.querySelectorAll(".recommendations li")].some((li) =>
          /\boil\b/i.test(li.textContent ?? ""),
        ),
      null,
      { timeout: 15_000 },
    )
    .catch(async () => {
      throw new Error(
        `the recommendations still list the oil change after recording one: ${(await recommendations()).join(" | ")}`,
      );
    });
  const after = await recommendations();
  console.log(`    recommended maintenance after: ${after.join(" | ") || "none"}`);
  // The other items stay (their status may move: the new odometer reading can make one overdue).
  const title = (text) => text.split(" · ")[0];
  for (const t of recommendedBefore.filter((t) => !oil(t)).map(title))
    assert(after.map(title).includes(t), `"${t}" is no longer recommended`);
  await page
    .locator(".recommendations")
    .scrollIntoViewIfNeeded()
    .catch(() => {});
  await shot("record-recommendations");
});

await step("chat", async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  const input = page.getByLabel("Your question");
  await input.fill("When was the last oil change?");
  await page.getByRole("button", { name: "Ask", exact: true }).click();
  const answer = await settledAnswer();
  const text = (await answer.textContent()) ?? "";
  if (/not available on this server yet/.test(text)) {
    console.log(
      "    !!! chat-historian is not deployed in this build: checked its graceful message only",
    );
    console.log(
      "    !!! (the next step stubs the stream in the browser to check streaming, citations and feedback)",
    );
    await page.getByRole("status").filter({ hasText: "not available" }).first().waitFor();
  } else {
    chatAvailable = true;
    // The oil change recorded above is the last one: the historian names it (and cites it).
    assert(
      text.includes("E2E oil and filter change"),
      `the answer does not name the oil change just recorded: "${text}"`,
    );
  }
  await shot("chat");
});

await step(
  chatAvailable
    ? "chat: citation scrolls to the event"
    : "chat (stubbed stream): citation scrolls to the event",
  async () => {
    if (!chatAvailable) {
      // Without the historian, answer the chat POST in the browser with a stream shaped as DESIGN §4.3 says,
      // citing the oldest event (not loaded yet), so the streaming, citation and scroll code still run for real.
      const all = await page.evaluate(async () => {
        const token = sessionStorage.getItem("vwc.token");
        const h = { Authorization: `Bearer ${token}` };
        const vehicles = await (await fetch("/v1/vehicles?limit=200", { headers: h })).json();
        const rav4 = vehicles.items.find((v) => v.model === "RAV4");
        const events = await (
          await fetch(`/v1/vehicles/${rav4.id}/events?limit=200`, { headers: h })
        ).json();
        return events.items;
      });
      const oldest = all[all.length - 1];
      await page.route("**/v1/vehicles/*/chat", (route) => {
        const done = {
          answer: `Your first record is "${oldest.title}".`,
          citations: [{ eventId: oldest.id, occurredAt: oldest.occurredAt, title: oldest.title }],
          conversationId: "conv_e2e",
          messageId: "msg_e2e",
        };
        const body =
          'event: delta\ndata: {"text":"Your first record is "}\n\n' +
          `event: delta\ndata: ${JSON.stringify({ text: `"${oldest.title}".` })}\n\n` +
          `event: done\ndata: ${JSON.stringify(done)}\n\n`;
        return route.fulfill({
          status: 200,
          headers: { "content-type": "text/event-stream" },
          body,
        });
      });
      await page.route("**/v1/vehicles/*/chat/*/messages/*/feedback", (route) =>
        route.fulfill({ status: 204 }),
      );
      console.log("    !!! chat stream stubbed in the browser (the historian is not deployed)");
      await page.getByLabel("Your question").fill("What is the first record?");
      await page.getByRole("button", { name: "Ask", exact: true }).click();
    }
    const answer = await settledAnswer();
    {
      const text = (await answer.textContent()) ?? "";
      assert(text.trim().length > 0, "empty answer");
      const citation = answer.locator("button.citation").first();
      await citation.waitFor();
      await citation.click();
      await page.locator(".event.highlighted").waitFor();
      // Smooth scrolling takes a moment.
      await page
        .waitForFunction(() => {
          const el = document.querySelector(".event.highlighted");
          const r = el?.getBoundingClientRect();
          return r && r.top >= 0 && r.bottom <= window.innerHeight;
        })
        .catch(() => {
          throw new Error("the cited event was not scrolled into view");
        });
      await shot("chat-citation");
      const helpful = answer.getByRole("button", { name: "Helpful", exact: true });
      if (await helpful.count()) {
        await helpful.click();
        await answer.getByText("Thanks for the feedback.").waitFor();
      }
    }
    // Only the chat's stubs: with VWC_E2E_SERVE_DIST the route serving dashboard/dist must stay, or a later
    // reload gets the binary's own (older) bundle.
    await page.unroute("**/v1/vehicles/*/chat");
    await page.unroute("**/v1/vehicles/*/chat/*/messages/*/feedback");
    await axeCheck("vehicle page");
  },
);

/** The timeline rows on screen: id, kind, title and cost as shown. */
async function timelineRows() {
  return page.locator(".event").evaluateAll((els) =>
    els.map((e) => ({
      id: e.id.replace(/^event-/, ""),
      kind: [...e.classList].find((c) => c.startsWith("kind-"))?.slice(5),
      title: e.querySelector(".event-title")?.textContent ?? "",
      cost: e.querySelector(".event-cost")?.textContent ?? "",
    })),
  );
}

// The first listed row `pick` accepts, loading older pages (the sentinel) until one is found or none is left.
async function findRow(pick) {
  for (;;) {
    const rows = await timelineRows();
    const hit = rows.find(pick);
    if (hit) return hit;
    if ((await page.locator("button.more").count()) === 0) return undefined;
    await page.locator(".sentinel").scrollIntoViewIfNeeded();
    await page.waitForFunction((n) => document.querySelectorAll(".event").length > n, rows.length);
  }
}

await step(
  "correct a record's cost and void another; both show in the timeline and the history",
  async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const rows = await timelineRows();
    const demo = rows.filter((r) => !r.title.startsWith("E2E"));
    const priced = demo.filter((r) => /[1-9]/.test(r.cost));
    const fix = priced.find((r) => r.kind !== "maintenance") ?? priced[0];
    const drop = demo.find((r) => r.id !== fix?.id && r.kind !== "maintenance");
    assert(fix && drop, `no demo record to correct and void among ${JSON.stringify(rows)}`);
    console.log(`    correcting "${fix.title}" (${fix.cost}), voiding "${drop.title}"`);

    const row = page.locator(`[id="event-${fix.id}"]`);
    await row.locator("button.event-row").click();
    await row.getByRole("button", { name: /^Correct / }).click();
    const dialog = page.getByRole("dialog");
    const form = dialog.getByRole("form", { name: "Correct the record" });
    const cost = form.getByLabel(/^Cost/);
    const shown = Number(fix.cost.replace(/[^\d.]/g, ""));
    assert(
      Number(await cost.inputValue()) === shown,
      `the cost field is not prefilled with ${fix.cost}: "${await cost.inputValue()}"`,
    );
    // The first field, not the "×" that showModal() focuses by itself.
    const focusedLabel = await page.evaluate(() => {
      const el = document.activeElement;
      return el?.closest("dialog") ? (el.labels?.[0]?.textContent ?? el.className) : "outside";
    });
    assert(focusedLabel === "Kind", `focus is on "${focusedLabel}", not the dialog's first field`);
    await cost.fill("123.45");
    await form.getByLabel("Reason (optional)").fill("E2E: the receipt says 123.45");
    await shot("correct-dialog");
    // At 320 px the dialog stays within the screen and the page does not scroll sideways.
    await page.setViewportSize({ width: 320, height: 640 });
    await page.waitForTimeout(100);
    const box = await dialog.boundingBox();
    assert(
      box && box.x >= 0 && box.x + box.width <= 320,
      `the dialog leaves a 320 px screen: ${JSON.stringify(box)}`,
    );
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    assert(
      overflow <= 0,
      `the page scrolls sideways by ${overflow} px at 320 px with the dialog open`,
    );
    await shot("correct-dialog-320");
    await page.setViewportSize({ width: 1400, height: 900 });
    const patched = page.waitForRequest((r) => r.method() === "PATCH");
    await form.getByRole("button", { name: "Save correction" }).click();
    // The correction names the revision the dialog read (the record's history, read when it opened).
    const ifMatch = (await patched).headers()["if-match"];
    assert(ifMatch === '"1"', `the correction's If-Match is ${ifMatch}, not "1"`);
    await dialog.waitFor({ state: "detached" });
    const focused = await page.evaluate(() => document.activeElement?.id);
    assert(
      focused === `correct-${fix.id}`,
      `focus did not return to the row's Correct button but to "${focused}"`,
    );
    await page.waitForFunction(
      (id) =>
        /\$123\.45/.test(
          document.querySelector(`[id="event-${id}"] .event-cost`)?.textContent ?? "",
        ),
      fix.id,
    );
    assert(
      /corrected/.test((await row.locator(".event-meta").textContent()) ?? ""),
      "the row is not marked corrected",
    );

    await row.getByRole("button", { name: /^History / }).click();
    const history = page.getByRole("dialog");
    await history.getByText("Corrected (revision 2)").waitFor();
    const text = (await history.textContent()) ?? "";
    for (const want of [
      "Recorded (revision 1)",
      "by demo-owner",
      "E2E: the receipt says 123.45",
      "$123.45",
    ])
      assert(text.includes(want), `the history does not say "${want}": ${text}`);
    await shot("record-history");
    await page.keyboard.press("Escape");
    await history.waitFor({ state: "detached" });
    assert(
      (await page.evaluate(() => document.activeElement?.id)) === `history-${fix.id}`,
      "focus did not return to the row's History button",
    );

    // Another client renames the record to void after this page listed it: the dialog reads the record
    // when it opens, so it names the record as it now is, at its new revision.
    const renamed = `E2E renamed elsewhere ${drop.id.slice(-4)}`;
    await page.evaluate(
      async ([id, title]) => {
        const h = {
          Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}`,
          "Content-Type": "application/json",
        };
        const vehicles = await (await fetch("/v1/vehicles?limit=200", { headers: h })).json();
        const vid = vehicles.items.find((v) => v.model === "RAV4").id;
        const r = await fetch(`/v1/vehicles/${vid}/events/${id}`, {
          method: "PATCH",
          headers: h,
          body: JSON.stringify({ title }),
        });
        if (!r.ok) throw new Error(`renaming the record answered ${r.status}`);
      },
      [drop.id, renamed],
    );
    const gone = page.locator(`[id="event-${drop.id}"]`);
    await gone.locator("button.event-row").click();
    await gone.getByRole("button", { name: /^Void / }).click();
    const voiding = page.getByRole("dialog");
    await voiding.getByRole("heading", { name: `Void “${renamed}”` }).waitFor();
    await voiding.getByRole("button", { name: "Continue" }).click();
    await voiding.locator(".field-error").waitFor();
    await voiding.getByLabel("Reason (required)").fill("E2E: entered twice");
    await voiding.getByRole("button", { name: "Continue" }).click();
    // At 320 px the confirm step's buttons go onto another line whole: no label breaks inside a word.
    await page.setViewportSize({ width: 320, height: 640 });
    await page.waitForTimeout(100);
    const broken = await voiding.locator(".actions button").evaluateAll((buttons) =>
      buttons
        .filter((b) => {
          const range = document.createRange();
          range.selectNodeContents(b);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          return !/\s/.test(b.textContent.trim()) && lines.size > 1;
        })
        .map((b) => b.textContent),
    );
    assert(broken.length === 0, `buttons broken mid-word at 320 px: ${JSON.stringify(broken)}`);
    await shot("void-confirm-320");
    await page.setViewportSize({ width: 1400, height: 900 });
    const deleted = page.waitForRequest((r) => r.method() === "DELETE");
    await voiding.getByRole("button", { name: "Void the record" }).click();
    const voidIfMatch = (await deleted).headers()["if-match"];
    assert(voidIfMatch === '"2"', `the void's If-Match is ${voidIfMatch}, not "2"`);
    await voiding.waitFor({ state: "detached" });
    await gone.waitFor({ state: "detached" });
    assert(
      (await page.evaluate(() => document.activeElement?.closest(".event, .timeline") != null)) ===
        true,
      "focus was lost after the void",
    );

    // The read model follows through the bus: once it has, a fresh page shows the same.
    await page.evaluate(
      async ([fixId, dropId]) => {
        const h = { Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}` };
        const vehicles = await (await fetch("/v1/vehicles?limit=200", { headers: h })).json();
        const vid = vehicles.items.find((v) => v.model === "RAV4").id;
        for (let i = 0; i < 40; i++) {
          const r = await (
            await fetch(`/v1/vehicles/${vid}/events?limit=200`, { headers: h })
          ).json();
          const fixed = r.items.find((e) => e.id === fixId);
          if (fixed?.costCents === 12345 && !r.items.some((e) => e.id === dropId)) return;
          await new Promise((res) => setTimeout(res, 250));
        }
        throw new Error("the timeline's read model did not follow the correction and the void");
      },
      [fix.id, drop.id],
    );
    await page.reload();
    await page.locator(".month").first().waitFor();
    const after = await timelineRows();
    assert(!after.some((r) => r.id === drop.id), "the voided record is still on the timeline");
    assert(
      after.find((r) => r.id === fix.id)?.cost.includes("123.45"),
      "the corrected record does not show its new cost after a reload",
    );
    await shot("after-correct-and-void");

    // "Show voided records" lists the voided record again, struck through, with its reason, history only.
    const showVoided = page.getByRole("checkbox", { name: "Show voided records" });
    assert(!(await showVoided.isChecked()), "voided records are shown by default");
    const listed = page.waitForRequest(
      (r) => r.method() === "GET" && /\/events\?.*includeVoided=true/.test(r.url()),
    );
    await showVoided.check();
    await listed;
    const voidedRow = page.locator(`[id="event-${drop.id}"]`);
    // Twice in stop 45 (the first two runs on a fresh machine; not in a dozen since, under load too) this
    // row was not shown 15 s after "Show voided records" was ticked. Say what the page and the API held,
    // then read the page again once, instead of stopping there without a clue.
    if (
      !(await voidedRow.waitFor({ timeout: 10_000 }).then(
        () => true,
        () => false,
      ))
    ) {
      const held = await timelineRows();
      const api = await page.evaluate(async (id) => {
        const h = { Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}` };
        const vehicles = await (await fetch("/v1/vehicles?limit=200", { headers: h })).json();
        const vid = vehicles.items.find((v) => v.model === "RAV4").id;
        const r = await (
          await fetch(`/v1/vehicles/${vid}/events?limit=20&includeVoided=true`, { headers: h })
        ).json();
        return { at: r.items.findIndex((e) => e.id === id), of: r.items.length };
      }, drop.id);
      console.log(
        `    !!! the voided "${renamed}" (${drop.id}) is not shown: ${held.length} rows are ` +
          `(checkbox ${(await showVoided.isChecked()) ? "ticked" : "not ticked"}); the API's first page ` +
          `with includeVoided=true has it at ${api.at} of ${api.of}; reading the page again`,
      );
      await page.reload();
      await page.getByRole("checkbox", { name: "Show voided records" }).check();
      await voidedRow.waitFor();
    }
    assert(
      await voidedRow.evaluate((li) => li.classList.contains("voided")),
      "the voided record is not marked voided",
    );
    // The row button's text is its name: "Voided on …: <reason>" is read with it.
    const voidedName = (await voidedRow.locator("button.event-row").textContent()) ?? "";
    for (const want of ["Voided on", "E2E: entered twice", renamed])
      assert(voidedName.includes(want), `the voided row does not say "${want}": ${voidedName}`);
    const struck = await voidedRow
      .locator(".event-title")
      .evaluate((el) => getComputedStyle(el).textDecorationLine);
    assert(struck.includes("line-through"), `the voided title is not struck through: ${struck}`);
    await voidedRow.locator("button.event-row").click();
    await voidedRow.getByRole("button", { name: /^History / }).waitFor();
    assert(
      (await voidedRow.getByRole("button", { name: /^(Correct|Void) / }).count()) === 0,
      "a voided record offers Correct or Void",
    );
    await voidedRow.scrollIntoViewIfNeeded();
    await shot("voided-shown");
    await axeCheck("timeline with voided records");
    // Unticking lists the timeline again from its first page: wait for that list, not only for the voided
    // row to go (it goes as soon as the old list is dropped, before the new one has arrived).
    const relisted = page.waitForResponse(
      (r) =>
        r.request().method() === "GET" &&
        /\/events\?/.test(r.url()) &&
        !/includeVoided/.test(r.url()),
    );
    await showVoided.uncheck();
    await relisted;
    await voidedRow.waitFor({ state: "detached" });
    await page.locator(".event").first().waitFor();

    // A correction that changes a repair into an upgrade (neither has details in the form) sends
    // `details: null`, so the repair's parts and system do not stay on the upgrade (the API's 422).
    const repair = await findRow((r) => r.kind === "repair" && r.id !== fix.id && r.id !== drop.id);
    assert(repair, "no demo repair on the timeline to change into an upgrade");
    const repairRow = page.locator(`[id="event-${repair.id}"]`);
    await repairRow.locator("button.event-row").click();
    await repairRow.getByRole("button", { name: /^Correct / }).click();
    const kindDialog = page.getByRole("dialog");
    const kindForm = kindDialog.getByRole("form", { name: "Correct the record" });
    await kindForm.getByLabel("Kind").selectOption("upgrade");
    const kindPatch = page.waitForResponse((r) => r.request().method() === "PATCH");
    await kindForm.getByRole("button", { name: "Save correction" }).click();
    const answered = await kindPatch;
    const sent = answered.request().postDataJSON();
    assert(
      sent.kind === "upgrade" && "details" in sent && sent.details === null,
      `the kind change sent ${JSON.stringify(sent)}, not kind "upgrade" with details null`,
    );
    assert(
      answered.status() === 200,
      `the kind change answered ${answered.status()}: ${await answered.text()}`,
    );
    await kindDialog.waitFor({ state: "detached" });
    await page.locator(`[id="event-${repair.id}"].kind-upgrade`).waitFor();
  },
);

await step("fleet page: chart and counts", async () => {
  await page.getByRole("link", { name: "Fleet" }).click();
  await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
  await page.locator(".fleet-table tbody tr").first().waitFor();
  // One chart per currency the costs are in (the demo's are all in dollars).
  await page.getByTestId("cost-chart").first().waitFor();
  const bars = await page.locator("[data-testid=cost-chart] rect").count();
  assert(bars > 0, "the cost chart has no bars");
  const vehicles = Number(await page.getByTestId("fleet-vehicles").textContent());
  const rows = await page.locator(".fleet-table tbody tr").count();
  assert(
    vehicles === 2 && rows === 2,
    `org_demo has 2 vehicles; totals say ${vehicles}, table has ${rows}`,
  );
  const overdue = Number(await page.getByTestId("fleet-overdue").textContent());
  assert(Number.isInteger(overdue) && overdue >= 0, "no overdue count");
  const vehiclesOverdue = Number(await page.getByTestId("fleet-vehicles-overdue").textContent());
  assert(
    Number.isInteger(vehiclesOverdue) &&
      vehiclesOverdue <= Math.min(overdue, vehicles) &&
      vehiclesOverdue > 0 === overdue > 0,
    `vehicles with items overdue ${vehiclesOverdue} beside ${overdue} items of ${vehicles} vehicles`,
  );
  // Sorting by vehicle name puts the Civic (Honda) before the RAV4 (Toyota).
  await page.getByRole("button", { name: /^Vehicle/ }).click();
  const names = await page.locator(".fleet-table tbody th a").allTextContents();
  assert(names[0]?.includes("Civic"), `sorted by name, first is ${names[0]}`);
  await shot("fleet");
  await axeCheck("fleet page");
  // The table's value is the one the vehicle's own page shows (both are its current value).
  const first = page.locator(".fleet-table tbody tr").first();
  const inTable = (await first.locator("td").nth(3).textContent())?.trim();
  await first.locator("th a").click();
  const header = page.locator("button.value").first();
  await header.waitFor();
  const onPage = (await header.textContent())?.trim();
  assert(inTable === onPage, `the fleet table says ${inTable}, the vehicle's page ${onPage}`);
  await page.getByRole("link", { name: "Fleet" }).click();
  await page.locator(".fleet-table tbody tr").first().waitFor();
});

await step("bell: mark as read lowers the unread count", async () => {
  // The event recorded above changes maintenance status, and reminders follow through the bus: wait until
  // the unread count holds still, then reload so the bell shows it.
  await page.evaluate(async () => {
    const token = sessionStorage.getItem("vwc.token");
    const unread = async () => {
      const r = await fetch("/v1/notifications?unread=true&limit=200", {
        headers: { Authorization: `Bearer ${token}` },
      });
      return (await r.json()).items.length;
    };
    let last = -1;
    let same = 0;
    for (let i = 0; i < 60 && same < 4; i++) {
      const n = await unread();
      same = n === last ? same + 1 : 0;
      last = n;
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  await page.reload();
  const count = page.getByTestId("unread-count");
  await count.waitFor();
  const before = Number((await count.textContent())?.replace("+", ""));
  assert(before > 0, `the demo should have unread notifications, the bell says ${before}`);
  await page.getByRole("button", { name: /^Notifications, / }).click();
  await page
    .getByRole("button", { name: /^Mark as read/ })
    .first()
    .click();
  await page.waitForFunction((n) => {
    const el = document.querySelector("[data-testid=unread-count]");
    const v = el ? Number(el.textContent.replace("+", "")) : 0;
    return v < n;
  }, before);
  const after = Number(
    (
      await page
        .getByTestId("unread-count")
        .textContent()
        .catch(() => "0")
    )?.replace("+", ""),
  );
  console.log(`    bell: ${before} → ${after} unread`);
  await shot("bell");
  await page.keyboard.press("Escape");
});

await step("layout at 1400 px: two columns", async () => {
  await page.goto(`${base}/#/vehicles`);
  await page.locator(".month").first().waitFor();
  // The first month can be there before the page has settled (the route renders again as its reads
  // answer): measure until the columns stand side by side, for up to 2 s, and report the last boxes.
  const sideBySide = (tl, chat) =>
    tl && chat && chat.x > tl.x + tl.width - 1 && Math.abs(chat.y - tl.y) < 5;
  let boxes = [];
  for (let tries = 0; tries < 20; tries++) {
    boxes = await Promise.all([
      page.locator(".columns > .column").nth(0).boundingBox(),
      page.locator(".columns > .column").nth(1).boundingBox(),
    ]);
    if (sideBySide(...boxes)) break;
    await page.waitForTimeout(100);
  }
  assert(sideBySide(...boxes), `columns are not side by side: ${JSON.stringify(boxes)}`);
  await shot("layout-1400");
});

await step("layout at 390 px: stacked, no sideways scroll", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const [tl, chat] = await Promise.all([
    page.locator(".columns > .column").nth(0).boundingBox(),
    page.locator(".columns > .column").nth(1).boundingBox(),
  ]);
  assert(tl && chat && chat.y >= tl.y + tl.height - 1, "columns do not stack under 900 px");
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth,
  );
  assert(overflow <= 0, `the page scrolls sideways by ${overflow} px at 390 px`);
  await shot("layout-390");
  // The bell's panel hangs from the top bar, within the screen (not from the bell, mid-screen on a phone).
  await page.getByRole("button", { name: /^Notifications, / }).click();
  const panel = await page.locator("#notifications-panel").boundingBox();
  assert(
    panel && panel.x >= 0 && panel.x + panel.width <= 390,
    `the notifications panel is not within the 390 px screen: ${JSON.stringify(panel)}`,
  );
  await shot("layout-390-bell");
  await page.keyboard.press("Escape");
  // The fleet table scrolls in its own box; the page does not scroll sideways.
  await page.getByRole("link", { name: "Fleet" }).click();
  await page.locator(".fleet-table tbody tr").first().waitFor();
  const fleetOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth,
  );
  assert(fleetOverflow <= 0, `the fleet page scrolls sideways by ${fleetOverflow} px at 390 px`);
  await shot("layout-390-fleet");
  await page.setViewportSize({ width: 1400, height: 900 });
});

await step("keyboard: focus is visible", async () => {
  await page.goto(`${base}/#/vehicles`);
  await page.locator(".month").first().waitFor();
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => {
    const el = document.activeElement;
    const s = el ? getComputedStyle(el) : null;
    return s ? `${s.outlineStyle} ${s.outlineWidth}` : "none";
  });
  assert(
    !/^none/.test(outline) && !/ 0px$/.test(outline),
    `focused element has no visible outline (${outline})`,
  );
});

await step("keyboard: skip to content moves focus, not the page", async () => {
  const hash = await page.evaluate(() => window.location.hash);
  await page.getByRole("link", { name: "Skip to content" }).focus();
  await page.keyboard.press("Enter");
  const after = await page.evaluate(() => ({
    focused: document.activeElement?.id,
    hash: window.location.hash,
  }));
  assert(
    after.focused === "main" && after.hash === hash,
    `"Skip to content" should focus <main> and stay on ${hash}, got ${JSON.stringify(after)}`,
  );
});

// Registration and settings run as another organisation (org_solo, no vehicles), so org_demo keeps the two
// vehicles the fleet step counts.
await step("register a vehicle: from the empty state, then from the picker", async () => {
  await page.goto(`${base}/#/vehicles`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Organisation").fill("org_solo");
  await page.getByLabel("User").fill("solo-owner");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("No vehicles are registered in this organisation yet.").waitFor();
  await shot("register-empty");
  // Escape (and Cancel) return focus to the button: the page behind the modal dialog is inert until it closes.
  const opener = page.getByRole("button", { name: "Register a vehicle" });
  await opener.focus();
  await page.keyboard.press("Enter");
  let dialog = page.getByRole("dialog", { name: "Register a vehicle" });
  await dialog.getByLabel("VIN", { exact: true }).waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await waitForFocus(opener, `"Register a vehicle" after Escape`);
  await opener.click();
  dialog = page.getByRole("dialog", { name: "Register a vehicle" });
  const vin = dialog.getByLabel("VIN", { exact: true });
  await vin.waitFor();
  assert(
    await vin.evaluate((el) => el === document.activeElement),
    "the VIN field should have focus when the dialog opens",
  );
  // The example VIN of docs/vin.md: decoded as it is typed (make and year filled in).
  await vin.fill("1HGCM82633A004352");
  await dialog.getByText(/From the VIN: Honda/).waitFor();
  assert((await dialog.getByLabel("Make").inputValue()) === "Honda", "the make was not filled in");
  assert((await dialog.getByLabel("Model year").inputValue()) === "2003", "no year filled in");
  await dialog.getByLabel("Model", { exact: true }).fill("Accord");
  await dialog.getByLabel("Nickname (optional)").fill("Daily");
  await dialog.getByRole("button", { name: "Register", exact: true }).click();
  await page.waitForFunction(() => /^#\/vehicles\/veh_/.test(window.location.hash));
  await page.getByRole("heading", { level: 1, name: /2003 Honda Accord/ }).waitFor();

  // The second from the picker's button: a typo in the check digit is said beside the VIN first.
  await page.getByRole("button", { name: "Register a vehicle" }).click();
  dialog = page.getByRole("dialog", { name: "Register a vehicle" });
  await dialog.getByLabel("VIN", { exact: true }).fill("2T3P1RFV8MW123456");
  await dialog.getByText(/check digit \(the 9th character\) is 8/).waitFor();
  await axeCheck("registration dialog");
  await shot("register-check-digit");
  // Sent without ticking "Register the VIN as written": the server's 422 is said once, and focus moves
  // to the VIN once it has rendered.
  await dialog.getByLabel("Model", { exact: true }).fill("RAV4");
  await dialog.getByRole("button", { name: "Register", exact: true }).click();
  await dialog.locator(".field.invalid .field-error").waitFor();
  await waitForFocus(dialog.getByLabel("VIN", { exact: true }), "the VIN after the 422");
  await dialog.getByLabel("VIN", { exact: true }).fill("2T3P1RFV3MW123456");
  await dialog.getByText(/From the VIN: Toyota/).waitFor();
  await dialog.getByLabel("Model", { exact: true }).fill("RAV4");
  await dialog.getByLabel("Kilometres (km)").check();
  await dialog.getByRole("button", { name: "Register", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: /2021 Toyota RAV4/ }).waitFor();
  const picker = page.getByLabel("Vehicle", { exact: true });
  const options = await picker.locator("option").allTextContents();
  assert(
    options.length === 2 && options.some((o) => o.includes("Accord")),
    `the picker should list both new vehicles, lists ${JSON.stringify(options)}`,
  );
  assert(
    (await picker.evaluate((el) => el.selectedOptions[0]?.textContent)) === "2021 Toyota RAV4",
    "the picker should show the vehicle just registered",
  );
  await shot("registered");
});

await step("settings: save a preference and rotate the calendar link", async () => {
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { level: 1, name: "Settings" }).waitFor();
  // This server sends no e-mail: the API's 422 shows as a sentence beside the field.
  const email = page.getByLabel("E-mail address");
  await email.fill("fleet@example.com");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText(/^This server does not send e-mail/).waitFor();
  assert((await email.getAttribute("aria-invalid")) === "true", "the e-mail field is not marked");
  await waitForFocus(email, "the e-mail field after the 422");
  await email.fill("");
  await page.getByLabel("Hold e-mail and webhook reminders during quiet hours").check();
  await page.getByLabel("From").fill("21:30");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page
    .getByTestId("prefs-status")
    .filter({ hasText: /^Saved on / })
    .waitFor();
  const prefs = await page.evaluate(async () => {
    const h = { Authorization: `Bearer ${sessionStorage.getItem("vwc.token")}` };
    return (await fetch("/v1/notifications/preferences", { headers: h })).json();
  });
  assert(
    prefs.quietHours?.start === "21:30" && prefs.email === null,
    `the saved preferences are ${JSON.stringify(prefs)}`,
  );

  const link = page.getByLabel("Fleet calendar link");
  await link.waitFor();
  const before = await link.inputValue();
  assert(/\/calendar\/org_solo\/.+\/fleet\/maintenance\.ics$/.test(before), `link ${before}`);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.getByRole("button", { name: "Copy link" }).click();
  await page.getByText("Copied to the clipboard.").waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert(copied === before, `the clipboard holds ${copied}, not the link`);
  // An organisation whose outbound deliveries never failed: the section says so (and axe checks it).
  await page.getByText("No failed deliveries").waitFor();
  await shot("settings");
  await axeCheck("settings page");

  const rotateButton = page.getByRole("button", { name: "Rotate link" });
  await rotateButton.focus();
  await page.keyboard.press("Enter");
  const confirm = page.getByRole("dialog", { name: "Rotate the calendar link?" });
  await confirm.waitFor();
  await page.keyboard.press("Escape");
  await confirm.waitFor({ state: "detached" });
  await waitForFocus(rotateButton, `"Rotate link" after Escape`);
  assert((await link.inputValue()) === before, "Escape rotated the link");
  await rotateButton.click();
  await confirm.waitFor();
  await shot("settings-rotate-confirm");
  await confirm.getByRole("button", { name: "Rotate link" }).click();
  await confirm.waitFor({ state: "detached" });
  await page.waitForFunction((old) => {
    const el = document.querySelector("input[name=calendar]");
    return el && el.value && el.value !== old;
  }, before);
  const after = await link.inputValue();
  await page.getByText(/the old links no longer work/).waitFor();
  await waitForFocus(rotateButton, `"Rotate link" after confirming`);
  // The old link is revoked (404); the new one serves the feed.
  const [oldStatus, newStatus] = await Promise.all(
    [before, after].map(async (u) => (await fetch(u)).status),
  );
  assert(oldStatus === 404 && newStatus === 200, `old link ${oldStatus}, new link ${newStatus}`);
  await shot("settings-rotated");
});

// A vehicle's own actions run as a third organisation (org_northwind, its fleet manager), so org_demo keeps
// its two active vehicles and the RAV4 unsold.
/** Opens the vehicle the picker names `label` (part of its name) and waits for its header. */
async function openVehicle(label) {
  const picker = page.getByLabel("Vehicle", { exact: true });
  await picker.locator("option", { hasText: label }).waitFor({ state: "attached" });
  const name = (await picker.locator("option", { hasText: label }).textContent()) ?? label;
  await picker.selectOption({ label: name });
  await page.getByRole("heading", { level: 1, name: new RegExp(label) }).waitFor();
}

await step("vehicle actions: edit details, calendar link, export, import", async () => {
  await page.goto(`${base}/#/vehicles`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Organisation").fill("org_northwind");
  await page.getByLabel("User").fill("northwind-fleet");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await openVehicle("Van 1");
  const actions = page.getByRole("group", { name: "Vehicle actions" });

  // Edit details: focus on the first field; the plate and colour show under the name once saved.
  const edit = actions.getByRole("button", { name: "Edit details" });
  await edit.click();
  let dialog = page.getByRole("dialog", { name: "Edit the vehicle's details" });
  const nickname = dialog.getByLabel("Nickname (optional)");
  await nickname.waitFor();
  assert(
    await nickname.evaluate((el) => el === document.activeElement),
    "the nickname field should have focus when the dialog opens",
  );
  await dialog.getByLabel("Registration plate (optional)").fill("NW-001");
  await dialog.getByLabel("Colour (optional)").fill("Frozen White");
  await axeCheck("edit details dialog");
  await dialog.getByRole("button", { name: "Save", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
  await page
    .locator(".vehicle-id")
    .getByText(/Frozen White · plate NW-001 · VIN/)
    .waitFor();
  assert(
    await edit.evaluate((el) => el === document.activeElement),
    "focus should return to “Edit details”",
  );

  // The calendar link: this vehicle's signed feed, copied.
  await actions.getByRole("button", { name: "Calendar link" }).click();
  dialog = page.getByRole("dialog", { name: /^Calendar link for/ });
  const link = dialog.getByLabel("This vehicle's calendar link");
  await link.waitFor();
  const url = await link.inputValue();
  assert(/\/calendar\/org_northwind\/.+\/vehicles\/veh_.+\/maintenance\.ics$/.test(url), url);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await dialog.getByRole("button", { name: "Copy link" }).click();
  await dialog.getByText("Copied to the clipboard.").waitFor();
  assert((await page.evaluate(() => navigator.clipboard.readText())) === url, "not copied");
  const feed = await fetch(url);
  assert(feed.status === 200 && /BEGIN:VCALENDAR/.test(await feed.text()), `feed ${feed.status}`);
  await axeCheck("calendar link dialog");
  await shot("vehicle-calendar-link");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });

  // Export: a download through fetch (the bearer token), named after the vehicle.
  await actions.getByRole("button", { name: "Export history" }).click();
  dialog = page.getByRole("dialog", { name: /^Export the history/ });
  const download = page.waitForEvent("download");
  await dialog.getByRole("button", { name: "Download" }).click();
  const file = await download;
  const name = file.suggestedFilename();
  assert(
    /^2020-ford-transit-van-1-history-\d{4}-\d{2}-\d{2}\.csv$/.test(name),
    `exported as ${name}`,
  );
  const csv = readFileSync(await file.path(), "utf8");
  assert(
    csv.startsWith("id,occurredAt,kind,title") && csv.includes("Alternator replaced"),
    `the export holds ${csv.slice(0, 200)}`,
  );
  await dialog.getByText(`Downloaded “${name}”.`).waitFor();
  // The same history with its files: one ZIP archive (its first local header, its manifest, its end record).
  await dialog.getByLabel("ZIP").check();
  const zipDownload = page.waitForEvent("download");
  await dialog.getByRole("button", { name: "Download" }).click();
  const zipFile = await zipDownload;
  assert(/-history-\d{4}-\d{2}-\d{2}\.zip$/.test(zipFile.suggestedFilename()), "zip name");
  const zip = readFileSync(await zipFile.path());
  assert(
    zip.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")) &&
      zip.includes("history.csv") &&
      zip.includes("attachments.json") &&
      zip.includes("Alternator replaced") &&
      zip.subarray(zip.length - 22, zip.length - 18).equals(Buffer.from("PK\x05\x06", "latin1")),
    `the archive begins ${zip.subarray(0, 40).toString("latin1")}`,
  );
  await dialog.getByText(`Downloaded “${zipFile.suggestedFilename()}”.`).waitFor();
  await axeCheck("export dialog");
  await shot("vehicle-export");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });

  // Import: a repair file as a spreadsheet in Europe saves it (semicolons, a decimal comma), one row bad.
  await actions.getByRole("button", { name: "Import records" }).click();
  dialog = page.getByRole("dialog", { name: /^Import records into/ });
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  // A row with an odometer a digit short of the van's readings: recorded, and named among the warnings.
  const repairs = `Date;Odometer;Description;Notes;Cost\n${yesterday};;Wiper blades replaced;from the e2e;24,99\n13/45/2025;;Bad date;;1\n${yesterday};12;Mirror glass;typo;10,00\n`;
  await dialog
    .getByLabel("CSV file")
    .setInputFiles({ name: "repairs.csv", mimeType: "text/csv", buffer: Buffer.from(repairs) });
  await dialog.getByLabel("Repair", { exact: true }).check();
  await dialog.getByLabel("Currency of the costs").selectOption("EUR");
  await dialog.getByRole("button", { name: "Import", exact: true }).click();
  await dialog
    .getByText("Recorded 2 rows, 1 row refused (below). 1 row has a doubtful odometer (below).")
    .waitFor();
  await dialog.getByTestId("import-errors").getByText("Date", { exact: true }).waitFor();
  const doubtful = (await dialog.getByTestId("import-warnings").textContent()) ?? "";
  assert(
    /odometer12 (mi|km) is lower than the/.test(doubtful),
    `unexpected warnings "${doubtful}"`,
  );
  await axeCheck("import dialog with its report");
  await shot("vehicle-import-report");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  // The timeline reads itself again as the bus projects the record.
  await page.getByText("Wiper blades replaced").first().waitFor({ timeout: 10_000 });
});

await step(
  "vehicle actions: sell (its 422 beside the field, the confirm step), archive",
  async () => {
    const actions = page.getByRole("group", { name: "Vehicle actions" });
    await actions.getByRole("button", { name: "Sell", exact: true }).click();
    let dialog = page.getByRole("dialog", { name: /^Sell / });
    const odometer = dialog.getByLabel(/^Odometer at sale/);
    await odometer.fill("60000"); // below the van's last reading, 64,500 mi: the API refuses it
    await dialog.getByLabel(/^Sale price/).fill("21.500");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await dialog.getByText(/for \$21,500\.00 at 60,000 mi\?/).waitFor();
    await axeCheck("sell confirm step");
    await shot("vehicle-sell-confirm");
    await dialog.getByRole("button", { name: "Sell the vehicle" }).click();
    await dialog.getByText(/cannot be below the last recorded reading, 64,500 mi/).waitFor();
    assert((await odometer.getAttribute("aria-invalid")) === "true", "the odometer is not marked");
    await axeCheck("sell dialog with a field error");
    await shot("vehicle-sell-422");
    await odometer.fill("64800");
    await dialog.getByRole("button", { name: "Continue" }).click();
    await dialog.getByRole("button", { name: "Sell the vehicle" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByTestId("sale-price").filter({ hasText: "$21,500" }).waitFor();
    await page.getByText(/: no new records\./).waitFor();
    const left = await actions.getByRole("button").allTextContents();
    assert(
      JSON.stringify(left) === JSON.stringify(["Archive", "Export history"]),
      `a sold vehicle offers ${JSON.stringify(left)}`,
    );
    await shot("vehicle-sold");

    // Archive another van, through its confirm step.
    await openVehicle("Van 2");
    await actions.getByRole("button", { name: "Archive", exact: true }).click();
    dialog = page.getByRole("dialog", { name: /^Archive / });
    await dialog.getByText(/reminders stop/).waitFor();
    await axeCheck("archive confirm dialog");
    await shot("vehicle-archive-confirm");
    await dialog.getByRole("button", { name: "Archive the vehicle" }).click();
    await dialog.waitFor({ state: "detached" });
    await page
      .getByTestId("vehicle-retired")
      .filter({ hasText: /^Archived on / })
      .waitFor();
    // Both have left the fleet (its read model follows through the bus).
    await page.getByRole("link", { name: "Fleet" }).click();
    await page.waitForFunction(
      () => document.querySelector("[data-testid=fleet-vehicles]")?.textContent === "2",
      null,
      { timeout: 10_000 },
    );
  },
);

await step("a rejected token returns to sign-in with a message", async () => {
  await reloadWithForgedToken(Math.floor(Date.now() / 1000) + 3600);
  await page.getByRole("heading", { name: "Sign in (development token)" }).waitFor();
  await shot("token-rejected");
});

await step("an expired token returns to sign-in with a message", async () => {
  await reloadWithForgedToken(Math.floor(Date.now() / 1000) - 60);
  const bodyText = await page.locator("body").innerText();
  assert(bodyText.trim().length > 0, "blank page");
  await shot("token-expired");
});

await step("no console errors", async () => {
  assert(!consoleErrors.length, `console errors:\n${consoleErrors.join("\n")}`);
});

await h.cleanup();
console.log(
  `\ndashboard e2e: ${h.timings.length} steps passed in ${h.elapsed()} s (chat ${chatAvailable ? "streamed" : "not deployed"})`,
);
console.log(
  `expected error responses seen: ${[...new Set(expectedFailures.filter((f) => /^\d/.test(f)))].join(", ") || "none"}`,
);
console.log(`screenshots:\n${h.screenshots.map((s) => `  ${s}`).join("\n")}`);
