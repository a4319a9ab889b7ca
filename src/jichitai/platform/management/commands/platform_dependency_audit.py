"""`jichitai platform_dependency_audit`: audit the hash-pinned lock for known vulnerabilities with pip-audit and store
the result for the evidence page. Run by the operator (cron, daily): pip-audit asks an online vulnerability
database (PyPI / OSV), so it is never run while a page renders. pip-audit is not a dependency of the application:
install it beside it (`pipx install pip-audit`) or name it with JICHITAI_PIP_AUDIT. Without network access or the
tool, the failure itself is stored and shown (「監査できませんでした」), never a pass."""
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from jichitai.platform import actions


class Command(BaseCommand):
    help = "pip-audit the lock and store the result / 依存関係の脆弱性監査"

    def add_arguments(self, parser):
        parser.add_argument("--lock", default=str(Path(settings.PROJECT_DIR) / "requirements.lock"))
        parser.add_argument("--timeout", type=int, default=600)

    def handle(self, *args, lock, timeout, **kw):
        tool = getattr(settings, "JICHITAI_PIP_AUDIT", "") or shutil.which("pip-audit") or ""
        data = Path(lock).read_bytes()
        lock_sha = hashlib.sha256(data).hexdigest()
        packages = sum(1 for line in data.decode().splitlines() if "==" in line and not line.startswith("#"))
        vulns, error, ok = [], "", False
        if not tool:
            error = "pip-audit が見つかりません（pipx install pip-audit、または JICHITAI_PIP_AUDIT）"
        else:
            cmd = [tool, "-r", lock, "--require-hashes", "--no-deps", "--disable-pip", "--format", "json",
                   "--progress-spinner", "off"]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                doc = json.loads(p.stdout or "{}")
                deps = doc.get("dependencies", []) if isinstance(doc, dict) else doc
                for d in deps:
                    for v in d.get("vulns", []):
                        vulns.append({"package": d.get("name"), "version": d.get("version"), "id": v.get("id"),
                                      "fix_versions": v.get("fix_versions", [])})
                if not deps and p.returncode not in (0, 1):
                    error = (p.stderr or "pip-audit failed").strip()[-900:]
                else:
                    ok = not vulns
            except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                error = f"監査できませんでした: {e}"[:1000]
        actions.record_dependency_audit(tool=tool, lock_sha256=lock_sha, packages=packages, ok=ok,
                                        vulnerabilities=vulns, error=error)
        self.stdout.write(f"{packages} packages, {len(vulns)} known vulnerabilities"
                          + (f", error: {error}" if error else "") + f" / {packages}件中 既知の脆弱性 {len(vulns)}件")
