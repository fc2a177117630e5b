// The end-to-end flow of issue 10 ("Tests") in Debian's Chromium through playwright-core, as far as the pages go
// today: sign in through the form, watch a running grid on the dashboard (its node, its price moving), switch to
// Chinese and to dark mode, sign out with the app's button; then a second user who sees none of it. tests/e2e/test_flow.py writes the
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

try {
  const { context, page, shot } = await session(plan.owner, "owner");
  seen.ownerLanded = page.url();
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
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
