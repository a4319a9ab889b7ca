"""CEPTOAR: advisories to all or chosen municipalities with acknowledgements; structured incident reports kept
append-only; both audited."""
import datetime as dt

import pytest
from django.utils import timezone

from conftest import audit_events, client_for, sees_all_tenants
from jichitai.audit.models import AuditEvent
from jichitai.platform import actions, queries
from jichitai.platform.models import IncidentReport
from jichitai.tenancy.scope import AppendOnlyError, tenant_scope


@sees_all_tenants
def platform_events(action):
    return list(AuditEvent.all_chains.filter(chain_key="platform", action=action))


def test_broadcast_to_chosen_municipalities_and_track_acknowledgements(munis, staff):
    a, b = munis
    op = staff["operator"]
    with pytest.raises(actions.PlatformError) as e:
        actions.broadcast_advisory(op, kind="rumour", title="", body="", codes=["99999"])
    assert set(e.value.errors) == {"kind", "title", "body", "codes"}
    adv = actions.broadcast_advisory(op, kind="early_warning", title="VPN装置の脆弱性", body="修正版を適用してください",
                                     severity="高", codes=[a.code])
    all_ = actions.broadcast_advisory(op, kind="alert", title="標的型メール", body="添付ファイルに注意")
    assert [r.municipality_id for r in queries.advisory_recipients(adv.pk)] == [a.pk]
    assert len(queries.advisory_recipients(all_.pk)) == 2
    with pytest.raises(actions.PlatformError, match="配信された"):  # b never received the first one
        actions.acknowledge_advisory(staff["admin_b"], b, adv.pk)
    actions.acknowledge_advisory(staff["admin_a"], a, adv.pk, action_taken="12/6 適用済み")
    with pytest.raises(actions.PlatformError, match="確認済み"):
        actions.acknowledge_advisory(staff["admin_a"], a, adv.pk)
    status = {x.pk: (x.acked, x.n) for x in queries.advisories_with_status()}
    assert status == {adv.pk: (1, 1), all_.pk: (0, 2)}
    assert len(platform_events("advisory.broadcast")) == 2
    ev = audit_events(a, action="advisory.acknowledged")
    assert len(ev) == 1 and "適用済み" in ev[0].detail


def test_incident_report_structured_validated_append_only(munis, staff):
    a, b = munis
    now = timezone.now()
    with pytest.raises(actions.PlatformError) as e:
        actions.report_incident(staff["admin_a"], a, kind="leak", occurred_at="昨日", detected_at=now,
                                summary="", affected_systems="住民記録", persons_affected=3, personal_data=False)
    assert {"occurred_at", "summary", "personal_data"} <= set(e.value.errors)
    with pytest.raises(actions.PlatformError, match="覚知日時が発生日時より前"):
        actions.report_incident(staff["admin_a"], a, kind="it_failure", occurred_at=now,
                                detected_at=now - dt.timedelta(hours=1), summary="x", affected_systems="y")
    rep = actions.report_incident(staff["admin_a"], a, kind="leak", occurred_at=now - dt.timedelta(hours=3),
                                  detected_at=now - dt.timedelta(hours=1), summary="誤送信メール",
                                  affected_systems="メール", persons_affected=12, personal_data=True)
    fix = actions.report_incident(staff["admin_a"], a, kind="leak", occurred_at=now - dt.timedelta(hours=3),
                                  detected_at=now - dt.timedelta(hours=1), summary="誤送信メール（訂正）",
                                  affected_systems="メール", persons_affected=14, personal_data=True,
                                  contained=True, supersedes=rep.pk)
    with tenant_scope(a):
        assert IncidentReport.objects.count() == 2
        with pytest.raises(AppendOnlyError):
            IncidentReport.objects.filter(pk=rep.pk).update(summary="消す")
    assert fix.supersedes_id == rep.pk
    assert {r.pk for r in queries.incident_reports()} == {rep.pk, fix.pk}  # the operator sees them
    assert queries.incident_reports(b) == []
    assert len(audit_events(a, action="incident.reported")) == 2
    with pytest.raises(Exception):
        actions.report_incident(staff["clerk_a"], a, kind="leak", occurred_at=now, detected_at=now, summary="x",
                                affected_systems="y")


def test_ceptoar_screens(munis, staff):
    a, _ = munis
    op = client_for(staff["operator"])
    r = op.post("/platform/advisories/", {"kind": "alert", "title": "注意", "body": "本文", "severity": "中",
                                          "to": "all"})
    assert r.status_code == 302
    adm = client_for(staff["admin_a"])
    body = adm.get("/platform/advisories/").content.decode()
    assert "注意" in body and "確認した" in body
    adv_id = queries.advisories_with_status()[0].pk
    assert adm.post("/platform/advisories/", {"step": "ack", "advisory": adv_id}).status_code == 302
    assert "1 / 2 団体" in op.get("/platform/advisories/").content.decode()
    r = adm.post("/platform/advisories/", {"step": "incident", "kind": "it_failure", "occurred_at": "2026-12-01T09:00",
                                           "detected_at": "2026-12-01T09:10", "summary": "回線断",
                                           "affected_systems": "住民記録", "persons_affected": "0"})
    assert r.status_code == 302
    assert "回線断" in op.get("/platform/advisories/").content.decode()
    assert client_for(staff["clerk_a"]).get("/platform/advisories/").status_code == 403
