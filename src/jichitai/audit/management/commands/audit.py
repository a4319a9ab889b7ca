import sys

from django.core.management.base import BaseCommand

from jichitai.audit.verify import verify_all


class Command(BaseCommand):
    help = "監査ログの操作。 `jichitai audit verify [--municipality CODE]` はハッシュ連鎖を検証し、最初の破損箇所を報告します。"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        v = sub.add_parser("verify", help="verify the hash chains")
        v.add_argument("--municipality", help="5-digit code; default: every chain")

    def handle(self, *args, sub=None, municipality=None, **options):
        reports = verify_all([municipality] if municipality else None)
        bad = 0
        for r in reports:
            self.stdout.write(str(r))
            bad += not r.ok
        if not reports:
            self.stdout.write("no audit chains / 監査ログはまだありません")
        if bad:
            self.stderr.write(f"{bad} chain(s) broken / {bad}件の連鎖が破損しています")
            sys.exit(1)
