"""`jichitai offline …`: the offline kit (continuity/offline.py).

  build   --municipality CODE --device ID --out KIT [--block 200] [--label TEXT] (passphrase: --passphrase-file or
          JICHITAI_KIT_PASSPHRASE)                               platform: build a kit for one municipality
  run     KIT --dir DIR [--public-key PEM] [--port 8000]         laptop: verify, decrypt, serve on 127.0.0.1
  open    KIT --dir DIR [--public-key PEM]                       laptop: verify, decrypt, unpack only
  export  --dir DIR --out FILE                                   laptop: outbox and audit segment into a sync file
  sync    --municipality CODE FILE                               platform: apply a sync file (idempotent)
  revoke  --municipality CODE --device ID --reason TEXT          platform: revoke a kit (lost laptop); its sync files
                                                                 are refused, its unused reserved numbers are void
  init-kit FACTS_JSON                                            internal: run by build in the kit database
"""
import json
import os
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope


def _passphrase(opts) -> str:
    if opts.get("passphrase_file"):
        try:
            return Path(opts["passphrase_file"]).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CommandError(f"合言葉のファイルを読めません / cannot read the passphrase file: {e.strerror}")
    value = os.environ.get("JICHITAI_KIT_PASSPHRASE", "")
    if not value:
        raise CommandError("合言葉を --passphrase-file か JICHITAI_KIT_PASSPHRASE で指定してください / give the passphrase "
                           "with --passphrase-file or JICHITAI_KIT_PASSPHRASE")
    return value


def _municipality(code):
    m = Municipality.objects.filter(code=code).first()
    if m is None:
        raise CommandError(f"団体コード {code} がありません / no municipality {code}")
    return m


def _actor(m, username):
    """The staff member the command acts for: --user, else the municipality's first active admin."""
    qs = StaffUser.objects.filter(municipality=m, is_active=True)
    user = qs.filter(username=username).first() if username else qs.filter(role=Role.ADMIN).order_by("pk").first()
    if user is None:
        raise CommandError("実行する職員（管理者）がいません。--user で指定してください / no admin to act as: use --user")
    return user


class Command(BaseCommand):
    help = "オフラインキット: build / run / open / export / sync"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        b = sub.add_parser("build")
        b.add_argument("--municipality", required=True)
        b.add_argument("--device", required=True)
        b.add_argument("--out", required=True)
        b.add_argument("--block", type=int, default=200)
        b.add_argument("--label", default="")
        b.add_argument("--user", default="")
        b.add_argument("--passphrase-file")
        for name in ("run", "open"):
            r = sub.add_parser(name)
            r.add_argument("kit")
            r.add_argument("--dir", required=True)
            r.add_argument("--public-key")
            r.add_argument("--passphrase-file")
            if name == "run":
                r.add_argument("--port", type=int, default=8000)
        e = sub.add_parser("export")
        e.add_argument("--dir", required=True)
        e.add_argument("--out", required=True)
        s = sub.add_parser("sync")
        s.add_argument("--municipality", required=True)
        s.add_argument("--user", default="")
        s.add_argument("file")
        v = sub.add_parser("revoke")
        v.add_argument("--municipality", required=True)
        v.add_argument("--device", required=True)
        v.add_argument("--reason", required=True)
        v.add_argument("--user", default="")
        i = sub.add_parser("init-kit")
        i.add_argument("facts")

    def handle(self, *args, **opts):
        from jichitai.continuity import offline

        try:
            return getattr(self, "do_" + opts["sub"].replace("-", "_"))(offline, opts)
        except offline.KitError as e:
            raise CommandError(str(e))
        except ValidationError as e:
            raise CommandError(" ".join(e.messages))

    def do_build(self, offline, o):
        m = _municipality(o["municipality"])
        with tenant_scope(m):
            summary = offline.build_kit(_actor(m, o["user"]), device=o["device"], passphrase=_passphrase(o),
                                        out_path=o["out"], label=o["label"], block_size=o["block"], terminal="command")
        self.stdout.write(json.dumps({k: v for k, v in summary.items() if k != "counts"}, ensure_ascii=False))

    def do_init_kit(self, offline, o):
        self.stdout.write(json.dumps({"segment": offline.init_kit(json.loads(o["facts"]))}))

    def _open(self, offline, o):
        dest = Path(o["dir"])
        if (dest / "kit.json").exists():
            return json.loads((dest / "kit.json").read_text(encoding="utf-8"))
        return offline.open_kit(o["kit"], _passphrase(o), dest, public_key_file=o.get("public_key"))

    def do_open(self, offline, o):
        facts = self._open(offline, o)
        self.stdout.write(f"opened kit {facts['device']} of {facts['municipality']} in {o['dir']} / "
                          f"展開しました")

    def do_run(self, offline, o):
        facts = self._open(offline, o)
        dest = Path(o["dir"]).resolve()
        env = offline.kit_env(dest)
        (dest / "server.pid").write_text(str(os.getpid()))
        self.stdout.write(f"オフライン運用: {facts['municipality']} 端末 {facts['device']} — "
                          f"http://127.0.0.1:{o['port']}/ （ネットワーク不要）")
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "jichitai.cli", "runserver", "--noreload", "--insecure",
                                   f"127.0.0.1:{o['port']}"], env)

    def do_export(self, offline, o):
        dest = Path(o["dir"]).resolve()
        env = offline.kit_env(dest)
        if os.environ.get("JICHITAI_OFFLINE_DIR") != str(dest):
            # re-run in the kit's own environment (its database, segment and keys)
            import subprocess

            r = subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                                str(Path(o["out"]).resolve())], env=env, capture_output=True, text=True)
            if r.returncode:
                raise CommandError(r.stderr.strip()[-800:])
            self.stdout.write(r.stdout.strip())
            return
        self.stdout.write(json.dumps(offline.export_outbox(o["out"], dest=dest)))

    def do_sync(self, offline, o):
        m = _municipality(o["municipality"])
        with tenant_scope(m):
            result = offline.sync_file(_actor(m, o["user"]), o["file"], terminal="command")
        self.stdout.write(json.dumps(result, ensure_ascii=False))

    def do_revoke(self, offline, o):
        from jichitai.continuity.offline_models import OfflineKit

        m = _municipality(o["municipality"])
        with tenant_scope(m):
            kit = OfflineKit.objects.filter(device=o["device"]).first()
            if kit is None:
                raise CommandError(f"端末 {o['device']} のキットはこの団体にありません / no kit for device {o['device']}")
            kit = offline.revoke_kit(_actor(m, o["user"]), kit.pk, reason=o["reason"], terminal="command")
        self.stdout.write(json.dumps({"kit_id": kit.pk, "device": kit.device, "revoked_at": kit.revoked_at.isoformat(),
                                      "void_ranges": kit.void_ranges, "void_count": kit.void_count},
                                     ensure_ascii=False))
