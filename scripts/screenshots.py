"""`make screenshots`: serve a seeded copy of the demo and photograph it with Debian's chromium.

Uses its own SQLite under var/screenshots so the real demo database is untouched.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.request

root = pathlib.Path(__file__).resolve().parent.parent
var = root / "var" / "screenshots"
env = {**os.environ, "JICHITAI_VAR_DIR": str(var)}
env.pop("DATABASE_URL", None)
jichitai = [sys.executable, "-m", "jichitai.cli"]
port = os.environ.get("SHOTS_PORT", "8765")  # another port when several checkouts shoot at once
if not shutil.which("chromium"):
    sys.exit("chromium not found: apt-get install chromium")
if not (root / "scripts/screenshots/node_modules/playwright-core").exists():
    subprocess.run(["npm", "ci" if (root / "scripts/screenshots/package-lock.json").exists() else "install",
                    "--no-audit", "--no-fund"], cwd=root / "scripts/screenshots", check=True)
shutil.rmtree(var, ignore_errors=True)
var.mkdir(parents=True)
subprocess.run([*jichitai, "migrate", "-v0"], env=env, check=True)
subprocess.run([*jichitai, "seed_demo", "--scale", "0.02", "--municipalities", "44204,45383", "--quiet",
                "--with-backup"],
               env=env, check=True)
server = subprocess.Popen([*jichitai, "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(50):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    out = root / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    # shoot.mjs first (the README's tour), then every area's own shoot-*.mjs (disaster, platform, …)
    scripts = ["shoot.mjs", *sorted(p.name for p in (root / "scripts/screenshots").glob("shoot-*.mjs"))]
    only = os.environ.get("SHOTS")  # e.g. SHOTS=shoot-disaster.mjs to re-make one area's screenshots
    for script in scripts:
        if only and script not in only.split(","):
            continue
        # JICHITAI_PYTHON and the demo copy's environment, for scripts that run commands (e.g. an offline kit)
        subprocess.run(["node", script, f"http://127.0.0.1:{port}", str(out)], cwd=root / "scripts/screenshots",
                       check=True, env={**env, "JICHITAI_PYTHON": sys.executable})
finally:
    server.terminate()
    server.wait()
