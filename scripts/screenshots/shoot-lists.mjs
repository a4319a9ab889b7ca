// Screenshots of the 町字 master (with an import's confirmation), the 交付簿 with its 日計, the 日計表 (screen and its
// PDF's first page, rasterised with pdftoppm) and the 異動者一覧. Usage: node shoot-lists.mjs BASE_URL OUT_DIR
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { browser, base, out, session } from "./lib.mjs";

const admin = await session("admin-44204");
await admin.goto(base + "/chouaza/");
await admin.screenshot({ path: `${out}/chouaza_master.png`, fullPage: true });
// an import: the municipality's file with one 町字 more and one 丁目 range changed → the confirmation page
const rows = await admin.locator("table tbody tr").evaluateAll((trs) => trs.map((tr) =>
  [...tr.querySelectorAll("td")].slice(0, 4).map((td) => td.textContent.trim())));
const lines = ["町字コード,町字,町字カナ,丁目（から）,丁目（まで）"];
rows.forEach(([code, name, kana, range], i) => {
  const m = range.match(/(\d+)〜(\d+)丁目/);
  const to = m ? (i === 0 ? Number(m[2]) + 1 : m[2]) : "";
  lines.push([code, name, kana, m ? m[1] : "", to].join(","));
});
lines.push("9999000,新町,シンマチ,1,3");
await admin.setInputFiles("#id_file", { name: "chouaza.csv", mimeType: "text/csv",
  buffer: Buffer.from("\ufeff" + lines.join("\r\n") + "\r\n", "utf-8") });
await Promise.all([admin.waitForNavigation(), admin.click("button[value=check]")]);
await admin.screenshot({ path: `${out}/chouaza_import_confirm.png`, fullPage: true });

const clerk = await session("clerk-44204");
await clerk.goto(base + "/lists/issuances/");
await clerk.screenshot({ path: `${out}/issuance_log_daily.png`, fullPage: true });
await clerk.goto(base + "/lists/daily/");
await clerk.screenshot({ path: `${out}/daily_totals.png`, fullPage: true });
const pdf = await clerk.request.get(base + "/lists/daily/?format=pdf");
if (pdf.headers()["content-type"] !== "application/pdf") throw new Error("日計表 PDF: " + pdf.status());
const dir = mkdtempSync(join(tmpdir(), "lists-"));
writeFileSync(join(dir, "daily.pdf"), await pdf.body());
execFileSync("pdftoppm", ["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", join(dir, "daily.pdf"),
  `${out}/daily_totals_pdf`]);

const from = new Date(Date.now() - 60 * 86400000).toISOString().slice(0, 10);
await clerk.goto(base + `/lists/movers/?date_from=${from}`);
await clerk.setViewportSize({ width: 1280, height: 1400 });
await clerk.screenshot({ path: `${out}/movers_list.png` });  // the top of the list
await browser.close();
