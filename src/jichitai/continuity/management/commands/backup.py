import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from jichitai.continuity import actions, service
from jichitai.continuity.archive import BackupError
from jichitai.continuity.backup import write_backup
from jichitai.continuity.models import BackupRecord


class Command(BaseCommand):
    help = ("暗号化したバックアップを取得します（全体、または --municipality CODE で1団体）。"
            "`backup verify FILE`: 一時データベースに復元して行数・内容の要約値・監査ログを検証します。"
            "`backup prune`: 保存方針（JICHITAI_BACKUP_RETENTION）で古いバックアップを削除します。")

    def add_arguments(self, parser):
        parser.add_argument("sub", nargs="?", choices=["verify", "prune"], help="verify FILE | prune")
        parser.add_argument("file", nargs="?")
        parser.add_argument("--municipality", help="5-digit code: back up one municipality only")
        parser.add_argument("--output", help="file to write (default: JICHITAI_BACKUP_DIR/jichitai-…-….jcbk)")
        parser.add_argument("--verify", action="store_true", help="verify the new backup right away")
        parser.add_argument("--dry-run", action="store_true", help="prune: list what would be removed")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON line")

    def handle(self, *args, sub=None, file=None, municipality=None, output=None, verify=False, dry_run=False,
               json=False, **o):
        self.as_json = json
        try:
            if sub == "verify":
                if not file:
                    raise CommandError("使い方: jichitai backup verify FILE / usage: jichitai backup verify FILE")
                return self.do_verify(Path(file))
            if sub == "prune":
                return self.do_prune(dry_run)
            path = Path(output) if output else service.backup_dir() / service.default_name(municipality or "")
            manifest = write_backup(path, municipality or "")
            r = actions.record_backup(path, manifest)
            self.stdout.write(f"{path}: {r.tables} tables, {r.rows} rows, {r.chains} audit chain(s), "
                              f"{manifest['seconds']} s / バックアップを作成しました（{r.tables}テーブル、{r.rows}行）")
            if verify:
                self.do_verify(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from None

    def do_verify(self, path):
        try:
            report = service.verify_file(path)
        except BackupError as exc:
            actions.record_refused(path, str(exc))
            raise
        actions.record_verification(path, report)
        if self.as_json:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        if report.get("ok"):
            self.stdout.write(f"{path}: OK — {report['tables']} tables and {report['rows']} rows match the "
                              f"manifest, {report['chains']} audit chain(s) verified, {report['seconds']} s / "
                              f"検証しました（{report['tables']}テーブル・{report['rows']}行が目録と一致、"
                              f"監査ログ{report['chains']}連鎖が正常）")
        else:
            self.stderr.write(f"{path}: FAILED / 検証に失敗しました: {report.get('error')}")
            sys.exit(1)

    def do_prune(self, dry_run):
        records = list(BackupRecord.objects.filter(pruned_at__isnull=True))
        victims = service.to_prune(records)
        policy = service.retention_policy()
        self.stdout.write(f"policy / 保存方針: every backup of the last {policy['daily']} days, the newest of each of "
                          f"the last {policy['weekly']} weeks and {policy['monthly']} months, and the newest "
                          f"verified one of each scope")
        if dry_run:
            for r in victims:
                self.stdout.write(f"would remove / 削除予定: {r.file_name}")
            return
        done = actions.prune(victims)
        self.stdout.write(f"{len(done)} backup(s) removed / {len(done)}件を削除しました")
