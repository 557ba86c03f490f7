// The console in a real browser (headless Chromium driven by playwright-core), one phase per
// run so that the shell test can act between them (a relay call with curl, a THEME change):
//   node console.mjs PLAYWRIGHT_DIR BASE_URL OUT_DIR PHASE [ARGS...]
//   setup MOCK_URL: sign in as root through the form, create a channel and a key through the
//                   console's forms (the browser's cookies stay in OUT_DIR/state.json)
//   log MODEL:      the relay call shows on /log
//   dark:           the dark stylesheet is in use
//   narrow PATH...: each page fits 375 px without horizontal scrolling
// Prints TAP lines ("ok ..." / "not ok ..."); any console error, page error, failed request or
// HTTP error answer of the page is a failure. Screenshots (PNG) of each step go to OUT_DIR;
// with SHOTS_DIR set, /channel and /dashboard at 1280x800 also go there.
import { join } from "node:path";
import { existsSync } from "node:fs";

const [pwDir, base, outDir, phase, ...args] = process.argv.slice(2);
const { chromium } = await import(join(pwDir, "node_modules/playwright-core/index.mjs"));
const state = join(outDir, "state.json");
const out = [];
const check = (name, cond, detail) =>
  out.push(`${cond ? "ok" : "not ok"} - ${phase}: ${name}${cond ? "" : " # " + JSON.stringify(detail ?? "")}`);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic", "--no-first-run"],
});
const problems = [];
async function newPage(width) {
  const ctx = await browser.newContext({
    viewport: { width: width ?? 1280, height: 800 },
    storageState: existsSync(state) ? state : undefined,
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()} (${m.location()?.url ?? ""})`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (rq) => problems.push(`request failed: ${rq.url()} ${rq.failure()?.errorText}`));
  page.on("response", (rs) => { if (rs.status() >= 400) problems.push(`HTTP ${rs.status()}: ${rs.url()}`); });
  return { ctx, page };
}
let shot = 0;
const snap = (page, name) => page.screenshot({ path: join(outDir, `${phase}-${String(++shot).padStart(2, "0")}-${name}.png`), fullPage: true });

// Fills a form field by name (the first of names that the form has), whatever its kind
// (select, checkbox, text).
async function setField(page, form, names, value) {
  names = Array.isArray(names) ? names : [names];
  let f = null;
  for (const n of names) {
    const l = form.locator(`[name="${n}"]`).first();
    if (await l.count()) { f = l; break; }
  }
  if (!f) { check(`the form has a field "${names.join('" or "')}"`, false, page.url()); return; }
  const tag = await f.evaluate((e) => e.tagName.toLowerCase() + ":" + (e.type || ""));
  if (tag.startsWith("select")) {
    const values = Array.isArray(value) ? value : [value];
    await f.selectOption(values.map((v) => ({ value: v }))).catch(async () => f.selectOption(values.map((v) => ({ label: v }))));
  } else if (tag.endsWith(":checkbox")) await f.setChecked(Boolean(value));
  else await f.fill(String(value));
}

async function submit(page, form) {
  await Promise.all([page.waitForLoadState("load"), page.waitForNavigation(), form.locator('button[type="submit"], button:not([type])').last().click()]);
}

try {
  if (phase === "setup") {
    const [mockUrl] = args;
    const { ctx, page } = await newPage();
    await page.goto(base + "/login");
    await snap(page, "login");
    const login = page.locator('form[action="/login"]');
    await setField(page, login, "username", "root");
    await setField(page, login, "password", "123456");
    await submit(page, login);
    check("root signs in through the form", new URL(page.url()).pathname === "/dashboard", page.url());
    await snap(page, "dashboard");

    await page.goto(base + "/channel/new");
    let form = page.locator('form:has([name="base_url"])');
    if (!(await form.count())) throw new Error("no channel form on /channel/new");
    await setField(page, form, "name", "browser-mock");
    await setField(page, form, "type", "1");
    await setField(page, form, "key", "k-browser");
    await setField(page, form, "base_url", mockUrl);
    await setField(page, form, "models", "gpt-3.5-turbo");
    // The groups are a select or a list of checkboxes, one per group.
    const groupBox = form.locator('input[type="checkbox"][value="default"]');
    if (await groupBox.count()) await groupBox.first().setChecked(true);
    else await setField(page, form, ["groups", "group"], "default");
    await snap(page, "channel-form");
    await submit(page, form);
    check("the channel form is accepted", !/\/channel\/new$/.test(new URL(page.url()).pathname), page.url());
    check("the channel is listed", (await page.content()).includes("browser-mock"), page.url());
    await snap(page, "channel-saved");

    await page.goto(base + "/token/new");
    form = page.locator('form:has([name="remain_quota"])');
    if (!(await form.count())) throw new Error("no key form on /token/new");
    await setField(page, form, "name", "browser-key");
    await setField(page, form, "remain_quota", "500000");
    await setField(page, form, ["unlimited_quota", "unlimited"], true);
    await snap(page, "token-form");
    await submit(page, form);
    check("the key form is accepted", !/\/token\/new$/.test(new URL(page.url()).pathname), page.url());
    check("the key is listed", (await page.content()).includes("browser-key"), page.url());
    await snap(page, "token-saved");
    await ctx.storageState({ path: state });
    await ctx.close();
  } else if (phase === "log") {
    const [model] = args;
    const { ctx, page } = await newPage();
    await page.goto(base + "/log");
    const html = await page.content();
    check("the relay call shows on /log", html.includes(model) && html.includes("browser-key"), "");
    await snap(page, "log");
    await ctx.close();
  } else if (phase === "dark") {
    const { ctx, page } = await newPage();
    await page.goto(base + "/dashboard");
    const sheets = await page.evaluate(() => [...document.styleSheets].map((s) => s.href || ""));
    check("the dark stylesheet is in use", sheets.some((h) => h.endsWith("/static/dark.css")), sheets);
    check("... the page says its theme", (await page.getAttribute("html", "data-theme")) === "dark", "");
    await snap(page, "dashboard-dark");
    await ctx.close();
  } else if (phase === "narrow") {
    const { ctx, page } = await newPage(375);
    for (const path of args) {
      await page.goto(base + path);
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      check(`${path} fits 375 px`, w <= 375, w);
      await snap(page, "narrow" + path.replace(/\W+/g, "-"));
    }
    await ctx.close();
  } else if (phase === "shots") {
    const { ctx, page } = await newPage();
    for (const [path, file] of [["/channel", "channels.png"], ["/dashboard", "dashboard.png"]]) {
      await page.goto(base + path);
      await page.screenshot({ path: join(args[0], file) });
    }
    await ctx.close();
  }
} catch (e) {
  check("the steps ran", false, String(e && e.stack || e));
}
check("no console error, page error or failed request", problems.length === 0, problems);
await browser.close();
console.log(out.join("\n"));
