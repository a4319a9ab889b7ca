"""jichitai seed_demo [--scale 0.1] [--seed 2026] [--municipalities 44204,45383] [--reset] [--quiet]"""
import time

from django.core.management.base import BaseCommand, CommandError

from jichitai.demo.data import PILOT_MUNICIPALITIES
from jichitai.demo.seed import DEMO_URL, AlreadySeeded, NotADemoDatabase, demo_logins, logins_table, seed_demo


class Command(BaseCommand):
    help = ("デモ用データ（大分県・宮崎県の実証10団体、デモ用ログイン、合成住民データ）を作成します。"
            " / Seed the demo: the ten pilot municipalities, demo logins and a synthetic resident register.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=0.1,
                            help="residents per municipality = scale × its population (default 0.1: about 48,000)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--municipalities", default="",
                            help="comma-separated codes, e.g. 44204,45383 (default: all ten)")
        parser.add_argument("--reset", action="store_true",
                            help="delete these demo municipalities' rows first (only tenants created as demo)")
        parser.add_argument("--quiet", action="store_true", help="no progress output")
        parser.add_argument("--with-backup", action="store_true",
                            help="also write and verify one backup of the first municipality (the backup screen)")

    def handle(self, *args, scale, seed, municipalities, reset, quiet, with_backup=False, **options):
        if scale <= 0:
            raise CommandError("--scale must be positive")
        codes = [c.strip() for c in municipalities.split(",") if c.strip()] or [m.code for m in PILOT_MUNICIPALITIES]
        started = time.monotonic()
        out = self.stdout.write
        if not quiet:
            out(f"デモデータを作成します: {len(codes)} 団体, scale {scale}, seed {seed}")
        try:
            summary = seed_demo(scale=scale, seed=seed, codes=codes, reset=reset, out=out, quiet=quiet)
        except AlreadySeeded as e:
            out(f"デモデータは既にあります（{e}）。何もしません。作り直すには --reset を付けてください。"
                f" / Demo data already present; nothing done (use --reset to rebuild).")
            from jichitai.tenancy.models import Municipality

            present = list(Municipality.objects.filter(code__in=codes).select_related("prefecture"))
            out("")
            out(logins_table([r for r in demo_logins(present)]))
            out("")
            out(f"URL: {DEMO_URL}")
            return
        except NotADemoDatabase as e:
            raise CommandError(str(e)) from None
        except ValueError as e:
            raise CommandError(str(e)) from None
        if with_backup:
            from jichitai.continuity.demo import seed_verified_backup  # the backup screen's content (continuity)

            seed_verified_backup(codes[0], out=None if quiet else out)
        elapsed = time.monotonic() - started
        out(f"完了: 住民 {summary['persons']:,} 人, {elapsed:.1f} 秒 / done: {summary['persons']:,} persons in "
            f"{elapsed:.1f} s")
        out("")
        out(logins_table(summary["logins"]))
        out("")
        out(f"URL: {DEMO_URL}")
