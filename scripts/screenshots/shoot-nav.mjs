// The main menu with the keyboard only, and its screenshot (nav_menu.png): Tab from the page's start reaches the
// menu's groups (<details>, no JavaScript); Enter opens one; Tab reaches its first link; Enter opens that page.
// Exits non-zero when the keyboard cannot do it. Usage: node shoot-nav.mjs BASE_URL OUT_DIR
import { browser, base, out, session } from "./lib.mjs";

const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };
const admin = await session("admin-44204");
await admin.goto(base + "/");
const focused = () => admin.evaluate(() => {
  const e = document.activeElement; return e ? `${e.tagName.toLowerCase()}:${e.textContent.trim().slice(0, 12)}` : "";
});
let f = "";
for (let i = 0; i < 30 && !f.startsWith("summary:管理"); i++) {
  await admin.keyboard.press("Tab");
  f = await focused();
}
if (!f.startsWith("summary:管理")) fail("Tab never reached the 管理 menu: " + f);
await admin.keyboard.press("Enter");
if (!(await admin.locator("details:has(summary:text-is('管理'))").evaluate((d) => d.open))) fail("Enter did not open 管理");
await admin.screenshot({ path: `${out}/nav_menu.png` });
await admin.keyboard.press("Tab");
f = await focused();
if (!f.startsWith("a:監査ログ")) fail("Tab after opening 管理 is not on its first link: " + f);
await Promise.all([admin.waitForNavigation(), admin.keyboard.press("Enter")]);
if (!admin.url().endsWith("/audit/")) fail("Enter on 監査ログ did not open it: " + admin.url());
console.log("main menu: reached, opened and followed with the keyboard");
await browser.close();
