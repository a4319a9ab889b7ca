// Keyboard-first check in Chromium (issue 10, item 9): node keyboard.mjs BASE_URL. Exits non-zero on a failure.
// A 転居 done with the keyboard only: the form opens with the focus on its first field, Enter in a field goes to
// the confirmation page, a stray Enter there goes back to the form (nothing registered), Tab reaches 登録する.
import { chromium } from "playwright-core";

const base = process.argv[2] || "http://127.0.0.1:8765";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: "ja-JP" });
const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };
const focused = () => page.evaluate(() => {
  const e = document.activeElement; return e ? `${e.tagName.toLowerCase()}#${e.id}[${e.name || ""}]${e.textContent.trim().slice(0, 10)}` : "";
});

await page.goto(base + "/login/");
if (!(await focused()).includes("username")) fail("login: focus not on the user name: " + await focused());
await page.fill("#id_username", "clerk-44204");
await page.fill("#id_password", process.env.DEMO_PASSWORD || "demo-pass-2026");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);

await page.goto(base + "/residents/");
if (!(await focused()).includes("id_name")) fail("search: focus not on 氏名: " + await focused());
await page.keyboard.press("Tab");  // 氏名 → フリガナ
await page.keyboard.type("さ");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
const href = await page.locator("table.results td.name a").first().getAttribute("href");
await page.goto(base + href + "change/move_within/");
let f = await focused();
if (!f.includes("id_notifier_kind")) fail("change form: focus not on the first field (届出人): " + f);
console.log("change form opens focused on", f);
await page.selectOption("#id_notifier_kind", "self");
await page.selectOption("#id_id_document", "my_number_card");
// the demo has a 町字 master: the address is 町字 (a select) + 番地・号
await page.focus("#id_chouaza");
await page.keyboard.press("ArrowDown");  // the first 町字 of the list
await page.keyboard.press("Tab");
await page.keyboard.type("9番9号");
await page.fill("#id_change_date", "R8.11.20");
await page.fill("#id_notification_date", "R8.11.25");
await page.check("input[name=household_mode][value=all]");
await page.focus("#id_notification_date");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
if (!(await page.title()).includes("確認")) fail("Enter in a field did not open the confirmation: " + await page.title());
f = await focused();
if (!f.includes("戻って修正")) fail("confirmation: focus not on 戻って修正: " + f);
console.log("confirmation opens focused on", f);
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);  // a stray Enter
if ((await page.title()).includes("確認") || !(await page.inputValue("#id_banchi")).includes("9番9号"))
  fail("a stray Enter on the confirmation did not go back to the form with the input: " + await page.title());
console.log("stray Enter → back to the form, input kept; nothing registered");
await page.focus("#id_notification_date");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
await page.keyboard.press("Tab");
f = await focused();
if (!f.includes("登録する")) fail("Tab from 戻って修正 does not reach 登録する: " + f);
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
if (!(await page.content()).includes("転居を登録しました")) fail("Tab, Enter on 登録する did not register");
else console.log("Tab → 登録する, Enter → registered");
await browser.close();
