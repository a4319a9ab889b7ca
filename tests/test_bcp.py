"""ICT-BCP plan and drills (#13 item 4): a plan with the MIC 初動版 items and the Cabinet Office's six essentials,
pre-filled from the platform, kept as revisions, printable (HTML and PDF); drills with timed steps whose
measured recovery time (RTO) and lost changes (RPO) are written into the plan."""
import datetime as dt
import json
import shutil
import subprocess

import pytest
from conftest import audit_events, client_for
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from jichitai.continuity import bcp, bcp_actions as actions, bcp_queries as queries
from jichitai.continuity.bcp_models import BcpPlanRevision, Drill, DrillStepEvent
from jichitai.tenancy.scope import tenant_scope


def test_the_plan_has_every_item_and_is_prefilled_from_the_platform(munis, staff):
    a, _ = munis
    with tenant_scope(a):
        rev, items, missing = queries.plan()
    assert rev is None
    keys = [it.key for _, _, rows in items for it in rows]
    assert keys == list(bcp.ITEMS) and len(keys) == 19
    labels = [it.label for _, _, rows in items for it in rows]
    for six in ("首長不在時の明確な代行順位及び職員の参集体制", "本庁舎が使用できなくなった場合の代替庁舎の特定",
                "電気、水、食料等の確保", "災害時にもつながりやすい多様な通信手段の確保", "重要な行政データのバックアップ",
                "非常時優先業務の整理"):
        assert six in labels
    by_key = {it.key: it for _, _, rows in items for it in rows}
    assert "admin-a" in by_key["structure"].text and by_key["structure"].prefilled
    assert "検証済みのバックアップの記録がありません" in by_key["data_backup"].text
    assert "実施した訓練はまだありません" in by_key["training"].text
    # items only the municipality can know are left for it, and reported as missing
    assert "代替庁舎" in "".join(missing) and "非常用電源" in missing


def test_revisions_keep_every_version_and_refuse_bad_input(munis, staff):
    a, b = munis
    admin = staff["admin_a"]
    with tenant_scope(a):
        r1 = actions.save_plan(admin, {"alt_office": "第二庁舎（三本松二丁目）", "power": "非常用発電機 72時間"},
                               note="初版")
        with pytest.raises(ValidationError, match="変更がありません"):
            actions.save_plan(admin, {"alt_office": "第二庁舎（三本松二丁目）", "power": "非常用発電機 72時間 "})
        with pytest.raises(ValidationError, match="unknown plan items: bogus"):
            actions.save_plan(admin, {"bogus": "x"})
        with pytest.raises(ValidationError) as e:
            actions.save_plan(admin, {"power": "あ" * (bcp.MAX_ANSWER + 1)})
        assert "4000文字以内" in e.value.message_dict["power"][0]
        with pytest.raises(PermissionDenied):
            actions.save_plan(staff["clerk_a"], {"power": "x"})
        r2 = actions.save_plan(admin, {"alt_office": "第二庁舎", "power": "非常用発電機 72時間"}, note="見直し")
        assert (r1.revision, r2.revision) == (1, 2)
        rev, items, missing = queries.plan()
        by_key = {it.key: it for _, _, rows in items for it in rows}
        assert rev == r2 and by_key["alt_office"].text == "第二庁舎" and not by_key["alt_office"].prefilled
        assert "非常用電源" not in missing
        with pytest.raises((DatabaseError, RuntimeError)), transaction.atomic():
            r1.note = "書き換え"
            r1.save()
    [ev1, ev2] = audit_events(a, action="bcp.revise")
    assert json.loads(ev2.detail)["changed"] == ["alt_office"]
    with tenant_scope(b):
        assert queries.current_revision() is None


def _run(user, d, steps):
    for no in steps:
        actions.record_step(user, d.pk, no, "start")
        actions.record_step(user, d.pk, no, "done")


def test_a_drill_measures_its_recovery_time_and_goes_into_the_plan(munis, staff, monkeypatch):
    a, _ = munis
    admin = staff["admin_a"]
    clock = [dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)]

    def now():
        clock[0] += dt.timedelta(seconds=30)
        return clock[0]

    monkeypatch.setattr(actions, "_now", now)
    with tenant_scope(a):
        d = actions.plan_drill(admin, scenario="network_cut", title="ネットワーク断の訓練",
                               planned_for=dt.date(2026, 12, 1))
        with pytest.raises(ValidationError, match="実施中だけ"):
            actions.record_step(admin, d.pk, 1, "start")
        actions.start_drill(admin, d.pk)                      # t = 30 s
        with pytest.raises(ValidationError, match="まだ開始していません"):
            actions.record_step(admin, d.pk, 1, "done")
        _run(admin, d, [1, 2, 3])                             # step 3 (recovery) done at t = 210 s
        with pytest.raises(ValidationError, match="すでに完了"):
            actions.record_step(admin, d.pk, 3, "done")
        with pytest.raises(ValidationError, match="手順 9"):
            actions.record_step(admin, d.pk, 9, "start")
        with pytest.raises(ValidationError):
            actions.finish_drill(admin, d.pk, result="perfect")
        d = actions.finish_drill(admin, d.pk, result="passed", rpo_changes=0, findings="USBでの同期に時間がかかった")
        assert d.rto_seconds == 180.0
        steps = queries.drill_steps(d)
        assert [s["seconds"] for s in steps[:3]] == [30.0, 30.0, 30.0] and steps[3]["start"] is None
        with pytest.raises(ValidationError, match="すでに終了"):
            actions.finish_drill(admin, d.pk, result="passed")
        with pytest.raises((DatabaseError, RuntimeError)), transaction.atomic():
            DrillStepEvent.objects.filter(drill=d).delete()
        _, items, _ = queries.plan()
        by_key = {it.key: it for _, _, rows in items for it in rows}
        assert "復旧時間 3.0 分" in by_key["training"].text and "失われた更新 0 件" in by_key["training"].text
        assert "計測した復旧時間: 3.0 分" in by_key["data_backup"].text
    assert len(audit_events(a, action="bcp.drill_step")) == 6


