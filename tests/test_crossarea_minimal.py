"""広域避難: the host is handed only real candidates (要確認 or better), never a birth date, and an operator's grant
stops with the disaster that justified it."""
import datetime as dt

import pytest
from django.utils import timezone

from jichitai.disaster import actions, crossarea
from jichitai.disaster.models import DisasterActivation
from jichitai.tenancy.scope import tenant_scope

WHEN = timezone.now() - dt.timedelta(hours=3)


@pytest.fixture
def grant(town_a, munis, staff):
    a, _b = munis
    town_a.family()
    with tenant_scope(a):
        actions.declare_disaster(staff["disaster_a"], name="豪雨", kind="flood", occurred_at=WHEN)
        return actions.grant_lookup(staff["admin_a"], "45383", expires_at=timezone.now() + dt.timedelta(days=3),
                                    reason="豪雨による広域避難")


def _lookup(munis, staff, g, row):
    with tenant_scope(munis[1]):
        return crossarea.lookup(staff["admin_b"], g.pk, [dict({"kana": "", "sex": "", "address": "",
                                                               "evacuee_id": 1}, **row)])


def test_a_non_match_returns_no_resident(grant, munis, staff):
    [r] = _lookup(munis, staff, grant, {"name": "山田太郎", "birth": "1990-01-01"})
    assert r["decision"] == "none" and r["candidates"] == []


def test_a_namesake_without_a_birth_match_gives_no_birth_date(grant, munis, staff):
    [r] = _lookup(munis, staff, grant, {"name": "山田太郎", "kana": "ヤマダタロウ", "birth": ""})
    assert r["candidates"]
    for c in r["candidates"]:
        assert "birth_date" not in c and "1975" not in str(c)
        assert c["birth"] == "生年月日の記載なし"
    [r] = _lookup(munis, staff, grant, {"name": "山田太郎", "kana": "ヤマダタロウ", "birth": "1975-04-01"})
    [c] = r["candidates"]
    assert c["birth"] == "生年月日が完全一致" and "1975" not in str(c)


def test_an_operator_grant_stops_when_the_disaster_ends(grant, munis, staff):
    a, _b = munis
    later = timezone.now() + dt.timedelta(days=2)
    og = actions.grant_lookup_by_operator(staff["operator"], "44204", "45383", expires_at=later, reason="運用者")
    row = {"name": "山田太郎", "kana": "ヤマダタロウ", "birth": "1975-04-01"}
    assert _lookup(munis, staff, og, row)[0]["decision"] == "auto"
    with tenant_scope(a):
        act = DisasterActivation.objects.get()
        actions.end_disaster(staff["disaster_a"], act.pk)
    with pytest.raises(crossarea.GrantRefused, match="災害の宣言が終了"):
        _lookup(munis, staff, og, row)
    # the origin's own grant has its own expiry and is not tied to the declaration
    assert _lookup(munis, staff, grant, row)[0]["decision"] == "auto"
