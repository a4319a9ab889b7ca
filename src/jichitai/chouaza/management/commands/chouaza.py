"""jichitai chouaza import --municipality CODE [--dry-run] [--user ADMIN] FILE.csv

Replace a municipality's 町字 master with the CSV it provides (町字コード,町字,町字カナ,丁目（から）,丁目（まで）;
UTF-8 or CP932). Bad rows are reported with their line numbers and nothing is written.
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from jichitai.chouaza.actions import ImportRefused, import_csv
from jichitai.residents.actions import RuleError
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope


class Command(BaseCommand):
    help = "町字マスタの操作。 `jichitai chouaza import` は自治体の町字CSVで町字マスタを置き換えます。"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        t = sub.add_parser("import", help="replace the 町字 master with a CSV (all or nothing)")
        t.add_argument("file")
        t.add_argument("--municipality", required=True, help="5-digit 地方公共団体コード")
        t.add_argument("--user", help="an admin of the municipality (else recorded as the command)")
        t.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    def handle(self, *args, sub=None, **o):
        m = Municipality.objects.filter(code=o["municipality"]).first()
        if m is None:
            raise CommandError(f"自治体 {o['municipality']} がありません / no municipality {o['municipality']}")
        user = None
        if o.get("user"):
            user = StaffUser.objects.filter(username=o["user"], municipality=m).first()
            if user is None:
                raise CommandError(f"職員 {o['user']} はこの自治体に所属していません / no such staff user here")
        try:
            data = Path(o["file"]).read_bytes()
        except OSError as e:
            raise CommandError(f"ファイルを読めません / cannot read the file: {e}") from None
        with tenant_scope(m):
            try:
                plan = import_csv(user, data, terminal="chouaza import", check_only=o["dry_run"], system=user is None)
            except ImportRefused as e:
                raise CommandError("取り込めませんでした（何も登録していません） / refused, nothing written:\n  " + "\n  ".join(
                    f"{n}行目 (line {n}): {msg}" if n else msg for n, msg in e.lines)) from None
            except RuleError as e:
                raise CommandError(str(e)) from None
        verb = "would be" if o["dry_run"] else "done"
        self.stdout.write(f"追加 added {len(plan.added)}  変更 changed {len(plan.changed)}  削除 removed "
                          f"{len(plan.removed)}  変更なし unchanged {plan.unchanged} ({verb})")
        for r in plan.added:
            self.stdout.write(f"  + {r.code} {r.name}")
        for r, old in plan.changed:
            self.stdout.write(f"  ~ {r.code} {old.name} → {r.name}")
        for c in plan.removed:
            self.stdout.write(f"  - {c.code} {c.name}")
