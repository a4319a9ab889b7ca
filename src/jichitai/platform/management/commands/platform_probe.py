"""`jichitai platform_probe`: the synthetic probe. For each municipality in use, one request to the probe page
(`/platform/probe/<code>/`, which reads one row in that municipality's scope), timed and recorded in the request
metrics as kind "probe" (failures count as errors). Run from cron every few minutes.

--base http://host:port probes a running server over HTTP (what users reach); without it the probe runs in
process through Django's test client (the application and database, not the web server)."""
import time
import urllib.request

from django.core.management.base import BaseCommand

from jichitai.platform import metrics
from jichitai.tenancy.models import Municipality


class Command(BaseCommand):
    help = "synthetic probe per municipality / 団体ごとの外形監視"

    def add_arguments(self, parser):
        parser.add_argument("--base", default="", help="http://127.0.0.1:8000 (default: in process)")
        parser.add_argument("--timeout", type=float, default=5.0)

    def handle(self, *args, base="", timeout=5.0, **kw):
        client = None
        if not base:
            from django.test import Client

            client = Client()
        failed = 0
        munis = list(Municipality.objects.filter(is_active=True))
        for m in munis:
            t0 = time.perf_counter()
            ok = False
            try:
                if client is not None:
                    ok = client.get(f"/platform/probe/{m.code}/").status_code == 200
                else:
                    with urllib.request.urlopen(f"{base.rstrip('/')}/platform/probe/{m.code}/",
                                                timeout=timeout) as r:
                        ok = r.status == 200
            except Exception:
                ok = False
            ms = (time.perf_counter() - t0) * 1000
            metrics.record(m.pk, "probe", ms, not ok)
            failed += 0 if ok else 1
            self.stdout.write(f"{m.code} {m.name}: {'OK' if ok else 'NG'} {ms:.0f} ms")
        metrics.flush()
        self.stdout.write(f"probed {len(munis)}, failed {failed} / {len(munis)}団体を監視、{failed}団体で失敗")
