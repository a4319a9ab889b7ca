import json
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from jichitai.continuity.archive import BackupError


class Command(BaseCommand):
    help = ("バックアップを空のデータベースに復元します（DATABASE_URL の先。マイグレーションも実行）。"
            "復元後、各テーブルの行数・内容の要約値を目録と照合し、すべての監査ログの連鎖を検証します。")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON line (last line)")
        parser.add_argument("--verify", action="store_true",
                            help="verification into a scratch database: the restore is not recorded (検証のみ)")

    def handle(self, *args, file=None, json=False, verify=False, **o):
        t0 = time.monotonic()
        report = {"ok": False}
        try:
            report = self.restore(Path(file))
        except BackupError as exc:
            report = {"ok": False, "error": str(exc)}
        report["seconds"] = round(time.monotonic() - t0, 3)
        if report.get("ok") and not verify:
            try:
                from jichitai.continuity import actions

                actions.record_restore(Path(file), report)
            except Exception as exc:  # the restore stands; the record of it is best effort
                report["note"] = f"restore not recorded: {exc}"
        if json:
            self.stdout.write(__import__("json").dumps(report, ensure_ascii=False))
        elif report.get("ok"):
            self.stdout.write(report["summary"])
        if not report.get("ok"):
            raise CommandError(report.get("error", "restore failed / 復元に失敗しました"))

    def restore(self, path):
        from jichitai.audit.verify import verify_all
        from jichitai.continuity.backup import compare, restore

        from concurrent.futures import ThreadPoolExecutor

        from jichitai.continuity.backup import read_manifest

        timings = {}
        t = time.monotonic()
        # the whole file is authenticated (decrypted, decompressed: the GIL is released) in a second thread while
        # this one migrates; the restore starts only once it passed
        with ThreadPoolExecutor(max_workers=1) as pool:
            auth = pool.submit(read_manifest, path)
            try:
                call_command("migrate", verbosity=0, interactive=False)
            finally:
                timings["migrate"] = round(time.monotonic() - t, 2)
                auth.exception()  # (wait for it)
        manifest = restore(path, timings=timings, authenticated=auth.result)
        t = time.monotonic()
        diffs = compare(manifest)
        timings["compare_digests"] = round(time.monotonic() - t, 2)
        if diffs:
            t, want, got = diffs[0]
            return {"ok": False, "error": f"復元後の {t} が目録と一致しません（期待 {want}、実際 {got}） / after restore, "
                                          f"{t} differs from the manifest (expected {want}, found {got})",
                    "differences": len(diffs)}
        t = time.monotonic()
        reports = verify_all(manifest["chains"]) if manifest["chains"] else []
        timings["audit_chains"] = round(time.monotonic() - t, 2)
        broken = [r for r in reports if not r.ok]
        if broken:
            return {"ok": False, "error": f"監査ログの連鎖が検証できません / audit chain broken: {broken[0]}",
                    "chains": len(reports)}
        rows = sum(t["rows"] for t in manifest["tables"].values())
        return {"ok": True, "scope": manifest["scope"], "tables": len(manifest["tables"]), "rows": rows,
                "chains": len(reports), "timings": timings,
                "summary": f"restored {len(manifest['tables'])} tables, {rows} rows, every count and digest matches, "
                           f"{len(reports)} audit chain(s) verified / {len(manifest['tables'])}テーブル・{rows}行を"
                           f"復元し、目録と一致、監査ログ{len(reports)}連鎖を検証しました"}
