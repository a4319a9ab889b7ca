// Shared by every shoot*.mjs: the browser, BASE_URL and OUT_DIR from argv, two-step sign-in of the demo's staff.
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";

export const base = process.argv[2] || "http://127.0.0.1:8765";
export const out = process.argv[3] || "../../docs/screenshots";
export const password = process.env.DEMO_PASSWORD || "demo-pass-2026";
export const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});

// Two-step sign-in: the demo's admins and operator are enrolled with the demo secret `make demo` prints
// (jichitai.demo.seed.DEMO_TOTP_SECRET); the code is computed here as any authenticator app would (RFC 6238).
export const demoSecret = process.env.DEMO_TOTP_SECRET || "JICHITAIDEMOTOTPJICHITAIDEMOTOTP";
function base32(s) {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/[\s=]/g, "").toUpperCase()) bits += abc.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
export function totp(secret) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const h = createHmac("sha1", base32(secret)).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const n = (((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1000000;
  return String(n).padStart(6, "0");
}

export async function session(user, { pass = password, mfaShot = null, baseUrl = base } = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: "ja-JP" });
  await page.goto(baseUrl + "/login/");
  await page.fill("#id_username", user);
  await page.fill("#id_password", pass);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  if (page.url().includes("/login/mfa/")) {
    if (mfaShot) await page.screenshot({ path: `${out}/${mfaShot}`, fullPage: true });
    // A code is accepted once per 30-second step (django-otp refuses a replay): when an earlier script signed in as
    // the same user within this step, wait for the next code and try again.
    for (let attempt = 0; attempt < 3 && page.url().includes("/login/mfa/"); attempt++) {
      if (attempt > 0) await page.waitForTimeout(30000 - (Date.now() % 30000) + 500);
      await page.fill("#id_token", totp(demoSecret));
      await Promise.all([page.waitForNavigation(), page.click("button.primary")]);
    }
    if (page.url().includes("/login/mfa/")) throw new Error(`two-step sign-in of ${user} refused three times`);
  }
  return page;
}

