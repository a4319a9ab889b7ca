// Screenshots of the platform screens (共同利用): tier engine, fit-gap, 割り勘, SLA, CEPTOAR, evidence, licences,
// contract exit. Usage: node shoot-platform.mjs BASE_URL OUT_DIR (run by scripts/screenshots.py).
import { browser, base, out, session } from "./lib.mjs";

const shot = async (page, path, name) => {
  await page.goto(base + path);
  await page.screenshot({ path: `${out}/${name}`, fullPage: true });
};

const op = await session("operator");
await shot(op, "/platform/shared/", "platform_home_operator.png");
await shot(op, "/platform/settings/", "platform_settings_standard.png");
await shot(op, "/platform/settings/?prefecture=45", "platform_settings_prefecture.png");
await shot(op, "/platform/approvals/", "platform_approvals.png");
await shot(op, "/platform/fitgap/", "platform_fitgap.png");
await shot(op, "/platform/fitgap/individual/?prefecture=44", "platform_fitgap_drill.png");
await shot(op, "/platform/costs/", "platform_costs.png");
await shot(op, "/platform/sla/", "platform_sla.png");
const incident = await op.locator("a[href*='/platform/sla/incidents/']").first().getAttribute("href");
if (incident) await shot(op, incident, "platform_incident.png");
await shot(op, "/platform/advisories/", "platform_advisories_operator.png");
const adv = await op.locator("a[href*='/platform/advisories/']").first().getAttribute("href");
if (adv) await shot(op, adv, "platform_advisory_detail.png");
await shot(op, "/platform/licences/", "platform_licences.png");
await shot(op, "/platform/evidence/?code=44204", "platform_evidence.png");

// a setting edit with its confirmation page (opens on 「戻って修正」)
await op.goto(base + "/platform/settings/platform.sla_latency_ms/?tier=standard");
await op.fill("#value", "600");
await op.fill("#requirement", "R-ALL-0003");
await op.screenshot({ path: `${out}/platform_setting_edit.png`, fullPage: true });
await Promise.all([op.waitForNavigation(), op.click("button[value=confirm]")]);
await op.screenshot({ path: `${out}/platform_setting_confirm.png`, fullPage: true });

const admin = await session("admin-44204");
await shot(admin, "/platform/settings/", "platform_settings_municipality.png");
await shot(admin, "/platform/requirements/", "platform_requirements.png");
await shot(admin, "/platform/statement/", "platform_statement.png");
await shot(admin, "/platform/advisories/", "platform_advisories_municipality.png");

// contract exit of the second demo municipality (綾町): start → export → its admin confirms → deletion certificate
await op.goto(base + "/platform/exits/");
await op.selectOption("#code", "45383");
await op.fill("#reason", "デモ: 契約期間満了（2027年3月31日）");
await Promise.all([op.waitForNavigation(), op.click("button:has-text(\"始める\")")]);
await Promise.all([op.waitForNavigation(), op.click("button[value=export]")]);
await op.screenshot({ path: `${out}/platform_exit_exported.png`, fullPage: true });
const exitUrl = op.url();
const sha = (await op.locator("code").first().textContent()).trim();
const aya = await session("admin-45383");
await aya.goto(exitUrl);
await aya.fill("#sha256", sha.slice(0, 16));
await aya.screenshot({ path: `${out}/platform_exit_confirm.png`, fullPage: true });
await Promise.all([aya.waitForNavigation(), aya.click("button[value=confirm]")]);
await op.goto(exitUrl);
await op.fill("#code", "45383");
await Promise.all([op.waitForNavigation(), op.click("button[value=delete]")]);
await op.screenshot({ path: `${out}/platform_exit_certificate.png`, fullPage: true });

await browser.close();
