// 避難行動要支援者名簿・被災者台帳・罹災証明書 (#12 items 5 and 6). Usage: node shoot-support.mjs BASE_URL OUT_DIR
// The demo seed puts residents on the 名簿 and opens 被災者台帳 with damage assessments for 44204's demo disaster.
// PDFs are fetched with the page's cookies and their first page drawn with poppler's pdftoppm.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { browser, base, out, session } from "./lib.mjs";

const tmp = mkdtempSync(join(tmpdir(), "shoot-support-"));
function firstPage(pdfBytes, name) {
  const src = join(tmp, name + ".pdf");
  writeFileSync(src, pdfBytes);
  execFileSync("pdftoppm", ["-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", src, join(tmp, name)]);
  renameSync(join(tmp, name + ".png"), `${out}/${name}.png`);
}

// the disaster-response staff: the 名簿 screen (no DV right: a protected person's address is withheld)
const staff = await session("disaster-44204");
await staff.goto(base + "/disaster/vulnerable/");
await staff.screenshot({ path: `${out}/vulnerable_roster.png`, fullPage: true });
const entry = await staff.locator("table.list td a").first().getAttribute("href");
await staff.goto(base + entry);
await staff.screenshot({ path: `${out}/vulnerable_entry.png`, fullPage: true });
const pdf = await staff.request.get(base + "/disaster/vulnerable/roster.pdf?purpose=provision");
if (pdf.headers()["content-type"] !== "application/pdf") throw new Error("roster PDF: " + pdf.status());
firstPage(await pdf.body(), "vulnerable_roster_pdf");

// the admin (may issue certificates): the 被災者台帳 of a household, then its 罹災証明書
const admin = await session("admin-44204");
await admin.goto(base + "/disaster/");
const ledgers = await admin.locator("p.links a[href*='/ledger/']").first().getAttribute("href");
await admin.goto(base + ledgers);
await admin.screenshot({ path: `${out}/victim_ledger_list.png`, fullPage: true });
await admin.click("table.list td a");
await admin.waitForLoadState();
await admin.screenshot({ path: `${out}/victim_ledger.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("button[value=confirm]")]);
await admin.screenshot({ path: `${out}/victim_certificate_confirm.png`, fullPage: true });
const fields = await admin.locator("form input[type=hidden]").evaluateAll((els) => els.map((e) => [e.name, e.value]));
const form = new URLSearchParams(fields);
form.set("step", "commit");
const cert = await admin.request.post(admin.url(), {
  headers: { "Content-Type": "application/x-www-form-urlencoded", Referer: admin.url() }, data: form.toString() });
if (cert.headers()["content-type"] !== "application/pdf") throw new Error("罹災証明書 not issued: " + cert.status());
firstPage(await cert.body(), "victim_certificate_pdf");

await browser.close();
