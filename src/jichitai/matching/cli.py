"""The `match` subcommand of `jichitai disaster` (docs/matching.md), for whichever command owns `disaster`:

    from jichitai.matching.cli import add_match_parser, run_match
    add_match_parser(subparsers)            # in add_arguments
    run_match(self, options)                # in handle, when options["sub"] == "match"
"""
import time

from django.core.management.base import CommandError

from jichitai.matching import actions, csvio
from jichitai.matching.api import match_rows
from jichitai.privacy import policy
from jichitai.tenancy.models import Municipality, StaffUser


def add_match_parser(sub):
    p = sub.add_parser("match", help="避難者名簿（CSV）を住民記録と照合する / match evacuees to the register")
    p.add_argument("--municipality", required=True, help="団体コード (5 digits)")
    p.add_argument("--input", required=True, help="CSV (UTF-8 or Shift_JIS) with a header row")
    p.add_argument("--output", required=True, help="CSV to write: one row per input row")
    p.add_argument("--columns", help="the file's column names → fields, e.g. 名前=name,フリガナ=kana,生年月日=birth,"
                                     "性別=sex,住所=address,世帯=group")
    p.add_argument("--id-column", help="column carried to the output as the evacuee id (default: the row number)")
    p.add_argument("--encoding", help="input encoding (default: UTF-8, else CP932)")
    p.add_argument("--as-user", help="staff username whose rights apply (DV right: protected addresses compared and "
                                     "shown); default: no DV right")


def run_match(command, o):
    code = o["municipality"]
    m = Municipality.objects.filter(code=code).first()
    if m is None:
        raise CommandError(f"団体コード「{code}」の団体はありません / no municipality {code}")
    user = None
    if o.get("as_user"):
        user = StaffUser.objects.filter(username=o["as_user"], municipality=m, is_active=True).first()
        if user is None:
            raise CommandError(f"{m.name}の職員「{o['as_user']}」はいません / no active staff {o['as_user']} of {code}")
        reader = policy.for_staff(user)
    else:
        reader = policy.for_export(None, include_protected_addresses=False, purpose="disaster-match", system=True)
    try:
        columns = csvio.parse_columns(o.get("columns"))
        rows = csvio.read_rows(o["input"], columns=columns, id_column=o.get("id_column"), encoding=o.get("encoding"))
    except csvio.MatchInputError as e:
        raise CommandError(str(e)) from None
    t = time.perf_counter()
    results = match_rows(m, rows, reader=reader)
    secs = time.perf_counter() - t
    # audited before the file with the residents' numbers is written (a failed write leaves the record of the read)
    actions.record_run(m, reader=reader, results=results, source=str(o["input"]).rsplit("/", 1)[-1], actor=user)
    try:
        csvio.write_results(o["output"], results)
    except csvio.MatchInputError as e:
        raise CommandError(str(e)) from None
    counts = {k: sum(r.decision == k for r in results) for k in ("auto", "review", "none")}
    command.stderr.write(f"{len(results)} rows matched in {secs:.2f} s: 自動確定 {counts['auto']}, "
                         f"要確認 {counts['review']}, 該当なし {counts['none']}, "
                         f"重複グループ {len({r.duplicate_group for r in results if r.duplicate_group})}")
