// bench/web_bench.py's browser: the overview open in headless Chromium; for each flip it
// prints READY, reads "FIRED <Unix ms>" and prints "DRAWN <Unix ms>" once the fire banner is
// on and painted (the next animation frame), then waits for the banner to go off.
import * as readline from "node:readline";

// playwright-core as tests/browser installed it (npm ci there): HW_PLAYWRIGHT is its folder.
const { chromium } = await import(process.env.HW_PLAYWRIGHT + "/index.mjs");

const URL = process.env.HW_URL;
const lines = readline.createInterface({ input: process.stdin });
const it = lines[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(URL + "/login");
  await page.fill("#login-user", process.env.HW_USER);
  await page.fill("#login-password", process.env.HW_PASSWORD);
  await Promise.all([page.waitForURL(URL + "/"), page.click("#login-submit")]);
  await page.waitForFunction(() => typeof hw !== "undefined" && hw.ws && hw.ws.readyState === 1);
  for (;;) {
    await page.waitForFunction(() => !document.getElementById("alarm-banner").classList.contains("on"));
    await page.evaluate(() => {
      window.__drawn = 0;
      const b = document.getElementById("alarm-banner");
      const mo = new MutationObserver(() => {
        if (!window.__drawn && b.classList.contains("on")) {
          window.requestAnimationFrame(() => { window.__drawn = Date.now(); });
          mo.disconnect();
        }
      });
      mo.observe(b, { attributes: true });
    });
    console.log("READY");
    const l = (await it.next()).value;
    if (!l || l === "DONE") break;
    await page.waitForFunction(() => window.__drawn > 0, null, { polling: 20 });
    console.log("DRAWN " + (await page.evaluate(() => window.__drawn)));
  }
} finally {
  await browser.close();
}
lines.close();
process.exit(0);
