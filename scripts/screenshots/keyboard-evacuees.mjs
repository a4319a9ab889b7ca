// Keyboard-only check in Chromium for the shelter reception desk and the matching review (#12):
// node keyboard-evacuees.mjs BASE_URL. Exits non-zero on a failure. Needs the demo seed (disaster-44204).
import { browser, base, session } from "./lib.mjs";

const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };
const page = await session("disaster-44204");
const focused = () => page.evaluate(() => {
  const e = document.activeElement; return e ? `${e.tagName.toLowerCase()}[${e.name || ""}]${(e.value || "").slice(0, 10)}` : "";
});
const count = async (url, re) => {
  await page.goto(base + url);
  const m = (await page.content()).match(re);
  return m ? Number(m[1]) : NaN;
};

const before = await count("/disaster/evacuees/", /避難者（(\d+)人/);
await page.goto(base + "/disaster/quick/");
if (!(await focused()).includes("l0-full_name")) fail("quick entry: focus not on line 1 氏名: " + await focused());
for (const [text, tabs] of [["日田　次郎", 1], ["ひた じろう", 1], ["S40.1.2", 1], ["男", 3]]) {
  await page.keyboard.type(text);
  for (let i = 0; i < tabs; i++) await page.keyboard.press("Tab");
}
await page.keyboard.press("Tab"); // 知人, 公表 → line 2
await page.keyboard.press("Tab");
if (!(await focused()).includes("l1-full_name")) fail("quick entry: Tab did not reach line 2 氏名: " + await focused());
await page.keyboard.type("日田　咲");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
if (!(await page.content()).includes("2人を登録しました")) fail("quick entry: Enter did not register the household");
if (!(await focused()).includes("l0-full_name")) fail("quick entry: after registering, focus not on line 1");
const after = await count("/disaster/evacuees/", /避難者（(\d+)人/);
if (after !== before + 2) fail(`quick entry: ${before} → ${after} evacuees, expected +2`);

const review = await count("/disaster/review/", /要確認 (\d+)人/);
if (!(await focused()).startsWith("input[person]")) fail("review: focus not on the first candidate: " + await focused());
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]); // a stray Enter: 後で確認する
if ((await count("/disaster/review/", /要確認 (\d+)人/)) !== review) fail("review: a stray Enter confirmed a match");
await page.keyboard.press("Space"); // select the focused candidate
await page.keyboard.press("Tab"); // 後で確認する
await page.keyboard.press("Tab"); // 選んだ住民と確定する
if (!(await page.evaluate(() => document.activeElement.value)).includes("link")) fail("review: Tab did not reach 確定");
await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
if ((await count("/disaster/review/", /要確認 (\d+)人/)) !== review - 1) fail("review: Tab + Enter did not confirm");
console.log(process.exitCode ? "keyboard check FAILED" : "keyboard check passed: quick entry and review, keyboard only");
await browser.close();
