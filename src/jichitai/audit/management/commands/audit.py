import sys
import time

from django.core.management.base import BaseCommand, CommandError

from jichitai.audit import keys
from jichitai.audit.checkpoints import checkpoint_heads
from jichitai.audit.verify import verify_all


class Command(BaseCommand):
    help = ("監査ログの操作。verify: ハッシュ連鎖と署名付きチェックポイントを検証し、最初の問題を報告します。"
            "checkpoint: 各連鎖の先頭を署名してデータベースの外に記録します。rotate-key: HMAC鍵を追加します。"
            "export / import: 連鎖の書き出しと別のデータベースへの復元。segment-open / segment-merge: オフライン区間。")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        v = sub.add_parser("verify", help="verify the hash chains and the signed checkpoints")
        v.add_argument("--municipality", help="5-digit code (or a chain key); default: every chain")
        c = sub.add_parser("checkpoint", help="sign every chain head that moved and append it to its checkpoint file")
        c.add_argument("--municipality", help="5-digit code (or a chain key); default: every chain")
        c.add_argument("--loop", type=int, metavar="SECONDS", help="repeat every SECONDS (a periodic job)")
        r = sub.add_parser("rotate-key", help="append a new HMAC key to the keyring (old keys stay for verifying)")
        r.add_argument("--key-id", help="id of the new key (default: k<date><random>)")
        e = sub.add_parser("export", help="write chains as JSON lines (natural keys only)")
        e.add_argument("--output", required=True)
        e.add_argument("--chain", action="append", help="chain key (repeatable); default: every chain")
        i = sub.add_parser("import", help="restore exported chains into this database")
        i.add_argument("file")
        so = sub.add_parser("segment-open", help="on an offline copy: open a segment of one municipality")
        so.add_argument("--municipality", required=True)
        so.add_argument("--device", required=True)
        sm = sub.add_parser("segment-merge", help="merge an exported offline segment into its main chain")
        sm.add_argument("file")

    def handle(self, *args, sub=None, **o):
        try:
            getattr(self, "do_" + sub.replace("-", "_"))(**o)
        except (keys.AuditKeyError, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def do_verify(self, municipality=None, **_):
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

    def do_checkpoint(self, municipality=None, loop=None, **_):
        from jichitai.audit.verify import verify_chain

        while True:
            for key, seq, written in checkpoint_heads([municipality] if municipality else None,
                                                      verify=verify_chain):
                self.stdout.write(f"{key}: {'checkpoint written' if written else 'unchanged'} at seq {seq} / "
                                  f"{'チェックポイントを記録しました' if written else '変更なし'}（記録{seq}）")
            if not loop:
                return
            time.sleep(loop)

    def do_rotate_key(self, key_id=None, **_):
        new = keys.rotate_key(key_id)
        self.stdout.write(f"new HMAC key {new} in {keys.key_file()} (earlier keys kept for verifying) / "
                          f"新しいHMAC鍵 {new} を追加しました（以前の鍵は検証用に残ります）")

    def do_export(self, output=None, chain=None, **_):
        from jichitai.audit.portable import export_lines

        n = 0
        with open(output, "w", encoding="utf-8") as f:
            for line in export_lines(chain):
                f.write(line)
                n += 1
        self.stdout.write(f"{n} entries written to {output} / {n}件を書き出しました")

    def do_import(self, file=None, **_):
        from jichitai.audit.portable import PortableError, restore

        try:
            with open(file, encoding="utf-8") as f:
                result = restore(f)
        except PortableError as exc:
            raise CommandError(str(exc)) from None
        for key, (new, kept) in result.items():
            self.stdout.write(f"{key}: {new} restored, {kept} already present / {new}件を復元、{kept}件は既存")

    def do_segment_open(self, municipality=None, device=None, **_):
        from jichitai.audit.portable import PortableError, open_segment
        from jichitai.tenancy.models import Municipality

        m = Municipality.objects.filter(code=municipality).first()
        if m is None:
            raise CommandError(f"自治体 {municipality} がありません / no municipality {municipality}")
        try:
            key = open_segment(m, device)
        except PortableError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key)
        self.stderr.write(f"run the offline copy with JICHITAI_AUDIT_SEGMENT={key} / オフライン運用中は"
                          f" JICHITAI_AUDIT_SEGMENT={key} を設定してください")

    def do_segment_merge(self, file=None, **_):
        from jichitai.audit.portable import PortableError, merge_segment

        try:
            with open(file, encoding="utf-8") as f:
                e = merge_segment(f, terminal="command")
        except PortableError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"merged as seq {e.seq} of {e.chain_key} / 記録{e.seq}として取り込みました")
