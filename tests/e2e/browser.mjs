// Drives Debian's Chromium with playwright-core (installed with the web app: frontend/app/node_modules) through a
// plan that tests/e2e/webapp.py writes: pages to open, at which width, theme and language, and what to return.
// Prints one JSON object: per shot, its file, the visible text of <main>, any console or page errors, and with
// `axe` set, the serious and critical violations axe-core finds on the page as it was photographed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(plan.appDir, "package.json"));
const { chromium } = require("playwright-core");
const axeSource = plan.shots.some((shot) => shot.axe)
  ? readFileSync(require.resolve("axe-core/axe.min.js"), "utf8")
  : "";

// axe-core's WCAG A/AA rules on the whole document; only serious and critical findings are returned, one line each
// (rule, impact, and the first few elements), so a failing test names the page, the rule and where.
async function accessibility(page) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: {
        type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
      },
      resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      count: v.nodes.length,
    }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}

const browser = await chromium.launch({
  executablePath: plan.chromium,
  args: [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--font-render-hinting=none",
  ],
});
const results = [];
try {
  for (const shot of plan.shots) {
    const context = await browser.newContext({
      viewport: { width: shot.width, height: shot.height },
      colorScheme: shot.theme,
      locale: shot.locale === "zh-CN" ? "zh-CN" : "en-US",
      timezoneId: plan.timeZone,
    });
    if (shot.signedIn && plan.cookies.length)
      await context.addCookies(plan.cookies);
    await context.addInitScript(
      ([theme, locale]) => {
        localStorage.setItem("aresbot.theme", theme);
        localStorage.setItem("aresbot.locale", locale);
      },
      [shot.theme, shot.locale],
    );
    const page = await context.newPage();
    const errors = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`page: ${error.message}`));
    page.on("response", (response) => {
      if (response.status() >= 400)
        errors.push(
          `http: ${response.status()} ${new URL(response.url()).pathname}`,
        );
    });
    let text = "";
    let url = "";
    let violations = [];
    try {
      await page.goto(plan.baseUrl + shot.path, {
        waitUntil: "networkidle",
        timeout: 30000,
      });
      await page.waitForSelector(shot.waitFor, { timeout: 15000 });
      // Element Plus animates entering elements (tags, cards): let them settle before the picture.
      await page.evaluate(() => document.fonts.ready);
      await page.waitForTimeout(400);
      await page.screenshot({ path: shot.file, fullPage: true });
      text = await page.locator(shot.textOf).innerText();
      url = page.url();
      if (shot.axe) violations = await accessibility(page);
    } catch (error) {
      errors.push(`playwright: ${error.message.split("\n")[0]}`);
      await page
        .screenshot({ path: shot.file, fullPage: true })
        .catch(() => {});
    }
    results.push({
      name: shot.name,
      file: shot.file,
      url,
      text,
      errors,
      violations,
    });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ results }));
