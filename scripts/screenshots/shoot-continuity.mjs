// The admin's backup screen (continuity): the last verified backup covering the municipality, recent backups and
// the retention policy. The demo seed writes and verifies one real backup of 日田市 (continuity/demo.py).
import { browser, base, out, session } from "./lib.mjs";

const admin = await session("admin-44204");
await admin.goto(base + "/continuity/backups/");
await admin.screenshot({ path: `${out}/continuity_backups.png`, fullPage: true });
await browser.close();
