// Issue 11's web-app flow in Debian's Chromium through playwright-core, against the whole stack: on the Backtest
// page pick the shipped BTC/USDT day, type the grid, try a buy offset out of range and see the message on that field,
// fix it and run; watch the progress to done and read the results (the fills on the candle chart); then on the Sweep
// page try 2 × 2 × 2 values, watch the combination count, run it to done, and take the best row's "Use these
// settings" to the strategy form. tests/e2e/test_backtest_pages.py writes the plan and checks what this prints (one
// JSON object of observations); each step saves a screenshot.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(plan.appDir, "package.json"));
const { chromium } = require("playwright-core");

const seen = { errors: [] };
const browser = await chromium.launch({
  executablePath: plan.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const context = await browser.newContext({
  viewport: { width: 1440, height: 900 },
  colorScheme: "light",
  locale: "en-US",
  timezoneId: plan.timeZone,
});
await context.addCookies(plan.cookies);
await context.addInitScript(() => localStorage.setItem("aresbot.locale", "en"));
const page = await context.newPage();
page.on("pageerror", (error) => seen.errors.push(`page: ${error.message}`));
page.on("console", (message) => {
  if (
    message.type() === "error" &&
    !message.text().startsWith("Failed to load resource")
  )
    seen.errors.push(`console: ${message.text()}`);
});
page.on("response", (response) => {
  if (response.status() >= 400)
    seen.errors.push(
      `http: ${response.status()} ${new URL(response.url()).pathname}`,
    );
});
const shot = (name) =>
  page.screenshot({
    path: join(plan.screenshots, `flow-backtest-${name}.png`),
    fullPage: true,
  });

/** Picks `option` in the Element Plus select marked `test` (its dropdown is teleported to the body). */
async function choose(test, option) {
  await page.locator(`[data-test=${test}]`).click();
  await page
    .locator(".el-select-dropdown__item:visible", { hasText: option })
    .first()
    .click();
}

// Element Plus puts the attributes of an el-input on its <input>.
const inputOf = (test) =>
  page
    .locator(`[data-test=${test}]`)
    .locator("xpath=descendant-or-self::input")
    .first();
const field = (name) => inputOf(`field-${name}`);

/** The data set and the parameters the form shows (a sweep's form leaves out those it varies). */
async function fillParameters(skip = []) {
  await choose("dataset-select", plan.dataset);
  await page.waitForSelector("[data-test=dataset-span]");
  for (const [name, value] of Object.entries(plan.fields))
    if (!skip.includes(name)) await field(name).fill(value);
}

async function backtest() {
  // The Backtest page, from the menu.
  await page.locator(".el-menu-item", { hasText: "Backtests" }).first().click();
  await page.waitForURL((url) => url.pathname === "/backtests");
  await page.waitForSelector("main [data-test=backtest-run]");
  await fillParameters();
  seen.symbol = await inputOf("backtest-symbol").inputValue();
  // A buy offset out of the strategy bounds: the form names it and its range, nothing is queued.
  await field("buy_offset_pct").fill("60");
  await page.click("[data-test=backtest-run]");
  const error = page
    .locator(".el-form-item.is-error .el-form-item__error")
    .first();
  await error.waitFor({ timeout: 5000 });
  seen.offsetError = await error.innerText();
  await shot("refused");
  await field("buy_offset_pct").fill(plan.fields.buy_offset_pct);
  await page.click("[data-test=backtest-run]");
  await page.waitForURL((url) => /^\/backtests\/\d+$/.test(url.pathname), {
    timeout: 15000,
  });
  seen.backtestUrl = page.url();
  // The progress shows while it is queued or runs (a fast worker may finish before the first answer).
  const first = await Promise.race([
    page
      .waitForSelector("[data-test=run-progress]", { timeout: 30000 })
      .then(() => "progress"),
    page
      .waitForSelector("[data-test=backtest-result]", { timeout: 30000 })
      .then(() => "done"),
  ]);
  seen.progressSeen = first === "progress";
  seen.doneAtOnce = first === "done";
  if (seen.progressSeen) await shot("progress");
  await page.waitForSelector("[data-test=backtest-result]", {
    timeout: 180000,
  });
  await page.waitForSelector("[data-test=backtest-price-chart] canvas", {
    timeout: 30000,
  });
  seen.totalPnl = await page
    .locator("[data-test=stat-total] .stat-value")
    .innerText();
  seen.chartFills = Number(
    await page.locator("[data-test=backtest-chart-fills]").innerText(),
  );
  await shot("result");
}

async function sweep() {
  // The Sweep page: 2 × 2 × 2 values, the count live, run to done.
  await page.locator(".el-menu-item", { hasText: "Sweeps" }).first().click();
  await page.waitForURL((url) => url.pathname === "/sweeps");
  await page.waitForSelector("main [data-test=sweep-run]");
  await fillParameters(Object.keys(plan.sweep));
  for (const [name, value] of Object.entries(plan.sweep))
    await inputOf(`values-${name}`).fill(value);
  seen.combinations = await page
    .locator("[data-test=sweep-combinations]")
    .innerText();
  await shot("sweep-form");
  await page.click("[data-test=sweep-run]");
  await page.waitForURL((url) => /^\/sweeps\/\d+$/.test(url.pathname), {
    timeout: 15000,
  });
  seen.sweepUrl = page.url();
  await page.waitForSelector("[data-test=sweep-again]", { timeout: 300000 });
  await page.waitForSelector("[data-test=sweep-heatmap] canvas", {
    timeout: 30000,
  });
  const rows = page.locator(
    "[data-test=sweep-results] .el-table__body-wrapper tbody tr",
  );
  seen.sweepRows = await rows.count();
  seen.firstRank = (
    await rows.first().locator("td").first().innerText()
  ).trim();
  seen.heatmapCaption = await page
    .locator("[data-test=heatmap-caption]")
    .innerText();
  await shot("sweep-result");

  // The best row's settings into the strategy form.
  await rows.first().locator("[data-test=use-settings]").click();
  await page.waitForURL((url) => url.pathname === "/strategies/new", {
    timeout: 15000,
  });
  seen.strategyFormUrl = page.url();
  await page.waitForSelector("input[data-test=field-grid_levels]");
  seen.prefilled = {};
  for (const name of [
    "grid_levels",
    "buy_offset_pct",
    "sell_offset_pct",
    "order_size_quote",
  ])
    seen.prefilled[name] = await field(name).inputValue();
  await shot("strategy-form");
}

try {
  await page.goto(plan.baseUrl + "/", { waitUntil: "networkidle" });
  if (plan.parts.includes("backtest")) await backtest();
  if (plan.parts.includes("sweep")) await sweep();
} catch (error) {
  seen.failed = error.message.split("\n")[0];
  await shot("failed").catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
