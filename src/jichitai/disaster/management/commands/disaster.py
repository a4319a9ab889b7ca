"""`jichitai disaster SUBCOMMAND ...` — the disaster app's batch commands.

Each subcommand is one entry of SUBCOMMANDS: (name, help, function adding its arguments, handler). Other parts
add theirs to the table (the matcher's `match`), nothing else changes. Every subcommand acts as a named staff
member of the municipality (`--user`), whose permissions the actions check, and is audited like the screens.
"""
import json
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from jichitai.matching.cli import add_match_parser, run_match
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope


def _common(p):
    p.add_argument("--municipality", required=True, help="団体コード / municipality code")
    p.add_argument("--user", required=True, help="この団体の職員のユーザー名（権限を確認します） / staff username")


def _args_import(p):
    _common(p)
    p.add_argument("--input", required=True, help="CSV（見出しは evacuee_rows.CSV_HEADERS）")


def _run_import(cmd, o):
    from jichitai.disaster import actions

    _, counts = actions.import_evacuees_csv(o["_user"], Path(o["input"]).read_bytes(), terminal="cli")
    cmd.stdout.write(json.dumps(counts, ensure_ascii=False))


def _args_export(p):
    _common(p)
    p.add_argument("--output", required=True)
    p.add_argument("--min-entry-date", help="YYYY-MM-DDTHH:MM:SSZ（差分）")


def _run_export(cmd, o):
    from jichitai.audit.actions import record_event
    from jichitai.disaster import pfif, queries
    from jichitai.tenancy.roles import Perm, has_perm

    if not has_perm(o["_user"], Perm.CONFIRM_SAFETY):
        raise PermissionDenied
    since = None
    if o.get("min_entry_date"):
        since = pfif.parse_datetime(o["min_entry_date"])
        if since is None:
            raise CommandError("--min-entry-date は YYYY-MM-DDTHH:MM:SSZ で / use YYYY-MM-DDTHH:MM:SSZ")
    m = o["_m"]
    rows = queries.pfif_export_rows(m, min_entry_date=since)
    Path(o["output"]).write_bytes(pfif.render(m, rows))
    record_event(m, "disaster.pfif_export", actor=o["_user"], object_type="pfif",
                 detail={"persons": len(rows), "notes": sum(len(r["notes"]) for r in rows),
                         "min_entry_date": o.get("min_entry_date"), "via": "cli"})
    cmd.stdout.write(f"{len(rows)} persons / {len(rows)}人を出力しました: {o['output']}")


def _args_pfif_import(p):
    _common(p)
    p.add_argument("--input", required=True)
    p.add_argument("--domain", required=True, help="取込元のドメイン / the source repository's domain")


def _run_pfif_import(cmd, o):
    from jichitai.disaster import actions

    rep = actions.import_pfif(o["_user"], Path(o["input"]).read_bytes(), source_domain=o["domain"], terminal="cli")
    cmd.stdout.write(f"persons {rep['persons']}, notes {rep['notes']}, problems {len(rep['problems'])} / "
                     f"人物 {rep['persons']}件、ノート {rep['notes']}件、取り込めなかった {len(rep['problems'])}件")
    for p in rep["problems"]:
        cmd.stderr.write(f"  line {p['line']}: {p['record']}: {p['reason']}")


SUBCOMMANDS = {
    "import-evacuees": ("避難者の CSV を一括登録 / bulk-register evacuees from a CSV", _args_import, _run_import),
    "pfif-export": ("PFIF 1.4 を出力（公表に同意・支援措置なし） / write PFIF 1.4", _args_export, _run_export),
    "pfif-import": ("PFIF 1.1〜1.4 を取込 / import a PFIF document", _args_pfif_import, _run_pfif_import),
}


class Command(BaseCommand):
    help = "災害対応の一括処理 / disaster response batch commands: " + ", ".join([*SUBCOMMANDS, "match"])
    # Django's system checks (models, URLs, templates: ≈ 0.5 s of a ≈ 5 s `match` on 1,000,000 residents) are for
    # `jichitai check`, the server and the tests; a batch command during a disaster runs only the project's own
    # operational check — the audit keys it writes its event with (check_audit_keys) — and stops if it fails
    requires_system_checks = []

    def execute(self, *args, **options):
        from jichitai.audit.apps import check_audit_keys

        errors = check_audit_keys()
        if errors:
            raise CommandError(" / ".join(e.msg for e in errors))
        return super().execute(*args, **options)

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        for name, (help_, add, _run) in SUBCOMMANDS.items():
            add(sub.add_parser(name, help=help_))
        add_match_parser(sub)  # the matcher's own subcommand (jichitai.matching.cli; its own options)

    def handle(self, *args, sub=None, **o):
        if sub == "match":
            return run_match(self, o)
        m = Municipality.objects.filter(code=o.get("municipality")).first()
        if m is None:
            raise CommandError(f"団体コード {o.get('municipality')} がありません / unknown municipality")
        user = StaffUser.objects.filter(username=o.get("user"), municipality=m, is_active=True).first()
        if user is None:
            raise CommandError(f"{m.name} の職員 {o.get('user')} がいません / no such staff member of {m.code}")
        o.update(_m=m, _user=user)
        with tenant_scope(m):
            try:
                SUBCOMMANDS[sub][2](self, o)
            except ValidationError as e:
                for msg in e.messages:
                    self.stderr.write(msg)
                raise CommandError("取り込みませんでした / nothing was written") from None
            except PermissionDenied:
                raise CommandError(f"{user.username} にはこの操作の権限がありません / permission denied") from None
            except OSError as e:
                raise CommandError(str(e)) from None

