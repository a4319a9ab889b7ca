import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("業務継続の訓練。failover-drill: etcd と Patroni の2ノード（プライマリと同期スタンバイ）を一時ディレクトリ"
            "に起動し、書き込み中にプライマリを強制停止（kill -9）して RTO と RPO を測り、すべて停止します。")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        d = sub.add_parser("failover-drill", help="one failover drill on loopback; prints RTO and RPO")
        d.add_argument("--repeat", type=int, default=1)
        d.add_argument("--writes-after", type=float, default=3.0, help="seconds of writes after recovery")
        d.add_argument("--json", action="store_true")
        d.add_argument("--no-record", dest="record", action="store_false",
                       help="do not write the result to this database (FailoverDrill)")
        w = sub.add_parser("drill-writer", help="(used by the drill) write load through the audit action")
        w.add_argument("--log", required=True)
        w.add_argument("--stop", required=True)

    def handle(self, *args, sub=None, **o):
        from jichitai.continuity import drill

        if sub == "drill-writer":
            return drill.writer_loop(Path(o["log"]), Path(o["stop"]))
        missing = drill.missing_tools()
        if missing:
            raise CommandError(f"訓練に必要なプログラムがありません: {missing}（make env-ha） / missing: {missing} "
                               "(run `make env-ha` as root: apt-get install patroni etcd-server etcd-client)")
        results = []
        for i in range(o["repeat"]):
            try:
                r = drill.run_drill(writes_after=o["writes_after"], log=lambda s: self.stderr.write(s))
            except drill.DrillError as exc:
                raise CommandError(f"訓練に失敗しました / drill failed: {exc}") from None
            results.append(r)
            if o["record"]:
                from jichitai.continuity.actions import record_drill

                record_drill(r)
            self.stdout.write(f"drill {i + 1}: RTO {r['rto_seconds']} s, RPO {r['rpo_events']} committed event(s) "
                              f"lost of {r['committed']}, audit chain {'OK' if r['chain_ok'] else 'BROKEN'} / "
                              f"目標復旧時間 {r['rto_seconds']}秒、失われた確定済みの記録 {r['rpo_events']}件")
        if o["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False))
        if any(r["rpo_events"] or not r["chain_ok"] for r in results):
            sys.exit(1)
