"""jichitai gaiji import-table --municipality CODE --vendor NAME --user ADMIN FILE.csv

Load a vendor's 外字対応表 into the municipality's 外字 registry (gaiji.actions.import_vendor_table): rows whose MJ
文字図形名 and UCS (with IVS) agree with the MJ table are approved at once (code-table evidence); every other row is
registered 確認待ち for review on the 外字 screens. Nothing is registered if any row is invalid.
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from jichitai.gaiji.actions import import_vendor_table
from jichitai.residents.actions import Actor, RuleError
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope


class Command(BaseCommand):
    help = "外字台帳の操作。 `jichitai gaiji import-table` はベンダーの外字対応表（CSV）を読み込みます。"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        t = sub.add_parser("import-table", help="load a vendor's 外字対応表 (CSV) as proposals")
        t.add_argument("table")
        t.add_argument("--municipality", required=True, help="5-digit 地方公共団体コード")
        t.add_argument("--vendor", required=True, help="vendor name (as given to migrate_legacy --vendor)")
        t.add_argument("--user", required=True, help="an admin of the municipality (named in the registry history)")

    def handle(self, *args, sub=None, **o):
        m = Municipality.objects.filter(code=o["municipality"]).first()
        if m is None:
            raise CommandError(f"自治体 {o['municipality']} がありません / no municipality {o['municipality']}")
        user = StaffUser.objects.filter(username=o["user"], municipality=m).first()
        if user is None:
            raise CommandError(f"職員 {o['user']} はこの自治体に所属していません / no such staff user here")
        path = Path(o["table"])
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CommandError(f"外字対応表を読めません / cannot read the table: {e}") from None
        with tenant_scope(m):
            try:
                out = import_vendor_table(Actor(user=user, terminal="gaiji import-table", municipality=m),
                                          vendor=o["vendor"], data=data, source=path.name)
            except RuleError as e:
                raise CommandError("外字対応表を読み込めませんでした（何も登録していません） / nothing registered:\n  "
                                   + "\n  ".join(msg for msgs in e.errors.values() for msg in msgs)) from None
        for r in out["rows"]:
            self.stdout.write(f"{r['line']:>5}  {r['code']:<8} {r['outcome']:<9} {r['note']}")
        self.stdout.write(f"approved {len(out['approved'])}  proposed {len(out['proposed'])}  "
                          f"skipped (already registered) {len(out['skipped'])}")
