// 届出の受付 and 審査・決裁 (issue 10, item 3): the change form with the 届出人, its confirmation page, the 決裁待ち list
// and one held change on the approval screen. 綾町 (45383) is the demo municipality with 審査・決裁 turned on; the seed
// leaves changes waiting there (jichitai.demo.seed.run_intake_stories). Usage: node shoot-intake.mjs BASE_URL OUT_DIR
import { browser, base, out, session } from "./lib.mjs";

const clerk = await session("clerk-45383");
await clerk.goto(base + "/residents/?status=resident&kana=" + encodeURIComponent("さ"));
const first = await clerk.locator("table.results td.name a").first().getAttribute("href");
await clerk.goto(base + first + "change/move_out_planned/");
await clerk.selectOption("#id_notifier_kind", "agent");
await clerk.fill("#id_notifier_name", "代理　次郎");
await clerk.fill("#id_notifier_address", "大分県大分市府内町一丁目1番1号");
await clerk.selectOption("#id_id_document", "driving_licence");
await clerk.fill("#id_destination", "福岡県福岡市中央区天神一丁目1番1号");
await clerk.fill("#id_planned_date", "R8.12.20");
await clerk.fill("#id_notification_date", "R8.12.6");
const companions = clerk.locator("input[name=companions]");
if (await companions.count()) await companions.last().check();  // 複数転出: a member (not the head) leaves too
await clerk.focus("#id_notifier_kind");
await clerk.screenshot({ path: `${out}/intake_form.png`, fullPage: true });
await Promise.all([clerk.waitForNavigation(), clerk.click("button.primary")]);
await clerk.screenshot({ path: `${out}/intake_confirm.png`, fullPage: true });
await clerk.goto(base + "/intakes/");
await clerk.screenshot({ path: `${out}/intake_clerk_list.png`, fullPage: true });

const admin = await session("admin-45383");
await admin.goto(base + "/intakes/");
await admin.screenshot({ path: `${out}/intake_pending.png`, fullPage: true });
const review = await admin.locator("table.list a", { hasText: "審査する" }).first().getAttribute("href");
await admin.goto(base + review);
await admin.screenshot({ path: `${out}/intake_approve.png`, fullPage: true });
await browser.close();
