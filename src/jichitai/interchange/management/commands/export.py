"""`jichitai export --municipality CODE DIR`: the municipality's register in the standard layout."""
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from jichitai.interchange.errors import InterchangeError
from jichitai.interchange.export import export_municipality
from jichitai.privacy import policy
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.scope import tenant_scope


class Command(BaseCommand):
    help = "団体の住民記録を標準レイアウトで出力します / export a municipality in the standard layout"

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, help="団体コード（5桁） / municipality code")
        parser.add_argument("directory", help="出力先（新規または空のディレクトリ） / output directory (new or empty)")
        parser.add_argument("--workers", type=int, default=None,
                            help="並列に書き出すプロセス数（既定: 5万人以上で2） / processes writing in parallel "
                                 "(default: 2 for 50,000+ persons on 2+ cores)")
        parser.add_argument("--include-protected-addresses", action="store_true",
                            help="DV等支援措置の対象者の住所も出力する（移行用。監査ログに記録） / include DV-protected "
                                 "persons' addresses (for leaving the platform; audited as such)")

    def handle(self, *args, **opts):
        m = Municipality.objects.select_related("prefecture").filter(code=opts["municipality"]).first()
        if m is None:
            raise CommandError(f"団体コード {opts['municipality']} の団体がありません / "
                               f"no municipality with code {opts['municipality']}")
        started = time.monotonic()

        def progress(label, n):
            print(f"  {label}: {n:,}", file=sys.stderr, flush=True)

        try:
            with tenant_scope(m):
                reader = policy.for_export(None, include_protected_addresses=opts["include_protected_addresses"],
                                           system=True)
                manifest = export_municipality(opts["directory"], reader=reader, terminal="command",
                                               progress=progress, workers=opts["workers"])
        except InterchangeError as e:
            raise CommandError(str(e)) from None
        counts = ", ".join(f"{r['name']} {r['rows']:,}" for r in manifest["resources"])
        if manifest["read_policy"]["dv_protected_addresses"] == "withheld":
            self.stderr.write("DV等支援措置の対象者の住所は出力していません（--include-protected-addresses で含めます） / "
                              "DV-protected addresses withheld")
        self.stdout.write(f"出力しました / exported {m.code} {m.name} → {opts['directory']} ({counts}; "
                          f"{time.monotonic() - started:.1f} s)")
