// The offline kit (#13 item 3): built from the demo copy, served on another port as a laptop would, and the
// platform's kit screen after syncing back what was done offline.
import { browser, base, out, session } from "./lib.mjs";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

const py = process.env.JICHITAI_PYTHON || "python3";
const work = mkdtempSync(`${tmpdir()}/jichitai-kit-`);
const env = { ...process.env, JICHITAI_KIT_PASSPHRASE: "demo kit passphrase 2026" };
const jichitai = (...args) => execFileSync(py, ["-m", "jichitai.cli", ...args], { env }).toString();
jichitai("offline", "build", "--municipality", "44204", "--device", "shelter-demo", "--label", "三本松小学校（避難所）",
         "--out", `${work}/kit.jck`, "--block", "100");
const server = spawn(py, ["-m", "jichitai.cli", "offline", "run", `${work}/kit.jck`, "--dir", `${work}/laptop`,
                          "--port", "8766"], { env, stdio: "ignore" });
const kitBase = "http://127.0.0.1:8766";
for (let i = 0; i < 900; i++) {  // up to 3 min: scrypt and Django start slowly on a busy machine
  try { const r = await fetch(kitBase + "/login/"); if (r.ok) break; } catch {}
  await new Promise((r) => setTimeout(r, 200));
}
try {
  const clerk = await session("clerk-44204", { baseUrl: kitBase });
  await clerk.screenshot({ path: `${out}/offline_kit_dashboard.png` });
  await clerk.goto(kitBase + "/continuity/offline/intake/");
  await clerk.selectOption("#id_kind", "move_within");
  await clerk.fill("#id_notifier", "本人（避難所で受付）");
  await clerk.fill("#id_memo", "新住所: 三本松二丁目5番1号（仮設住宅）\n異動日: 令和8年12月6日\n本人確認: 個人番号カード");
  await Promise.all([clerk.waitForNavigation(), clerk.click("button.primary")]);
  await clerk.screenshot({ path: `${out}/offline_kit_intake.png`, fullPage: true });
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
}
jichitai("offline", "export", "--dir", `${work}/laptop`, "--out", `${work}/sync.jcsync`);
jichitai("offline", "sync", "--municipality", "44204", `${work}/sync.jcsync`);
const admin = await session("admin-44204");
await admin.goto(base + "/continuity/offline/");
await admin.screenshot({ path: `${out}/offline_kits.png`, fullPage: true });
// a second kit whose laptop was lost: 失効 with its confirmation, then the list with the kit revoked
jichitai("offline", "build", "--municipality", "44204", "--device", "laptop-soumu-2", "--label", "総務課（持ち出し用）",
         "--out", `${work}/kit2.jck`, "--block", "50");
await admin.goto(base + "/continuity/offline/");
await Promise.all([admin.waitForNavigation(), admin.click("tr:has-text('laptop-soumu-2') a:has-text('失効させる')")]);
await admin.fill("#id_reason", "出張先でノートPCを紛失（警察へ遺失届 第1234号）");
await admin.screenshot({ path: `${out}/offline_kit_revoke.png`, fullPage: true });
await Promise.all([admin.waitForNavigation(), admin.click("button.primary")]);
await admin.screenshot({ path: `${out}/offline_kits_revoked.png`, fullPage: true });
await browser.close();
console.log("offline kit screenshots written to " + out);
