"""Disasters and shelters (#12 item 1): declared by a municipality or by the operator for several; shelters with
capacity by day and night, opened and closed; every write audited; one municipality never sees another's."""
import datetime as dt
import json

import pytest
from conftest import audit_events, client_for
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from jichitai.disaster import actions, queries
from jichitai.disaster.models import Disaster, DisasterActivation, Shelter
from jichitai.tenancy.scope import tenant_scope

WHEN = timezone.now() - dt.timedelta(hours=2)
SHELTER = {"code": "S01", "name": "三本松小学校体育館", "kind": "designated", "address": "三本松二丁目1番1号",
           "capacity_day": 300, "capacity_night": 200, "contact_name": "防災課", "contact_phone": "0973-00-0000"}


def test_a_municipality_declares_and_ends_a_disaster(munis, staff):
    a, b = munis
    with tenant_scope(a):
        act = actions.declare_disaster(staff["disaster_a"], name="令和8年台風第10号", kind="storm", occurred_at=WHEN)
        assert queries.disaster_declared() and queries.current_activation() == act
    with tenant_scope(b):
        assert not queries.disaster_declared() and queries.current_activation() is None
    [ev] = audit_events(a, action="disaster.declare")
    assert ev.actor_username == "disaster-a" and json.loads(ev.detail)["kind"] == "storm"
    with tenant_scope(a):
        actions.end_disaster(staff["disaster_a"], act.pk)
        assert not queries.disaster_declared()
        with pytest.raises(ValidationError, match="すでに終了"):
            actions.end_disaster(staff["disaster_a"], act.pk)
    assert len(audit_events(a, action="disaster.end")) == 1


def test_bad_declarations_are_refused_with_messages_and_nothing_is_stored(munis, staff):
    a, _ = munis
    with tenant_scope(a):
        with pytest.raises(ValidationError) as e:
            actions.declare_disaster(staff["disaster_a"], name=" ", kind="meteor",
                                     occurred_at=timezone.now() + dt.timedelta(days=1))
        assert set(e.value.message_dict) == {"name", "kind", "occurred_at"}
        assert "未来" in e.value.message_dict["occurred_at"][0]
        with pytest.raises(PermissionDenied):
            actions.declare_disaster(staff["clerk_a"], name="地震", kind="earthquake", occurred_at=WHEN)
    assert not Disaster.objects.exists()
    assert not audit_events(a, action="disaster.declare")


def test_the_operator_declares_one_disaster_for_several_municipalities(munis, staff):
    a, b = munis
    d = actions.declare_disaster_for(staff["operator"], [a, b], name="九州北部豪雨", kind="flood", occurred_at=WHEN)
    for m in (a, b):
        with tenant_scope(m):
            assert queries.current_activation().disaster == d
        [ev] = audit_events(m, action="disaster.declare")
        assert json.loads(ev.detail)["by_operator"] is True
    with pytest.raises(PermissionDenied):
        actions.declare_disaster_for(staff["admin_a"], [a, b], name="x", kind="flood", occurred_at=WHEN)
    with pytest.raises(ValidationError, match="99999"):
        actions.municipalities_by_code(["44204", "99999"])


def test_shelters_are_registered_opened_closed_and_isolated(munis, staff):
    a, b = munis
    user = staff["disaster_a"]
    with tenant_scope(a):
        s = actions.save_shelter(user, SHELTER)
        with pytest.raises(ValidationError, match="S01"):
            actions.save_shelter(user, {**SHELTER, "name": "別の避難所"})
        with pytest.raises(ValidationError):
            actions.save_shelter(user, {**SHELTER, "code": "S02", "capacity_night": -1})
        assert Shelter.objects.count() == 1
        actions.set_shelter_open(user, s.pk, True)
        with pytest.raises(ValidationError, match="すでに開設中"):
            actions.set_shelter_open(user, s.pk, True)
        assert [x.code for x in queries.shelters(open_only=True)] == ["S01"]
        actions.set_shelter_open(user, s.pk, False)
        assert not queries.shelters(open_only=True).exists()
    with tenant_scope(b):
        assert not queries.shelters().exists()
        with pytest.raises(ValidationError, match="見つかりません"):
            actions.set_shelter_open(staff["admin_b"], s.pk, True)
    assert [e.action for e in audit_events(a, action__startswith="disaster.shelter")] == [
        "disaster.shelter_create", "disaster.shelter_open", "disaster.shelter_close"]


def test_disaster_pages_in_the_browser(munis, staff):
    a, _ = munis
    c = client_for(staff["disaster_a"])
    page = c.get("/disaster/")
    assert page.status_code == 200 and "宣言中の災害はありません" in page.content.decode()
    r = c.post("/disaster/declare/", {"name": "", "kind": "storm", "occurred_at": "2026-12-06T08:00"})
    assert r.status_code == 400 and "このフィールドは必須です" in r.content.decode()
    r = c.post("/disaster/declare/", {"name": "令和8年台風第10号", "kind": "storm", "occurred_at": "2026-12-06T08:00"})
    assert r.status_code == 302
    assert "令和8年台風第10号" in c.get("/disaster/").content.decode()
    r = c.post("/disaster/shelters/new/", {**SHELTER, "latitude": "", "longitude": ""})
    assert r.status_code == 302
    with tenant_scope(a):
        s = Shelter.objects.get()
    c.post(f"/disaster/shelters/{s.pk}/open/", {"open": "1"})
    assert "開設中" in c.get("/disaster/").content.decode()
    assert client_for(staff["clerk_a"]).get("/disaster/").status_code == 403
    op = client_for(staff["operator"])
    assert op.get("/platform/disasters/declare/").status_code == 200
    r = op.post("/platform/disasters/declare/", {"name": "広域地震", "kind": "earthquake",
                                                 "occurred_at": "2026-12-06T08:00", "municipalities": "44204 99999"})
    assert r.status_code == 400 and "99999" in r.content.decode()
    assert DisasterActivation.all_tenants.filter(disaster__name="広域地震").count() == 0
