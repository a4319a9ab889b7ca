"""Contract exit: export → confirmation by the municipality → verified deletion through the one purge path, with a
signed certificate of deletion; every step audited; no row of that municipality left; the other one untouched."""
import json
import zipfile

import pytest

from conftest import client_for, make_user, sees_all_tenants
from jichitai.audit.models import AuditEvent
from jichitai.platform import actions, engine
from jichitai.platform import exit as exit_
from jichitai.platform.engine import Tier
from jichitai.platform.models import ContractExit
from jichitai.residents.models import Person
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope


@pytest.fixture
def exit_dir(settings, tmp_path):
    settings.JICHITAI_EXIT_DIR = tmp_path / "exits"
    return settings.JICHITAI_EXIT_DIR


@sees_all_tenants
def platform_events(prefix):
    return [e.action for e in AuditEvent.all_chains.filter(chain_key="platform", action__startswith=prefix)
            .order_by("seq")]


@sees_all_tenants
def residents_of(m):
    return Person.all_tenants.filter(municipality=m).count()


def _populate(town, staff):
    head, _wife, _child = town.family()
    m = town.m
    actions.submit_requirement(staff["admin_a"], m, area="住民情報", text="転出証明書に旧住所を併記すること")
    engine.set_value(staff["admin_a"], "tenancy.mfa_required_for_all_staff", True, tier=Tier.MUNICIPALITY,
                     municipality=m)
    engine.set_value(staff["admin_a"], "tenancy.role_perms.clerk", ["view_residents"], tier=Tier.MUNICIPALITY,
                     municipality=m)  # a pending proposal
    return head


def test_contract_exit_end_to_end(exit_dir, town_a, town_b, staff):
    a, b = town_a.m, town_b.m
    _populate(town_a, staff)
    town_b.family(family_name="佐藤", kana="サトウ")
    op, admin_a = staff["operator"], staff["admin_a"]

    with pytest.raises(actions.PlatformError, match="理由"):
        actions.start_exit(op, a, reason=" ")
    with pytest.raises(Exception):
        actions.start_exit(admin_a, a, reason="契約終了")
    ex = actions.start_exit(op, a, reason="契約番号 2026-17、2027年3月31日終了")
    with pytest.raises(actions.PlatformError, match="受領確認"):
        actions.delete_for_exit(op, ex.pk, typed_code=a.code)

    ex = actions.export_for_exit(op, ex.pk)
    assert ex.status == "exported" and len(ex.archive_sha256) == 64
    with zipfile.ZipFile(ex.archive_path) as z:
        names = set(z.namelist())
        assert {"certificates_log.csv", "settings.json", "audit.jsonl", "audit_verification.json",
                "exit-manifest.json"} <= names
        assert any(n.startswith("layout/") for n in names)
        assert json.loads(z.read("audit_verification.json"))["ok"] is True
        manifest = json.loads(z.read("exit-manifest.json"))
        assert manifest["municipality"] == a.code and "layout/manifest.json" in manifest["files"]
        settings_json = json.loads(z.read("settings.json"))
        assert settings_json["tenancy.mfa_required_for_all_staff"]["tier"] == "municipality"

    # the municipality confirms with the archive's hash; someone else's admin or a wrong hash cannot
    with pytest.raises(Exception):
        actions.confirm_exit(staff["admin_b"], ex.pk, sha256_typed=ex.archive_sha256[:12])
    with pytest.raises(actions.PlatformError, match="一致しません"):
        actions.confirm_exit(admin_a, ex.pk, sha256_typed="0" * 12)
    actions.confirm_exit(admin_a, ex.pk, sha256_typed=ex.archive_sha256[:16].upper())

    with pytest.raises(actions.PlatformError, match="団体コード"):
        actions.delete_for_exit(op, ex.pk, typed_code="45383")
    ex = actions.delete_for_exit(op, ex.pk, typed_code=a.code)

    assert ex.status == "deleted" and exit_.rows_left(a) == {}
    import os

    assert not os.path.exists(ex.archive_path) and ex.certificate["platform_copy_removed"] is True
    assert not StaffUser.objects.filter(municipality=a).exists()
    assert residents_of(a) == 0 and residents_of(b) == 3
    assert not Municipality.objects.get(pk=a.pk).is_active
    # the certificate verifies with the public key alone, and a changed statement does not
    assert exit_.verify_certificate(ex.certificate, ex.certificate_signature, ex.certificate_key_id)
    forged = {**ex.certificate, "rows_deleted": {}}
    assert not exit_.verify_certificate(forged, ex.certificate_signature, ex.certificate_key_id)
    assert ex.certificate["archive_sha256"] == ex.archive_sha256 and ex.certificate["verification"]["rows_left"] == 0
    assert ex.certificate["rows_deleted"]["tenancy_staffuser"] == 4
    assert platform_events("contract_exit.") == ["contract_exit.started", "contract_exit.exported",
                                                 "contract_exit.confirmed", "contract_exit.deleted"]
    assert "tenant.purged" in platform_events("tenant.")
    # nothing of the other municipality was touched
    with tenant_scope(b):
        assert Person.objects.count() == 3
    assert StaffUser.objects.filter(municipality=b).count() == 2
    with pytest.raises(actions.PlatformError, match="既に削除"):
        actions.start_exit(op, a, reason="again")


def test_rows_left_sees_every_kind_of_reference(exit_dir, town_a, staff):
    _populate(town_a, staff)
    left = exit_.rows_left(town_a.m)
    for label in ("residents.Person", "residents.PersonHistory", "tenancy.StaffUser", "platform.Requirement",
                  "platform.SettingValue", "platform.SettingProposal", "audit.AuditEvent"):
        assert left.get(label), label


def test_exit_screens(exit_dir, town_a, staff):
    _populate(town_a, staff)
    op = client_for(staff["operator"])
    r = op.post("/platform/exits/", {"code": town_a.m.code, "reason": "契約終了"})
    assert r.status_code == 302
    ex = ContractExit.objects.get()
    assert op.post(f"/platform/exits/{ex.pk}/", {"step": "export"}).status_code == 302
    ex.refresh_from_db()
    # the archive holds protected addresses and 個人番号: not for the operator, not for an admin without both rights
    assert op.get(f"/platform/exits/{ex.pk}/archive/").status_code == 403
    no_dv = make_user("admin-a-nodv", Role.ADMIN, town_a.m)
    assert client_for(no_dv).get(f"/platform/exits/{ex.pk}/archive/").status_code == 403
    adm = client_for(staff["admin_a"])
    got = adm.get(f"/platform/exits/{ex.pk}/archive/")
    assert got.status_code == 200 and b"".join(got.streaming_content)[:2] == b"PK"

    @sees_all_tenants
    def downloads():
        return list(AuditEvent.all_chains.filter(chain_key="platform", action="contract_exit.downloaded")
                    .values_list("actor_username", flat=True))
    assert downloads() == [staff["admin_a"].username]
    assert client_for(staff["admin_b"]).get(f"/platform/exits/{ex.pk}/").status_code == 404
    assert adm.post(f"/platform/exits/{ex.pk}/", {"step": "confirm", "sha256": ex.archive_sha256[:12]}).status_code == 302
    assert op.post(f"/platform/exits/{ex.pk}/", {"step": "delete", "code": town_a.m.code}).status_code == 302
    body = op.get(f"/platform/exits/{ex.pk}/").content.decode()
    assert "正しい署名です" in body
    cert = json.loads(op.get(f"/platform/exits/{ex.pk}/certificate/").content)
    assert cert["algorithm"] == "Ed25519" and cert["statement"]["municipality"]["code"] == town_a.m.code
