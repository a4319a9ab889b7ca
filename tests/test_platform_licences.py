"""Licences: each basis counted on the deployment's actual resources, and a warning before adding a staff user or
a tenant would breach an entitlement."""
import os

import pytest

from conftest import client_for
from jichitai.platform import actions, licences


def test_resources_and_checks(munis, staff, settings):
    settings.JICHITAI_PHYSICAL_HOSTS = ["host-a", "host-b"]
    op = staff["operator"]
    res = licences.resources()
    assert res == {"physical_host": 2, "vcpu": os.cpu_count(), "user": 7, "tenant": 2, "hosts": ["host-a", "host-b"]}
    actions.add_licence(op, product="DBMS", vendor="A社", basis="physical_host", entitlement=1)
    actions.add_licence(op, product="帳票", vendor="B社", basis="vcpu", entitlement=os.cpu_count())
    actions.add_licence(op, product="パッケージ", vendor="C社", basis="tenant", entitlement=2)
    got = {c.licence.product: (c.used, c.ok) for c in licences.check_all()}
    assert got == {"DBMS": (2, False), "帳票": (os.cpu_count(), True), "パッケージ": (2, True)}


def test_warning_before_a_change_would_breach(munis, staff):
    op = staff["operator"]
    assert licences.warnings_for("tenant") == []
    actions.add_licence(op, product="パッケージ", vendor="C社", basis="tenant", entitlement=2)
    actions.add_licence(op, product="端末CAL", vendor="D社", basis="user", entitlement=8)
    w = licences.warnings_for("tenant")
    assert len(w) == 1 and "パッケージ" in w[0] and "3" in w[0]
    assert licences.warnings_for("user") == []  # 7 + 1 = 8: within
    # the screens where the change is made show it on their confirmation page
    body = client_for(op).post("/platform/new/", {"code": "44201", "name": "大分市", "name_kana": "オオイタシ",
                                                          "step": "confirm"}).content.decode()
    assert "ライセンス超過の警告" in body
    actions.add_licence(op, product="端末CAL2", vendor="D社", basis="user", entitlement=7)
    assert any("端末CAL2" in x for x in licences.warnings_for("user"))


def test_bad_licence_refused(munis, staff):
    with pytest.raises(actions.PlatformError) as e:
        actions.add_licence(staff["operator"], product="", vendor="", basis="socket", entitlement="0")
    assert set(e.value.errors) == {"product", "vendor", "basis", "entitlement"}
    with pytest.raises(Exception):
        actions.add_licence(staff["admin_a"], product="x", vendor="y", basis="user", entitlement=1)
    assert client_for(staff["admin_a"]).get("/platform/licences/").status_code == 403
    assert "実際の資源" in client_for(staff["operator"]).get("/platform/licences/").content.decode()
