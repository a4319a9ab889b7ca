"""`jichitai disaster match`: match a CSV of evacuees to the register (docs/matching.md).

The `disaster` command belongs to the disaster app; until it exists this file provides it with the one subcommand
`match`. At the merge, the disaster app's command adds `jichitai.matching.cli.add_match_parser(sub)` and calls
`run_match(self, options)` for `match`, and this file is deleted."""
from django.core.management.base import BaseCommand

from jichitai.matching.cli import add_match_parser, run_match


class Command(BaseCommand):
    help = "災害対応: `match` 避難者名簿を住民記録と照合 (jichitai disaster match --municipality CODE --input IN.csv " \
           "--output OUT.csv [--columns 名前=name,...] [--id-column COL])"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        add_match_parser(sub)

    def handle(self, *args, sub=None, **o):
        if sub == "match":
            run_match(self, o)
