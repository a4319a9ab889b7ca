"""jichitai migrate_legacy --municipality CODE --layout FILE --vendor NAME INPUT [--dry-run] [--report DIR]

Import a legacy vendor's fixed-width CP932 resident file. Every row ends imported, rejected (with line, byte
offset, field and reason) or held (外字 not approved yet). Resumable: run it again after a crash and it continues
from the last committed chunk; run it again after approving 外字 and the held rows are imported.
"""
import hashlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jichitai.migration.importer import OPERATOR, Importer
from jichitai.migration.layout import LayoutError, load_layout
from jichitai.migration.report import write_report
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope


class Command(BaseCommand):
    help = "Import a legacy vendor's resident file (fixed-width CP932) described by a layout file."

    def add_arguments(self, parser):
        parser.add_argument("input")
        parser.add_argument("--municipality", required=True, help="5-digit 地方公共団体コード")
        parser.add_argument("--layout", required=True, help="layout definition (.toml or .json)")
        parser.add_argument("--vendor", required=True, help="vendor name as in the 外字 registry")
        parser.add_argument("--dry-run", action="store_true", help="do everything, write nothing, report the same")
        parser.add_argument("--report", help="report directory (default var/migration/<sha>)")
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows per committed chunk (new runs)")
        parser.add_argument("--workers", type=int, default=2,
                            help="worker processes for decoding and validating (default 2: both cores; 1 = in the "
                                 "writer's process)")
        parser.add_argument("--operator", default=OPERATOR, help="処理者 written in the history rows")
        parser.add_argument("--user", help="staff user (of the municipality) named in the audit event")
        parser.add_argument("--accept-trailer-mismatch", action="store_true",
                            help="import although a trailer check (count, hash total, byte sum) fails; recorded in "
                                 "the report and the audit event")

    def handle(self, *args, **o):
        try:
            layout = load_layout(o["layout"])
        except LayoutError as e:
            raise CommandError(str(e)) from None
        path = Path(o["input"])
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CommandError(f"入力ファイルを読めません / cannot read the input: {e}") from None
        m = Municipality.objects.filter(code=o["municipality"]).first()
        if m is None:
            raise CommandError(f"自治体 {o['municipality']} がありません / no municipality {o['municipality']}")
        if o["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1")
        actor = None
        if o.get("user"):
            actor = StaffUser.objects.filter(username=o["user"], municipality=m).first()
            if actor is None:
                raise CommandError(f"職員 {o['user']} はこの自治体に所属していません / no such staff user here")
        vendor = o["vendor"].strip()
        with tenant_scope(m):
            imp = Importer(m, layout, vendor, data, input_name=str(path), chunk_size=o["chunk_size"],
                           workers=o["workers"], operator=o["operator"], actor=actor, dry_run=o["dry_run"],
                           progress=lambda msg: self.stdout.write(msg),
                           accept_trailer_mismatch=o["accept_trailer_mismatch"])
            report = imp.run()
        sha = hashlib.sha256(data).hexdigest()
        out = Path(o["report"]) if o.get("report") else Path(settings.VAR_DIR) / "migration" / f"{m.code}-{sha[:16]}"
        write_report(report, out, layout.terminator)
        c = report["counts"]
        if report.get("status") == "stopped":
            failed = [f"{ch['check']} ({ch['field']}): {ch['expected']} ≠ {ch['actual']}"
                      for ch in report["trailer"]["checks"] if not ch["ok"]]
            raise CommandError(f"{report['status_ja']}\n  " + "\n  ".join(failed) + f"\n  report: {out}")
        self.stdout.write(
            f"{'DRY RUN: ' if o['dry_run'] else ''}read {c['read']:,}  imported {c['imported']:,}  "
            f"rejected {c['rejected']:,}  held {c['held']:,}  (this run: +{report['this_run']['imported']:,}, "
            f"{report['this_run']['chunks_skipped']} chunks already committed)  {report.get('status_ja', '')}  "
            f"report: {out}")
