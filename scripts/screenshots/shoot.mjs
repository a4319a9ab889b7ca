// Screenshots of what a clerk and an admin see, for the README. Usage: node shoot.mjs BASE_URL OUT_DIR
// Uses Debian's chromium (/usr/bin/chromium); playwright-core downloads no browser.
import { browser, base, out, password, session, totp, demoSecret } from "./lib.mjs";

const anon = await browser.newPage({ viewport: { width: 1280, height: 700 }, locale: "ja-JP" });
await anon.goto(base + "/login/");
await anon.screenshot({ path: `${out}/login.png` });

const clerk = await session("clerk-44204");
await clerk.screenshot({ path: `${out}/dashboard.png` });
await clerk.goto(base + "/residents/?kana=" + encodeURIComponent(process.env.SHOT_KANA || "さ"));
await clerk.screenshot({ path: `${out}/search.png`, fullPage: true });
const first = await clerk.locator("table.results td.name a").first().getAttribute("href");
await clerk.goto(base + first);
await clerk.screenshot({ path: `${out}/person.png`, fullPage: true });
await clerk.goto(base + first + "change/move_within/");
await clerk.selectOption("#id_notifier_kind", "self");  // 届出の受付: who filed it, which document was checked
await clerk.selectOption("#id_id_document", "my_number_card");
// the demo has a 町字 master: the address is entered as 町字 (chosen) + 番地・号
await clerk.selectOption("#id_chouaza", { index: 2 });
await clerk.fill("#id_banchi", "5番1号");
await clerk.fill("#id_change_date", "R8.11.20");
await clerk.fill("#id_notification_date", "令和8年11月25日");
await clerk.check("input[name=household_mode][value=all]");  // the form asks how the household moves
await clerk.screenshot({ path: `${out}/change_form.png`, fullPage: true });
await Promise.all([clerk.waitForNavigation(), clerk.click("button.primary")]);
await clerk.screenshot({ path: `${out}/change_confirm.png`, fullPage: true });
await Promise.all([clerk.waitForNavigation(), clerk.click("button[value=commit]")]);
await clerk.screenshot({ path: `${out}/person_after_move.png`, fullPage: true });

// 証明書: the issue form, its confirmation page, then the issue itself (the response is the PDF, so it is posted
// with the page's cookies instead of clicked), the 交付簿, one record with its verification code, the public page.
await clerk.goto(base + first + "certificate/");
await clerk.check("#id_honseki");
await clerk.screenshot({ path: `${out}/certificate_form.png`, fullPage: true });
await Promise.all([clerk.waitForNavigation(), clerk.click("button.primary")]);
await clerk.screenshot({ path: `${out}/certificate_confirm.png`, fullPage: true });
const fields = await clerk.locator("form input[type=hidden]").evaluateAll(
  (els) => els.map((e) => [e.name, e.value]));
const form = new URLSearchParams(fields);
form.set("step", "commit");
const pdf = await clerk.request.post(clerk.url(), {
  headers: { "Content-Type": "application/x-www-form-urlencoded", Referer: clerk.url() }, data: form.toString() });
if (pdf.headers()["content-type"] !== "application/pdf") throw new Error("certificate not issued: " + pdf.status());
await clerk.goto(base + "/certificates/");
await clerk.screenshot({ path: `${out}/certificate_log.png`, fullPage: true });
await clerk.click("table.list td a");
await clerk.waitForLoadState();
await clerk.screenshot({ path: `${out}/certificate_detail.png`, fullPage: true });
const verifyPath = await clerk.locator("a[href^='/verify/']").first().getAttribute("href");
const visitor = await browser.newPage({ viewport: { width: 1280, height: 760 }, locale: "ja-JP" });
await visitor.goto(base + verifyPath);
await visitor.screenshot({ path: `${out}/certificate_verify.png`, fullPage: true });

const admin = await session("admin-44204", { mfaShot: "mfa_verify.png" });
await admin.goto(base + "/certificates/settings/");
await admin.screenshot({ path: `${out}/certificate_settings.png`, fullPage: true });
await admin.goto(base + "/audit/?verify=1");
await admin.screenshot({ path: `${out}/audit.png`, fullPage: true });

