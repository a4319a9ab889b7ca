// Disaster response (#12): evacuees, quick entry, matching review, 重複候補, safety board, not-yet-confirmed list,
// 広域避難 grants, dashboard. Usage: node shoot-evacuees.mjs BASE_URL OUT_DIR (run by scripts/screenshots.py).
import { browser, base, out, session } from "./lib.mjs";

const d = await session("disaster-44204");
await d.goto(base + "/disaster/evacuees/");
await d.screenshot({ path: `${out}/disaster_shelters.png` });

// quick entry, keyboard only: the focus starts in line 1's 氏名; Tab moves along the line and to the next line
await d.goto(base + "/disaster/quick/");
await d.keyboard.type("日田　一郎");
await d.keyboard.press("Tab");
await d.keyboard.type("ひた いちろう");
await d.keyboard.press("Tab");
await d.keyboard.type("S45.3.3");
await d.keyboard.press("Tab");
await d.keyboard.type("男");
await d.keyboard.press("Tab");
await d.keyboard.press("Tab");
await d.keyboard.press("Space"); // 家族への開示
for (let i = 0; i < 3; i++) await d.keyboard.press("Tab"); // 知人, 公表 → line 2 氏名
await d.keyboard.type("日田　陽菜");
await d.keyboard.press("Tab");
await d.keyboard.press("Tab");
await d.keyboard.type("8歳");
await d.screenshot({ path: `${out}/disaster_quick_entry.png`, fullPage: true });
await Promise.all([d.waitForNavigation(), d.keyboard.press("Enter")]);
await d.screenshot({ path: `${out}/disaster_quick_entry_done.png` });

await d.goto(base + "/disaster/review/");
await d.screenshot({ path: `${out}/disaster_review.png`, fullPage: false });
// 重複候補: the same person registered at two shelters — merge, or set apart as different people
await d.goto(base + "/disaster/duplicates/");
await d.screenshot({ path: `${out}/disaster_duplicates.png`, fullPage: true });
await d.goto(base + "/disaster/safety/");
await d.screenshot({ path: `${out}/disaster_safety_board.png`, fullPage: true });
await d.goto(base + "/disaster/safety/unconfirmed/?age_min=75");
await d.screenshot({ path: `${out}/disaster_unconfirmed.png`, fullPage: false });
await d.goto(base + "/disaster/grants/");
await d.screenshot({ path: `${out}/disaster_grants.png`, fullPage: true });
await d.goto(base + "/disaster/dashboard/");
await d.screenshot({ path: `${out}/disaster_dashboard.png`, fullPage: true });

// the host (綾町) looks up 日田市's evacuees under the grant: minimal fields, DV-protected never returned
const host = await session("admin-45383");
await host.goto(base + "/disaster/grants/");
await Promise.all([host.waitForNavigation(), host.click("form[action$='/lookup/'] button")]);
await host.screenshot({ path: `${out}/disaster_grant_lookup.png`, fullPage: true });

await browser.close();
