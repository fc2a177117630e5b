// The end-to-end flow of issue 10 ("Tests") in Debian's Chromium through playwright-core: sign in through the form;
// create a paper account on replayed candles; try a strategy with an offset out of range and see the message on that
// field, fix it and watch the preview; create and start it; see it running on a node with the price moving and a
// fill on its chart and among its trades; stop it with "cancel all"; see the trades page count it; watch a running
// grid on the dashboard; switch to Chinese and to dark mode, sign out with the app's button; then a second user who
// sees none of it. tests/e2e/test_flow.py writes the
// plan and checks what this prints (one JSON object of observations); each step saves a screenshot.
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

async function session(user, tag) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    colorScheme: "light",
    locale: "en-US",
    timezoneId: plan.timeZone,
  });
  const page = await context.newPage();
  page.on("pageerror", (error) =>
    seen.errors.push(`${tag} page: ${error.message}`),
  );
  // A failed request is reported by its status and path (the console only says "Failed to load resource").
  page.on("console", (message) => {
    if (
      message.type() === "error" &&
      !message.text().startsWith("Failed to load resource")
    )
      seen.errors.push(`${tag} console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400)
      seen.errors.push(
        `${tag} http: ${response.status()} ${new URL(response.url()).pathname}`,
      );
  });
  const shot = (name) =>
    page.screenshot({
      path: join(plan.screenshots, `flow-${tag}-${name}.png`),
      fullPage: true,
    });
  // Sign in: the app sends a visitor to its sign-in page, which signs in and comes back to where they were going.
  await page.goto(plan.baseUrl + "/workers", { waitUntil: "networkidle" });
  seen[`${tag}SignInUrl`] = page.url();
  await shot("sign-in");
  if (!(await page.locator("input[type=password]").count())) {
    await page.locator(".sign-in a, .sign-in button").first().click();
  }
  await page
    .locator("input[name=login], input[autocomplete=username]")
    .first()
    .fill(user.username);
  await page.locator("input[type=password]").first().fill(user.password);
  await page.locator("input[type=password]").first().press("Enter");
  await page.waitForURL((url) => url.pathname === "/workers", {
    timeout: 30000,
  });
  await page.waitForSelector("main .page", { timeout: 15000 });
  return { context, page, shot };
}

/** Picks `option` in the Element Plus select marked `test` (its dropdown is teleported to the body). */
async function choose(page, test, option) {
  await page.locator(`[data-test=${test}]`).click();
  await page
    .locator(".el-select-dropdown__item:visible", { hasText: option })
    .first()
    .click();
}

/** The text input marked `test`: Element Plus puts the mark on the input or on its wrapper, by component. */
const inputOf = (page, test) =>
  page
    .locator(`[data-test=${test}]`)
    .locator("xpath=descendant-or-self::input")
    .first();

/** The form item (label, input, message) around the input marked `test`. */
const formItem = (page, test) =>
  page.locator(".el-form-item", {
    has: page.locator(`[data-test=${test}]`),
  });

/** The number in the text of the element marked `test` (0 when it has none). */
async function countIn(page, test) {
  const text = await page.locator(`[data-test=${test}]`).first().innerText();
  return Number((text.match(/\d+/) ?? ["0"])[0]);
}

/** A paper account on replayed candles, a strategy made through the form (a mistake first), started, watched until
 * it trades, stopped with "cancel all", and counted on the trades page. */
async function tradeThroughTheApp(page, shot) {
  const replay = plan.replay;
  await page.goto(plan.baseUrl + "/accounts", { waitUntil: "networkidle" });
  await page.click("[data-test=new-account]");
  await inputOf(page, "account-name").fill(replay.account);
  await page
    .locator("[data-test=account-dialog] label", {
      hasText: "Replay a data set",
    })
    .click();
  await choose(page, "account-dataset", replay.dataset);
  await inputOf(page, "account-replay-speed").fill(String(replay.speed));
  await shot("account-form");
  await page.click("[data-test=account-save]");
  await page
    .locator("main", { hasText: replay.account })
    .waitFor({ timeout: 15000 });
  await page
    .locator("[data-test=account-dialog]")
    .waitFor({ state: "hidden", timeout: 15000 });

  // The strategy form: an offset out of range is named on its field before anything is saved.
  await page.goto(plan.baseUrl + "/strategies/new", {
    waitUntil: "networkidle",
  });
  await inputOf(page, "strategy-name").fill(replay.strategy);
  await choose(page, "strategy-account", replay.account);
  // A replaying account trades its data set's one market: the picker chooses it, and shows its rules.
  await page.locator("[data-test=market-rules]").waitFor({ timeout: 15000 });
  seen.symbolChosen = await page.locator(".symbol-picker").innerText();
  for (const [field, value] of Object.entries(replay.fields)) {
    await inputOf(page, `field-${field}`).fill(value);
  }
  await inputOf(page, "field-buy_offset_pct").fill("150");
  const offsetMessage = formItem(page, "field-buy_offset_pct").locator(
    ".el-form-item__error",
  );
  await offsetMessage.waitFor({ timeout: 15000 });
  seen.offsetError = await offsetMessage.innerText();
  await shot("strategy-invalid-offset");
  await inputOf(page, "field-buy_offset_pct").fill(
    replay.fields.buy_offset_pct,
  );
  await offsetMessage.waitFor({ state: "detached", timeout: 15000 });
  // The preview: the ladder the engine would place now, from the replay's price.
  await page.waitForFunction(
    () => {
      const preview = document.querySelector("[data-test=grid-preview]");
      return (
        preview &&
        preview.querySelector("canvas, svg") &&
        document.querySelector("[data-test=capital]")
      );
    },
    null,
    { timeout: 30000 },
  );
  seen.preview = await page.locator("[data-test=grid-preview]").innerText();
  await shot("strategy-preview");
  await page.click("[data-test=strategy-save]");
  await page.waitForURL((url) => url.pathname === "/strategies", {
    timeout: 15000,
  });

  // Start it from the list, after the summary of what it commits to.
  const row = page.locator("main [data-test^=strategy-]", {
    hasText: replay.strategy,
  });
  await row.first().waitFor({ timeout: 15000 });
  await row.first().locator("[data-test=start]").click();
  await page.locator("[data-test=start-summary]").waitFor({ timeout: 30000 });
  await page
    .locator("[data-test=start-dialog] [data-test=confirm]:enabled")
    .click();
  await page
    .locator("[data-test=start-dialog]")
    .waitFor({ state: "hidden", timeout: 15000 });
  await row.first().locator("a.strategy-name").click();
  await page.waitForURL((url) => /^\/strategies\/\d+$/.test(url.pathname), {
    timeout: 15000,
  });
  seen.detailUrl = page.url();

  // Running on a node, the price moving, and then a fill: on the chart and among its trades.
  await page.waitForFunction(
    (host) =>
      document.querySelector("[data-test=node]")?.innerText.includes(host),
    plan.nodeHost,
    { timeout: 60000 },
  );
  const firstPrice = await page
    .locator("[data-test=current-price]")
    .innerText();
  await page.waitForFunction(
    (before) =>
      document.querySelector("[data-test=current-price]")?.innerText !== before,
    firstPrice,
    { timeout: 30000 },
  );
  seen.pricesSeen = [
    firstPrice,
    await page.locator("[data-test=current-price]").innerText(),
  ];
  await page.waitForFunction(
    () =>
      Number(
        (document
          .querySelector("[data-test=chart-fill-count]")
          ?.innerText.match(/\d+/) ?? ["0"])[0],
      ) > 0 && document.querySelectorAll("[data-test=trade-row]").length > 0,
    null,
    { timeout: 90000 },
  );
  seen.chartFills = await countIn(page, "chart-fill-count");
  await shot("strategy-trading");

  // Stop, cancelling everything it has on the exchange (that choice needs its own yes).
  await page.click("[data-test=detail-stop]");
  await page.locator("[data-test=stop-dialog] [data-test=cancel-all]").click();
  await page
    .locator("[data-test=stop-dialog] [data-test=cancel-all-acknowledge]")
    .click();
  await page
    .locator("[data-test=stop-dialog] [data-test=confirm]:enabled")
    .click();
  await page.locator("[data-test=detail-start]").waitFor({ timeout: 60000 });
  // Nothing of it rests on the exchange any more: the orders panel says it has none.
  await page
    .locator("[data-test=open-orders-empty]")
    .waitFor({ timeout: 60000 });
  seen.openOrdersAfterStop = await page
    .locator("[data-test=open-orders-empty]")
    .innerText();
  seen.detailTradeRows = await page.locator("[data-test=trade-row]").count();
  await shot("strategy-stopped");

  // The trades page counts what it did.
  await page.goto(plan.baseUrl + "/trades", { waitUntil: "networkidle" });
  await page.locator("[data-test=trade-count]").waitFor({ timeout: 15000 });
  seen.tradeCount = await countIn(page, "trade-count");
  seen.tradeRows = await page
    .locator("[data-test=trades-table] tr, [data-test=trade]")
    .count();
  seen.tradesCsv = await page
    .locator("[data-test=trades-csv]")
    .getAttribute("href");
  await shot("trades");
}

try {
  const { context, page, shot } = await session(plan.owner, "owner");
  seen.ownerLanded = page.url();
  await tradeThroughTheApp(page, shot);
  await page.goto(plan.baseUrl + "/", { waitUntil: "networkidle" });
  // Running on a node with the price moving: the row names the node, and its text changes between polls.
  const row = page.locator("main", { hasText: plan.strategy });
  await row.waitFor({ timeout: 15000 });
  await page.waitForFunction(
    ([name, host]) => {
      const text = document.querySelector("main").innerText;
      return text.includes(name) && text.includes(host);
    },
    [plan.strategy, plan.nodeHost],
    { timeout: 60000 },
  );
  const first = await page.locator("main").innerText();
  await page.waitForFunction(
    (before) => document.querySelector("main").innerText !== before,
    first,
    { timeout: 30000 },
  );
  seen.dashboardBefore = first;
  seen.dashboardAfter = await page.locator("main").innerText();
  await shot("dashboard-running");

  // Chinese, then dark mode: the choices stick across a reload.
  await page
    .locator(
      ".header-tools .el-dropdown button, .header-tools .el-dropdown .el-button",
    )
    .first()
    .click();
  await page.getByRole("menuitem", { name: "简体中文" }).click();
  await page.locator("[data-test=theme-toggle]").click();
  await page.reload({ waitUntil: "networkidle" });
  await page.waitForSelector("main .page");
  seen.chineseText = await page.locator("body").innerText();
  seen.htmlLang = await page.evaluate(() => document.documentElement.lang);
  seen.darkClass = await page.evaluate(() =>
    document.documentElement.classList.contains("dark"),
  );
  await shot("dashboard-zh-dark");

  // Sign out with the app's own button (the user menu): the next visit goes to sign in.
  await page.click("[data-test=user-menu]");
  await page.click("[data-test=sign-out]");
  await page.waitForURL((url) => url.pathname === "/sign-in", {
    timeout: 15000,
  });
  await page.goto(plan.baseUrl + "/", { waitUntil: "networkidle" });
  await page.waitForURL((url) => url.pathname === "/sign-in", {
    timeout: 15000,
  });
  seen.afterSignOut = page.url();
  await context.close();

  const other = await session(plan.other, "other");
  await other.page.goto(plan.baseUrl + "/", { waitUntil: "networkidle" });
  await other.page.waitForSelector("main .dash-table, main .el-empty", {
    timeout: 15000,
  });
  seen.otherDashboard = await other.page.locator("main").innerText();
  await other.shot("dashboard");
  await other.page.goto(plan.baseUrl + "/workers", {
    waitUntil: "networkidle",
  });
  await other.page.waitForSelector("main .node-card, main .el-empty", {
    timeout: 15000,
  });
  seen.otherWorkers = await other.page.locator("main").innerText();
  await other.context.close();
} catch (error) {
  seen.failed = error.message.split("\n").slice(0, 3).join(" ");
  // Where it stopped: the picture and the words of every page still open.
  for (const [index, open] of browser
    .contexts()
    .flatMap((c) => c.pages())
    .entries()) {
    await open
      .screenshot({
        path: join(plan.screenshots, `flow-failed-${index}.png`),
        fullPage: true,
      })
      .catch(() => {});
    seen[`failedPage${index}`] = await open
      .locator("body")
      .innerText()
      .catch(() => "");
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
