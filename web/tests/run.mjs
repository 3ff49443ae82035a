#!/usr/bin/env node
// Browser tests of the web app against a running henvis-web (scripts/browser-test
// starts the whole stack and runs this). Every tests/*.spec.mjs is a module
// exporting `name` and `async run(t)`; they run in file-name order sharing
// `t.state`, in one headless Debian chromium (never a downloaded browser).
//
//   HENVIS_WEB_URL=http://127.0.0.1:PORT SCREENSHOT_DIR=build/screenshots node tests/run.mjs [filter]
//
// t.visit()/t.check() run axe-core on the page: 0 violations of WCAG 2.0/2.1
// A and AA allowed; any Content-Security-Policy violation or uncaught page
// error fails the test too.

import { readFileSync, readdirSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const base = (process.env.HENVIS_WEB_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const shots = process.env.SCREENSHOT_DIR ?? join(here, "..", "..", "build", "screenshots");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const axeSource = readFileSync(join(here, "..", "node_modules", "axe-core", "axe.min.js"), "utf8");
const PASSWORD = process.env.HENVIS_DEV_PASSWORD ?? "henvis-dev";
const VIEWPORTS = { phone: { width: 360, height: 740 }, desktop: { width: 1280, height: 900 } };
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

class Failure extends Error {}

function makeT(browser) {
  const contexts = [];
  const pageErrors = new Map();
  const t = {
    base,
    state: {},
    log: (...a) => console.log("   ", ...a),
    expect(cond, message) {
      if (!cond) throw new Failure(message);
    },
    /** A fresh browser context (own cookies) with a page at `viewport`. */
    async newPage(viewport = "desktop") {
      const context = await browser.newContext({ viewport: VIEWPORTS[viewport], locale: "da-DK", timezoneId: "Europe/Copenhagen" });
      contexts.push(context);
      const page = await context.newPage();
      const errors = [];
      pageErrors.set(page, errors);
      page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) errors.push(`CSP: ${m.text()}`);
      });
      page.setDefaultTimeout(15_000);
      return page;
    },
    /** Logs in through the login page; returns the page on the role's start page. */
    async login(username, viewport = "desktop") {
      const page = await t.newPage(viewport);
      await page.goto(`${base}/login`);
      await page.getByLabel("Brugernavn").fill(username);
      await page.getByLabel("Adgangskode").fill(PASSWORD);
      await page.getByRole("button", { name: "Log ind" }).click();
      await page.waitForURL((u) => !u.pathname.startsWith("/login"));
      await page.waitForLoadState("networkidle");
      return page;
    },
    /** axe-core (WCAG 2.1 A/AA) and the page's errors so far. */
    async axe(page, what) {
      await page.evaluate(`${axeSource}\n;0`);
      const result = await page.evaluate(async (tags) => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { runOnly: { type: "tag", values: tags } });
        return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
      }, AXE_TAGS);
      t.expect(result.length === 0, `axe on ${what}: ${result.length} WCAG 2.1 AA violation(s):\n      ${result.join("\n      ")}`);
      const errors = pageErrors.get(page) ?? [];
      t.expect(errors.length === 0, `${what}: ${errors.join("; ")}`);
    },
    /** axe at phone and desktop width, with a screenshot of each: <SCREENSHOT_DIR>/<name>-<phone|desktop>.png. */
    async check(page, name) {
      const before = page.viewportSize();
      for (const [vp, size] of Object.entries(VIEWPORTS)) {
        await page.setViewportSize(size);
        await page.waitForTimeout(100);
        await t.axe(page, `${name} (${vp})`);
        await page.screenshot({ path: join(shots, `${name}-${vp}.png`), fullPage: true });
      }
      if (before) await page.setViewportSize(before);
    },
    /** Goes to `path` (a full load), waits for the network to settle, and checks it. */
    async visit(page, path, name) {
      await page.goto(`${base}${path}`);
      await page.waitForLoadState("networkidle");
      if (name) await t.check(page, name);
    },
    /** fetch() from inside the page (its cookie; the CSRF token when given). */
    async fetch(page, path, init = {}) {
      return page.evaluate(async ([p, i]) => {
        const r = await fetch(p, { credentials: "same-origin", ...i });
        return { status: r.status, body: await r.text() };
      }, [path, init]);
    },
    /** Repeats `f` until it returns a truthy value (the stack is asynchronous), at most `ms`. */
    async eventually(f, message, ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const v = await f().catch(() => null);
        if (v) return v;
        if (Date.now() > end) throw new Failure(`timed out: ${message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    async closeAll() {
      for (const c of contexts.splice(0)) await c.close().catch(() => {});
    },
  };
  return t;
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const filter = process.argv[2] ?? "";
  const specs = readdirSync(here).filter((f) => f.endsWith(".spec.mjs") && f.includes(filter)).sort();
  if (!specs.length) throw new Error(`no tests/*.spec.mjs matching '${filter}'`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const t = makeT(browser);
  let failed = 0;
  try {
    for (const file of specs) {
      const spec = await import(pathToFileURL(join(here, file)).href);
      const started = Date.now();
      try {
        await spec.run(t);
        console.log(`ok   ${file}: ${spec.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${file}: ${spec.name}\n     ${e instanceof Failure ? e.message : e.stack}`);
      } finally {
        await t.closeAll();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`${specs.length - failed}/${specs.length} browser test files passed; screenshots in ${shots}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
