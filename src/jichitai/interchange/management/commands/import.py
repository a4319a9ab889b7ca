"""`jichitai import DIR [--municipality CODE]`: a standard-layout directory into an empty municipality."""
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from jichitai.interchange.errors import InterchangeError
from jichitai.interchange.importer import import_directory


class Command(BaseCommand):
    help = ("標準レイアウトのデータを空の団体に取り込みます（団体がなければ manifest.json から作成） / "
            "import a standard-layout directory into an empty municipality (created from manifest.json if absent)")

    def add_arguments(self, parser):
        parser.add_argument("directory", help="標準レイアウトのディレクトリ / directory in the standard layout")
        parser.add_argument("--municipality", help="取り込み先の団体コード（省略時は manifest.json の団体） / "
                                                   "target municipality code (default: the manifest's)")

    def handle(self, *args, **opts):
        started = time.monotonic()

        def progress(label, n):
            print(f"  {label}: {n:,}", file=sys.stderr, flush=True)

        try:
            result = import_directory(opts["directory"], municipality_code=opts.get("municipality"),
                                      terminal="command", progress=progress)
        except InterchangeError as e:
            raise CommandError(f"取り込みませんでした（何も書き込んでいません） / nothing imported: {e}") from None
        m = result["municipality"]
        counts = ", ".join(f"{k} {v:,}" for k, v in result["counts"].items())
        self.stdout.write(f"取り込みました / imported into {m.code} {m.name}"
                          f"{'（団体を作成しました / municipality created）' if result['created'] else ''}: {counts} "
                          f"({time.monotonic() - started:.1f} s)")