// 外字: the vendor's glyph (drawn here from IPAmj明朝, standing in for a vendor's bitmap) is uploaded through the
// registration form; one code comes with a 住基ネット統一文字コード (approved automatically), one without (review).
const glyphPage = await browser.newPage({ viewport: { width: 200, height: 200 } });
await glyphPage.setContent(`<style>@font-face{font-family:mj;src:url(${base}/fonts/ipamjm.ttf)}</style>
  <div id=g style="font-family:mj;font-size:110px;width:128px;height:128px;line-height:128px;text-align:center;background:#fff">𠮷</div>`);
await glyphPage.waitForTimeout(1500);
const glyph = await glyphPage.locator("#g").screenshot({ type: "png" });
await admin.goto(base + "/gaiji/new/");
await admin.fill("#id_code", "F040");
await admin.fill("#id_vendor", "旧住基システム（A社）");
await admin.fill("#id_vendor_juki_code", "J+9AD9");
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
await admin.goto(base + "/gaiji/new/");
await admin.fill("#id_code", "F041");
await admin.fill("#id_vendor", "旧住基システム（A社）");
await admin.setInputFiles("#id_glyph", { name: "F041.png", mimeType: "image/png", buffer: glyph });
await admin.fill("#id_vendor_note", "つちよし（吉の上が土）");
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
const reviewUrl = admin.url();
await admin.goto(reviewUrl + "?reading=" + encodeURIComponent("きち") + "&strokes=6");
await admin.waitForTimeout(1000);
await admin.screenshot({ path: `${out}/gaiji_review.png`, fullPage: true });
await admin.goto(base + "/gaiji/");
await admin.screenshot({ path: `${out}/gaiji_list.png`, fullPage: true });

// 職員管理: clerk-44204 locked by five wrong passwords, the list, the edit page, the unlock confirmation; a new
// admin with a temporary password, who must enrol an authenticator and then set a password at the first sign-in.
const intruder = await browser.newPage({ viewport: { width: 1280, height: 700 }, locale: "ja-JP" });
for (let i = 0; i < 5; i++) {
  await intruder.goto(base + "/login/");
  await intruder.fill("#id_username", "clerk-44204");
  await intruder.fill("#id_password", "wrong-" + i);
  await Promise.all([intruder.waitForNavigation(), intruder.click("button[type=submit]")]);
}
await intruder.screenshot({ path: `${out}/login_refused.png` });
await admin.goto(base + "/staff/");
await admin.screenshot({ path: `${out}/staff_list.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("text=clerk-44204")]);
await admin.screenshot({ path: `${out}/staff_edit.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("a.button:has-text('ロックを解除')")]);
await admin.screenshot({ path: `${out}/staff_unlock.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("button[value=commit]")]);
await admin.goto(base + "/staff/new/");
await admin.fill("#id_username", "suzuki-44204");
await admin.fill("#id_display_name", "鈴木 一郎");
await admin.selectOption("#id_role", "admin");
await admin.screenshot({ path: `${out}/staff_create.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
await admin.screenshot({ path: `${out}/staff_create_confirm.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("button[value=commit]")]);
const temp = (await admin.locator("code.secret").textContent()).trim();
await admin.screenshot({ path: `${out}/staff_temp_password.png`, fullPage: true });
const newcomer = await session("suzuki-44204", { pass: temp });
await newcomer.screenshot({ path: `${out}/mfa_setup.png`, fullPage: true });
const secret = (await newcomer.locator("#secret").textContent()).trim();
await newcomer.fill("#id_token", totp(secret));
await Promise.all([newcomer.waitForNavigation(), newcomer.click("button.primary")]);
await newcomer.screenshot({ path: `${out}/mfa_recovery_codes.png`, fullPage: true });
await Promise.all([newcomer.waitForNavigation(), newcomer.click("a.button.primary")]);
await newcomer.screenshot({ path: `${out}/password_change.png`, fullPage: true });

const op = await session("operator");
await op.screenshot({ path: `${out}/platform.png`, fullPage: true });
await browser.close();
console.log("screenshots written to " + out);
