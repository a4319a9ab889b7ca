"""SLA: the monthly report per municipality against the targets (settings), from the aggregated request metrics,
the synthetic probe and the incident register; the 責任分界点 matrix that names who is responsible for an incident.

Definitions (shown on the report):
- 要求の成功率 = 1 − 5xx answers / requests (web + api) in the month.
- プローブの成功率 = successful probes / probes (`jichitai platform_probe`, every few minutes from cron).
- 稼働率 = 1 − outage minutes / minutes of the month, outage minutes from the incident register (incidents of impact
  停止 affecting the municipality, clipped to the month). Met when ≥ the target (‰ setting).
- 応答時間 (95%) = the upper bound of the latency bucket holding the 95th percentile (≤100 … ≤2500 ms, or slower).
  Met when ≤ the target (ms setting)."""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from . import engine
from .models import LATENCY_BUCKETS_MS, RequestMetric

PARTIES = {"municipality": "自治体", "operator": "プラットフォーム運用者", "data_centre": "データセンター事業者",
           "vendor": "アプリケーション事業者"}

# 責任分界点: what failed → who is responsible (and who notifies whom). One table, shown on the SLA page.
RESPONSIBILITY = {
    "terminal": ("庁内の端末・プリンタ・庁内LAN", "municipality"),
    "staff_account": ("職員アカウント・権限の管理、操作の誤り", "municipality"),
    "municipal_data": ("団体が登録したデータの内容・設定値（個別）", "municipality"),
    "platform_config": ("基盤の設定・運用作業・監視・バックアップ", "operator"),
    "platform_security": ("基盤への不正アクセス・脆弱性対応", "operator"),
    "wan": ("データセンターまでの回線（LGWAN接続を含む）", "data_centre"),
    "facility": ("電源・空調・建物・物理的な入退室", "data_centre"),
    "hardware": ("サーバ・ストレージ・ネットワーク機器の故障", "data_centre"),
    "application": ("住民記録システム（パッケージ）の不具合", "vendor"),
    "standard_added": ("標準追加機能の不具合", "vendor"),
}


def responsible_party(category: str) -> str:
    return RESPONSIBILITY[category][1]


def month_bounds(year: int, month: int):
    tz = timezone.get_current_timezone()
    first = dt.datetime(year, month, 1, tzinfo=tz)
    last_day = calendar.monthrange(year, month)[1]
    return first, first + dt.timedelta(days=last_day), last_day


@dataclass
class SlaRow:
    municipality: object
    requests: int
    errors: int
    probes: int
    probe_failures: int
    outage_minutes: int
    month_minutes: int
    p95_bound_ms: int | None  # None: no requests; -1: slower than the last bucket
    target_permille: int
    target_ms: int
    incidents: list

    @property
    def target_percent(self) -> str:
        return f"{self.target_permille / 10:g}%"

    @property
    def success_rate(self):
        return None if not self.requests else 100.0 * (self.requests - self.errors) / self.requests

    @property
    def probe_rate(self):
        return None if not self.probes else 100.0 * (self.probes - self.probe_failures) / self.probes

    @property
    def availability(self) -> float:
        return 100.0 * (1 - self.outage_minutes / self.month_minutes)

    @property
    def availability_met(self) -> bool:
        return self.availability * 10 >= self.target_permille

    @property
    def latency_met(self) -> bool | None:
        if self.p95_bound_ms is None:
            return None
        return self.p95_bound_ms != -1 and self.p95_bound_ms <= self.target_ms

    @property
    def met(self) -> bool:
        return self.availability_met and self.latency_met is not False

    @property
    def p95_label(self) -> str:
        if self.p95_bound_ms is None:
            return "—"
        return f"{LATENCY_BUCKETS_MS[-1]:,}ms超" if self.p95_bound_ms == -1 else f"{self.p95_bound_ms:,}ms以内"


def p95_bound(buckets: list[int]) -> int | None:
    total = sum(buckets)
    if not total:
        return None
    need = 0.95 * total
    acc = 0
    for i, n in enumerate(buckets):
        acc += n
        if acc >= need:
            return LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else -1
    return -1


def report(year: int, month: int, municipalities) -> list[SlaRow]:
    from .models import Incident

    lo, hi, days = month_bounds(year, month)
    minutes = days * 24 * 60
    ids = [m.pk for m in municipalities]
    agg = {}
    for r in (RequestMetric.objects.filter(municipality_id__in=ids, day__gte=lo.date(), day__lt=hi.date())
              .values("municipality_id", "kind")
              .annotate(req=Sum("requests"), err=Sum("errors"), b0=Sum("b0"), b1=Sum("b1"), b2=Sum("b2"),
                        b3=Sum("b3"), b4=Sum("b4"), b5=Sum("b5"))):
        agg.setdefault(r["municipality_id"], {})[r["kind"]] = r
    incidents = list(Incident.objects.filter(started_at__lt=hi).exclude(resolved_at__lt=lo))
    rows = []
    for m in municipalities:
        a = agg.get(m.pk, {})
        req = sum(a.get(k, {}).get("req") or 0 for k in ("web", "api"))
        err = sum(a.get(k, {}).get("err") or 0 for k in ("web", "api"))
        buckets = [sum(a.get(k, {}).get(f"b{i}") or 0 for k in ("web", "api")) for i in range(6)]
        probe = a.get("probe", {})
        mine = [i for i in incidents if i.affects(m.code)]
        outage = 0
        for i in mine:
            if i.impact != "outage":
                continue
            start = max(i.started_at, lo)
            end = min(i.resolved_at or timezone.now(), hi)
            if end > start:
                outage += int((end - start).total_seconds() // 60)
        rows.append(SlaRow(m, req, err, probe.get("req") or 0, probe.get("err") or 0, min(outage, minutes),
                           minutes, p95_bound(buckets),
                           engine.effective("platform.sla_availability_permille", m),
                           engine.effective("platform.sla_latency_ms", m), mine))
    return rows
