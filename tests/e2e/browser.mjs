// Drives Debian's Chromium with playwright-core (installed with the web app: frontend/app/node_modules) through a
// plan that tests/e2e/webapp.py writes: pages to open, at which width, theme and language, and what to return.
// Prints one JSON object: per shot, its file, the visible text of <main>, any console or page errors, and with
// `axe` set, the serious and critical violations axe-core finds on the page as it was photographed.
import { createHmac } from "node:crypto";
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

// allauth answers "not signed in (yet)" and "confirm it's you first" with a 401, and "no authenticator app yet (here
// is a secret to set one up)" with a 404: steps of its conversation, not errors.
const expected = (status, url) => {
  const path = new URL(url).pathname;
  if (status === 401) return path.startsWith("/_allauth/");
  return status === 404 && path.endsWith("/account/authenticators/totp");
};

// The code an authenticator app shows now for a base32 secret (RFC 6238), as a test's user would type it.
function totp(secret) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase())
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(
    bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)),
  );
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(
    6,
    "0",
  );
}

// What a shot does on its page before the picture: type, click, wait for what follows.
async function act(page, step) {
  // A step `when` a selector is on the page: e.g. a confirmation the server asks for only once in a while.
  if (step.when && !(await page.locator(step.when).isVisible())) return;
  if (step.fill) await page.fill(step.fill, step.value);
  if (step.totp) {
    // A code about to expire could reach the server in the next period: wait for a fresh one.
    while (30000 - (Date.now() % 30000) < 3000) await page.waitForTimeout(500);
    await page.fill(step.totp, totp(step.secret));
  }
  if (step.click) await page.click(step.click);
  if (step.waitFor) await page.waitForSelector(step.waitFor, { timeout: 15000 });
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
      if (message.type() !== "error") return;
      // Chromium reports every 4xx answer to fetch() on the console too; the response handler judges those.
      if (message.text().startsWith("Failed to load resource")) return;
      errors.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`page: ${error.message}`));
    page.on("response", (response) => {
      if (response.status() >= 400 && !expected(response.status(), response.url()))
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
      for (const step of shot.steps ?? []) await act(page, step);
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
