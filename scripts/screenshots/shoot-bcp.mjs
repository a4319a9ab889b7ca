// ICT-BCP plan and drills (#13 item 4): the plan pre-filled from the platform, its print view, a timed drill.
import { browser, base, out, session } from "./lib.mjs";
import { writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";

const admin = await session("admin-44204");
await admin.goto(base + "/continuity/bcp/");
await admin.screenshot({ path: `${out}/bcp_plan.png`, fullPage: true });
await admin.goto(base + "/continuity/bcp/edit/");
await admin.fill("#id_alt_office", "第二庁舎（日田市三本松二丁目）。第二庁舎が使えないときは大山振興局。");
await admin.fill("#id_power", "本庁舎の非常用発電機（72時間）。サーバー室は無停電電源装置で30分。");
await admin.fill("#id_note", "初版");
await admin.screenshot({ path: `${out}/bcp_edit.png` });
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
await admin.goto(base + "/continuity/drills/");
await admin.fill("#id_title", "ネットワーク断の訓練（庁内・避難所）");
await admin.selectOption("#id_scenario", "network_cut");
await admin.fill("#id_planned_for", "2026-12-06");
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
for (const step of ["1", "2", "3"]) {
  await Promise.all([admin.waitForNavigation(), admin.click(`form:has(input[name=step][value="${step}"]) button[value=step_start]`)]);
  await Promise.all([admin.waitForNavigation(), admin.click(`form:has(input[name=step][value="${step}"]) button[value=step_done]`)]);
}
await admin.screenshot({ path: `${out}/bcp_drill.png`, fullPage: true });
await admin.fill("#id_rpo_changes", "0");
await admin.fill("#id_findings", "オフラインキットの起動手順書を窓口に置く。");
await Promise.all([admin.waitForNavigation(), admin.click("input[value=finish] ~ button")]);
await admin.goto(base + "/continuity/bcp/print/");
await admin.screenshot({ path: `${out}/bcp_print.png`, fullPage: true });
// the PDF's first page as an image (poppler-utils' pdftoppm)
const pdf = await admin.request.get(base + "/continuity/bcp/plan.pdf");
const pdfPath = `${tmpdir()}/ict-bcp.pdf`;
writeFileSync(pdfPath, await pdf.body());
execFileSync("pdftoppm", ["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", pdfPath, `${out}/bcp_plan_pdf`]);
await browser.close();
console.log("bcp screenshots written to " + out);