def test_a_drill_whose_recovery_step_never_completed_has_no_rto(munis, staff):
    a, _ = munis
    with tenant_scope(a):
        d = actions.plan_drill(staff["admin_a"], scenario="restore", title="復元訓練", planned_for=dt.date(2026, 12, 2))
        actions.start_drill(staff["admin_a"], d.pk)
        actions.record_step(staff["admin_a"], d.pk, 1, "skip")
        d = actions.finish_drill(staff["admin_a"], d.pk, result="failed")
        assert d.rto_seconds is None
        _, items, _ = queries.plan()
    training = [it for _, _, rows in items for it in rows if it.key == "training"][0]
    assert "復旧時間 未計測" in training.text


def test_a_machine_measured_failover_drill_is_recorded(munis, staff):
    a, _ = munis
    start = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.timezone.utc)
    with tenant_scope(a):
        d = actions.record_measured_drill(staff["admin_a"], title="待機系への切替（自動計測）", started_at=start,
                                          finished_at=start + dt.timedelta(seconds=40), rto_seconds=12.5,
                                          rpo_changes=0)
        assert d.automated and d.result == "passed"
        with pytest.raises(ValidationError):
            actions.record_measured_drill(staff["admin_a"], title="x", started_at=start, finished_at=start,
                                          rto_seconds=-1, rpo_changes=0)
        assert queries.plan_facts()["measured_rto"] == 12.5


def test_plan_and_drill_screens(munis, staff):
    a, _ = munis
    c = client_for(staff["admin_a"])
    page = c.get("/continuity/bcp/").content.decode()
    assert "ICT-BCP" in page and "自動入力" in page and "未記入の項目" in page
    edit = c.get("/continuity/bcp/edit/").content.decode()
    assert "autofocus" in edit and 'name="alt_office"' in edit
    r = c.post("/continuity/bcp/edit/", {"alt_office": "第二庁舎", "note": "初版"})
    assert r.status_code == 302
    assert "第1版" in c.get("/continuity/bcp/").content.decode()
    r = c.post("/continuity/bcp/edit/", {"alt_office": "第二庁舎", "note": ""})
    assert r.status_code == 400 and "変更がありません" in r.content.decode()
    printable = c.get("/continuity/bcp/print/").content.decode()
    assert "ICT部門の業務継続計画（初動版）" in printable and "第二庁舎" in printable
    r = c.post("/continuity/drills/", {"title": "切替訓練", "scenario": "datacenter_down", "planned_for": "2026-12-10"})
    assert r.status_code == 302
    with tenant_scope(a):
        d = Drill.objects.get()
    c.post(f"/continuity/drills/{d.pk}/do/", {"do": "start"})
    c.post(f"/continuity/drills/{d.pk}/do/", {"do": "step_start", "step": "1"})
    r = c.post(f"/continuity/drills/{d.pk}/do/", {"do": "step_done", "step": "x"}, follow=True)
    assert "手順の番号が正しくありません" in r.content.decode()
    r = c.post(f"/continuity/drills/{d.pk}/do/", {"do": "finish", "result": "passed", "rpo_changes": "-3"})
    assert r.status_code == 400
    c.post(f"/continuity/drills/{d.pk}/do/", {"do": "finish", "result": "partly", "rpo_changes": "0"})
    with tenant_scope(a):
        d.refresh_from_db()
    assert d.result == "partly" and d.rto_seconds is None
    assert client_for(staff["clerk_a"]).get("/continuity/bcp/").status_code == 403
    assert client_for(staff["admin_b"]).get(f"/continuity/drills/{d.pk}/").status_code == 404


def test_the_plan_prints_as_pdf(munis, staff):
    pytest.importorskip("weasyprint")
    from jichitai.common.fonts import font_path
    if font_path("ipaexm.ttf") is None:
        pytest.skip("fonts missing (make fonts)")
    r = client_for(staff["admin_a"]).get("/continuity/bcp/plan.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=r.content, capture_output=True, check=True).stdout.decode()
        assert "ICT部門の業務継続計画（初動版）" in text.replace(" ", "") and "代替庁舎の特定" in text
    assert len(audit_events(munis[0], action="bcp.print")) == 1
