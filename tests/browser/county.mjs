// The county page in headless Chromium (Debian's, driven by playwright-core): log in, see a
// tile per emulated hall, a fire alarm the emulator raises appear in the feed and its hall's
// tile turn red within a second, drill down to that hall, start a surprise video patrol and
// see the hall's reply and the patrol's record arrive, the month's ranking with its chart,
// switch the language, and no console error. Screenshots go to HW_ART. Driven by
// test_county_page.py, which owns the broker, the emulator and the county: this script prints
// "READY_FOR_FIRE" and waits for "FIRED <Unix ms>" on stdin.
import { chromium } from "playwright-core";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";

const URL = process.env.HW_URL;
const ART = process.env.HW_ART;
const USER = process.env.HW_USER;
const PASSWORD = process.env.HW_PASSWORD;
const HALLS = Number(process.env.HW_HALLS);
const FIRE_SITE = process.env.HW_FIRE_SITE;
const T = 10000;

const lines = readline.createInterface({ input: process.stdin });
const pending = [];
const queued = [];
lines.on("line", (l) => (pending.length ? pending.shift()(l) : queued.push(l)));
const nextLine = () => new Promise((res, rej) => {
  if (queued.length) return res(queued.shift());
  const t = setTimeout(() => rej(new Error("no line from the driver in time")), T);
  pending.push((l) => { clearTimeout(t); res(l); });
});

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log("ok " + what);
}

const errors = [];
function watch(page, name) {
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(name + ": " + m.text() + " " + (m.location().url || ""));
  });
  page.on("pageerror", (e) => errors.push(name + ": page error: " + e.message));
}

async function shot(page, name) {
  const file = path.join(ART, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  console.log("screenshot " + file);
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
           "--disable-backgrounding-occluded-windows"],
    timeout: 30000,
  });
  let page = null;
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(T);
    page = await ctx.newPage();
    watch(page, "county");

    // ---- log in ----
    await page.goto(URL + "/");
    check(page.url().endsWith("/login"), "no session: the login page");
    await page.waitForFunction(() => document.getElementById("login-submit").textContent === "登录");
    check(await page.textContent("h1") === "县级监控中心", "the county's login page");
    await shot(page, "county-01-login");
    await page.fill("#login-user", USER);
    await page.fill("#login-password", PASSWORD);
    await Promise.all([page.waitForURL(URL + "/"), page.click("#login-submit")]);
    await page.waitForSelector("#live-state.on");
    await page.waitForFunction((n) => document.querySelectorAll("#tiles .tile").length === n, HALLS);
    check(await page.locator("#tiles .tile.w-fire").count() === 0, `${HALLS} tiles, none on fire`);
    await page.waitForFunction(() => document.querySelectorAll("#rank-rows tr").length > 0);
    check(await page.locator("#rank-chart svg rect").count() > 0, "the ranking and its chart");
    await shot(page, "county-02-halls");

    // ---- a fire alarm in one hall ----
    await page.evaluate((site) => {
      window.__tileRed = 0;
      window.__feedSeen = 0;
      const tile = document.getElementById("tile-" + site);
      new MutationObserver(() => {
        if (!window.__tileRed && tile.classList.contains("w-fire")) window.__tileRed = Date.now();
      }).observe(tile, { attributes: true });
      new MutationObserver(() => {
        if (!window.__feedSeen && document.querySelector(`#feed li.fire[data-site="${site}"]`))
          window.__feedSeen = Date.now();
      }).observe(document.getElementById("feed"), { childList: true });
    }, FIRE_SITE);
    console.log("READY_FOR_FIRE");
    const fired = Number((await nextLine()).split(" ")[1]);
    await page.waitForSelector(`#tile-${FIRE_SITE}.w-fire`);
    await page.waitForSelector(`#feed li.fire[data-site="${FIRE_SITE}"]`);
    const red = await page.evaluate(() => window.__tileRed);
    const feed = await page.evaluate(() => window.__feedSeen);
    console.log(`LATENCY tile ${red - fired} ms, feed ${feed - fired} ms after the emulator's publish`);
    check(red - fired < 1000, `the tile turned red within a second (${red - fired} ms)`);
    check(feed - fired < 1000, `the fire alarm in the feed within a second (${feed - fired} ms)`);
    check(await page.isVisible("#alarm-banner.on"), "the fire banner");
    await shot(page, "county-03-fire");

    // ---- drill down, surprise patrol ----
    await page.click(`#tile-${FIRE_SITE}`);
    await page.waitForSelector("#detail:not([hidden])");
    check((await page.textContent("#detail-site")).startsWith(FIRE_SITE), "the hall's detail");
    check(await page.locator("#detail-body .card").count() >= 5, "devices, cameras, patrols, tickets");
    await page.waitForSelector('#list-devices tr[data-id="facp1"]');
    check(/\S/.test(await page.textContent('#list-devices tr[data-id="facp1"]')), "a device row drawn");
    check(await page.locator("#list-cameras tbody tr[data-id]").count() >= 1, "a camera row drawn");
    check(await page.locator('#list-plans tr[data-id="fire_patrol"]').count() === 1, "a plan row drawn");
    check(await page.getAttribute("#console-link", "href") === "https://" + FIRE_SITE + ".example/",
      "the link to the hall's console");
    await page.click("#patrol");
    await page.waitForSelector("#patrol-msg[data-result=record]");
    check(/巡查记录已到达/.test(await page.textContent("#patrol-msg")), "the patrol's record arrived");
    await page.waitForSelector('#list-records tr[data-id^="video_patrol/surprise/"]');
    check(/passed|通过/.test(await page.textContent('#list-records tr[data-id^="video_patrol/surprise/"]')),
      "the patrol's record in the hall's records table");
    await shot(page, "county-04-detail-patrol");

    // ---- the language ----
    await page.click("#lang-toggle");
    await page.waitForFunction(() => document.querySelector("h1").textContent === "County monitoring room");
    check(await page.textContent(`#tile-${FIRE_SITE} .word`) === "FIRE", "tiles in English");
    check(/^Fire alarm/.test(await page.textContent(`#feed li[data-site="${FIRE_SITE}"] .k`)),
      "the feed in English");
    check(/^The patrol's record arrived/.test(await page.textContent("#patrol-msg")),
      "the patrol's message in English");
    await shot(page, "county-05-en");

    check(errors.length === 0, "no console error: " + JSON.stringify(errors));
    console.log("RESULT ok");
  } catch (e) {
    if (page) await shot(page, "county-failed").catch(() => {});
    console.log("errors so far: " + JSON.stringify(errors));
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.log("RESULT fail: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
