"""SLA: aggregated request metrics (no row per request), the synthetic probe, the monthly report against targets,
the incident register with the responsible party from the 責任分界点 matrix, timeline and notifications."""
import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import client_for, sees_all_tenants
from jichitai.audit.models import AuditEvent
from jichitai.platform import actions, engine, metrics, queries, sla
from jichitai.platform.engine import Tier
from jichitai.platform.models import RequestMetric


@pytest.fixture(autouse=True)
def _clean_metrics():
    metrics.reset()
    yield
    metrics.reset()


def test_counters_aggregate_per_municipality_day_and_kind(munis):
    a, b = munis
    day = dt.date(2026, 12, 1)
    for ms in (50, 120, 300, 700, 3000):
        metrics.record(a.pk, "web", ms, False, day=day)
    metrics.record(a.pk, "web", 80, True, day=day)
    metrics.record(b.pk, "api", 40, False, day=day)
    assert metrics.flush() == 2
    metrics.record(a.pk, "web", 90, False, day=day)
    metrics.flush()
    row = RequestMetric.objects.get(municipality=a, day=day, kind="web")
    assert (row.requests, row.errors, row.b0, row.b1, row.b2, row.b3, row.b4, row.b5) == (7, 1, 3, 1, 1, 1, 0, 1)
    assert RequestMetric.objects.count() == 2  # one row per counter, however many requests


def test_middleware_counts_requests_of_the_signed_in_municipality(munis, staff, settings):
    settings.JICHITAI_METRICS_FLUSH_SECONDS = 0
    c = client_for(staff["clerk_a"])
    c.get("/")
    c.get("/search/")
    row = RequestMetric.objects.get(municipality=munis[0], kind="web", day=timezone.localdate())
    assert row.requests >= 2 and row.errors == 0


def test_probe_command_records_probe_results(munis):
    call_command("platform_probe")
    rows = {r.municipality_id: r for r in RequestMetric.objects.filter(kind="probe")}
    assert set(rows) == {m.pk for m in munis} and all(r.requests == 1 and r.errors == 0 for r in rows.values())


def test_monthly_report_against_targets_with_incident_downtime(munis, staff):
    a, b = munis
    op = staff["operator"]
    tz = timezone.get_current_timezone()
    for _ in range(95):
        metrics.record(a.pk, "web", 200, False, day=dt.date(2026, 11, 10))
    for _ in range(5):
        metrics.record(a.pk, "web", 1200, True, day=dt.date(2026, 11, 10))
    metrics.flush()
    inc = actions.open_incident(op, title="ストレージ障害", category="hardware", impact="outage", affected=[a.code],
                                started_at=dt.datetime(2026, 11, 3, 10, 0, tzinfo=tz), text="応答なし")
    assert inc.responsible == "data_centre"
    actions.update_incident(op, inc.pk, text="復旧しました", resolve=True,
                            resolved_at=dt.datetime(2026, 11, 3, 11, 30, tzinfo=tz))
    rows = {r.municipality.code: r for r in sla.report(2026, 11, [a, b])}
    ra, rb = rows[a.code], rows[b.code]
    assert ra.outage_minutes == 90 and rb.outage_minutes == 0
    assert ra.availability == pytest.approx(100 * (1 - 90 / (30 * 24 * 60)))
    assert not ra.availability_met and rb.availability_met  # 99.79% < 99.9%
    assert ra.success_rate == pytest.approx(95.0) and ra.p95_label == "250ms以内" and ra.latency_met
    # the target is a setting: a prefecture may agree on 99.5%
    engine.set_value(op, "platform.sla_availability_permille", 995, tier=Tier.PREFECTURE, prefecture=a.prefecture)
    assert {r.municipality.code: r for r in sla.report(2026, 11, [a])}[a.code].availability_met


def test_incident_register_refuses_bad_input_and_notifies_through_ceptoar(munis, staff):
    a, b = munis
    op = staff["operator"]
    with pytest.raises(actions.PlatformError) as e:
        actions.open_incident(op, title="", category="weather", impact="bad", affected=["99999"])
    assert set(e.value.errors) == {"title", "category", "impact", "affected"}
    inc = actions.open_incident(op, title="パッケージの不具合", category="application", affected=[b.code])
    assert inc.responsible == "vendor"
    recv = queries.advisories_for(b)
    assert len(recv) == 1 and "障害のお知らせ" in recv[0].advisory.title and queries.advisories_for(a) == []
    assert [e.kind for e in inc.events.all()] == ["opened", "notified"]
    actions.update_incident(op, inc.pk, text="修正版を適用", resolve=True)
    with pytest.raises(actions.PlatformError, match="復旧済み"):
        actions.update_incident(op, inc.pk, text="again")

    @sees_all_tenants
    def acts():
        return [e.action for e in AuditEvent.all_chains.filter(chain_key="platform", action__startswith="incident.")]
    assert acts() == ["incident.opened", "incident.resolved"]


def test_incident_timeline_is_append_only_in_python_and_in_the_database(munis, staff):
    from django.db import DatabaseError, connection, transaction

    from jichitai.platform.models import IncidentEvent
    from jichitai.tenancy.scope import AppendOnlyError

    inc = actions.open_incident(staff["operator"], title="回線断", category="application")
    ev = inc.events.first()
    ev.text = "書き換え"
    with pytest.raises(RuntimeError, match="追記専用"):
        ev.save()
    with pytest.raises(RuntimeError, match="追記専用"):
        ev.delete()
    with pytest.raises(AppendOnlyError):
        IncidentEvent.objects.filter(incident=inc).update(text="x")
    with pytest.raises(AppendOnlyError):
        IncidentEvent.objects.filter(incident=inc).delete()
    from jichitai.guard import db as guard

    table = IncidentEvent._meta.db_table
    for owner in (False, True):  # the runtime role (PostgreSQL: DELETE not even granted) and the schema owner
        with guard.owner_session("test: as the owner") if owner else transaction.atomic():
            for sql in (f"UPDATE {table} SET text = 'x' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
                with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as c:
                    c.execute(sql, [ev.pk])
                if owner or connection.vendor == "sqlite" or sql.startswith("UPDATE"):
                    assert "追記専用" in str(refused.value), refused.value
    assert IncidentEvent.objects.get(pk=ev.pk).text != "書き換え"


def test_sla_screens(munis, staff):
    op = client_for(staff["operator"])
    r = op.post("/platform/sla/", {"title": "回線断", "category": "wan", "impact": "outage", "affected": "",
                                   "text": "DC回線", "notify": "1"})
    assert r.status_code == 302
    body = op.get("/platform/sla/").content.decode()
    assert "責任分界点" in body and "データセンター事業者" in body and "<svg" in body and "回線断" in body
    assert client_for(staff["admin_a"]).get("/platform/sla/").status_code == 403
    assert op.get(f"/platform/probe/{munis[0].code}/").content == b"ok"
