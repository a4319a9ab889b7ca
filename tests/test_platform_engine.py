"""The tier engine: precedence, approval of 個別 values, audit, and that no setting is read any other way."""
import json
import re
from pathlib import Path

import pytest

from conftest import client_for, make_user, sees_all_tenants
from jichitai.audit.models import AuditEvent
from jichitai.platform import engine
from jichitai.platform.engine import SettingError, SettingPermissionError, Tier
from jichitai.platform.models import SettingProposal, SettingValue
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, Role, has_perm

SRC = Path(__file__).resolve().parents[1] / "src" / "jichitai"


@sees_all_tenants
def events(prefix):
    return list(AuditEvent.all_chains.filter(action__startswith=prefix).order_by("id"))


@pytest.fixture
def a3(munis):
    return Municipality.objects.create(code="44201", name="大分市", prefecture=munis[0].prefecture)


def test_every_declared_key_resolves_to_a_value_its_declaration_accepts(munis):
    reg = engine.registry()
    assert {"certificates.mayor_name", "tenancy.mfa_required_for_all_staff", "privacy.protect_household_members",
            "tenancy.role_perms.clerk", "platform.individual_approver"} <= set(reg)
    a, _b = munis
    resolved = engine.municipality_values(a)
    assert set(resolved) == set(reg)
    for key, r in resolved.items():
        d = reg[key]
        assert r.tier == engine.BUILTIN and d.tiers, key
        if r.value is not None:  # role overrides: None means "the 標準 role definition"
            assert d.parse(r.value) == r.value, key
        assert d.label and d.show(r.value), key


def test_precedence_individual_over_prefecture_over_standard_added_over_standard(munis, staff, a3):
    a, b = munis
    op, admin_a = staff["operator"], staff["admin_a"]
    key = "certificates.office_name"
    engine.set_value(op, key, "住民課", tier=Tier.STANDARD)
    assert engine.resolve(key, a).value == "住民課" and engine.resolve(key, a).tier == Tier.STANDARD
    engine.set_value(op, key, "市民課（共通）", tier=Tier.STANDARD_ADDED, requirement="R-ALL-0001")
    r = engine.resolve(key, b)
    assert (r.value, r.tier, r.tier_label, r.requirement) == ("市民課（共通）", "standard_added", "標準追加", "R-ALL-0001")
    engine.set_value(op, key, "市民窓口課", tier=Tier.PREFECTURE, prefecture=a.prefecture)
    assert engine.resolve(key, a3).value == "市民窓口課" and engine.resolve(key, b).value == "市民課（共通）"
    engine.set_value(admin_a, key, "市民環境課", tier=Tier.MUNICIPALITY, municipality=a)
    r = engine.resolve(key, a)
    assert (r.value, r.tier, r.set_by) == ("市民環境課", "municipality", "admin-a")
    assert engine.resolve(key, a3).value == "市民窓口課"
    engine.clear_value(op, key, tier=Tier.PREFECTURE, prefecture=a.prefecture)
    assert engine.resolve(key, a3).tier == Tier.STANDARD_ADDED
    assert [e.action for e in events("certificate_setting.")] == ["certificate_setting.set"] * 4 + [
        "certificate_setting.clear"]


def test_tiers_a_setting_does_not_allow_and_bad_values_are_refused_with_nothing_written(munis, staff):
    a, _ = munis
    op = staff["operator"]
    with pytest.raises(SettingError, match="標準の階層では設定できません"):
        engine.set_value(op, "tenancy.role_perms.clerk", ["view_residents"], tier=Tier.STANDARD)
    with pytest.raises(SettingError, match="0から100まで"):
        engine.set_value(op, "platform.usage_weight_residents", "101", tier=Tier.STANDARD)
    with pytest.raises(SettingError, match="選択肢から"):
        engine.set_value(op, "platform.individual_approver", "mayor", tier=Tier.PREFECTURE,
                         prefecture=a.prefecture)
    with pytest.raises(SettingError, match="団体の管理"):
        engine.set_value(staff["admin_a"], "tenancy.role_perms.clerk", ["manage_tenants"],
                         tier=Tier.MUNICIPALITY, municipality=a)
    with pytest.raises(SettingError, match="不明な設定項目"):
        engine.set_value(op, "nothing.here", "1", tier=Tier.STANDARD)
    assert not SettingValue.objects.exists() and not SettingProposal.objects.exists() and not events("setting.")


def test_permissions_operator_for_shared_tiers_admin_only_for_own_municipality(munis, staff):
    a, b = munis
    with pytest.raises(SettingPermissionError):
        engine.set_value(staff["admin_a"], "platform.sla_latency_ms", 500, tier=Tier.STANDARD)
    with pytest.raises(SettingPermissionError):
        engine.set_value(staff["admin_a"], "tenancy.mfa_required_for_all_staff", True, tier=Tier.MUNICIPALITY,
                         municipality=b)
    with pytest.raises(SettingPermissionError):
        engine.set_value(staff["clerk_a"], "tenancy.mfa_required_for_all_staff", True, tier=Tier.MUNICIPALITY,
                         municipality=a)
    assert not SettingValue.objects.exists()


def test_an_individual_role_override_waits_for_approval_then_applies_to_that_municipality_only(munis, staff):
    a, b = munis
    clerk_a, clerk_b = staff["clerk_a"], staff["clerk_b"]
    assert not has_perm(clerk_a, Perm.VIEW_AUDIT)
    wanted = sorted({Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.ISSUE_CERTIFICATES, Perm.VIEW_AUDIT})
    p = engine.set_value(staff["admin_a"], "tenancy.role_perms.clerk", wanted, tier=Tier.MUNICIPALITY,
                         municipality=a, requirement="R-44204-0042", reason="窓口で交付簿の照会が必要")
    assert isinstance(p, SettingProposal) and p.status == "pending"
    clerk_a = type(clerk_a).objects.get(pk=clerk_a.pk)  # a new request
    assert not has_perm(clerk_a, Perm.VIEW_AUDIT)  # pending: no effect
    # the requester may not approve, nor may another municipality's admin (the rule is the operator by default)
    for who in (staff["admin_a"], staff["admin_b"]):
        with pytest.raises(SettingPermissionError):
            engine.decide_proposal(who, p.pk, approve=True)
    engine.decide_proposal(staff["operator"], p.pk, approve=True, note="協議済み")
    clerk_a = type(clerk_a).objects.get(pk=clerk_a.pk)
    assert has_perm(clerk_a, Perm.VIEW_AUDIT) and not has_perm(clerk_a, Perm.VIEW_INDIVIDUAL_NUMBER)
    assert not has_perm(type(clerk_b).objects.get(pk=clerk_b.pk), Perm.VIEW_AUDIT)
    r = engine.resolve("tenancy.role_perms.clerk", a)
    assert (r.tier, r.approved_by, r.requirement) == ("municipality", "operator", "R-44204-0042")
    with pytest.raises(SettingError, match="処理済み"):
        engine.decide_proposal(staff["operator"], p.pk, approve=False)
    acts = [(e.action, e.municipality_id) for e in events("setting.")]
    assert acts == [("setting.proposed", a.pk), ("setting.approved", a.pk)]
    detail = json.loads(events("setting.approved")[0].detail)
    assert detail["requested_by"] == "admin-a" and detail["new"] == wanted


def test_the_approver_is_itself_a_setting_the_prefecture_coordinator(munis, staff, a3):
    a, b = munis
    op = staff["operator"]
    coord = make_user("coord-44201", Role.ADMIN, a3)
    engine.set_value(op, "platform.individual_approver", "coordinator", tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    engine.set_value(op, "platform.prefecture_coordinator", "coord-44201", tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    p = engine.set_value(staff["admin_a"], "tenancy.role_perms.viewer", [Perm.VIEW_RESIDENTS, Perm.VIEW_GAIJI],
                         tier=Tier.MUNICIPALITY, municipality=a)
    assert [x.pk for x in engine.pending_proposals(coord)] == [p.pk]
    assert engine.pending_proposals(op) == []  # the rule says the coordinator, not the operator
    with pytest.raises(SettingPermissionError):
        engine.decide_proposal(op, p.pk, approve=True)
    engine.decide_proposal(coord, p.pk, approve=False, note="標準で対応可能")
    assert engine.resolve("tenancy.role_perms.viewer", a).tier == engine.BUILTIN
    # in the other prefecture the operator still approves
    q = engine.set_value(staff["admin_b"], "tenancy.role_perms.viewer", [Perm.VIEW_RESIDENTS],
                         tier=Tier.MUNICIPALITY, municipality=b)
    assert [x.pk for x in engine.pending_proposals(op)] == [q.pk] and engine.pending_proposals(coord) == []


def test_moved_settings_keep_their_behaviour_through_the_engine(munis, staff):
    a, b = munis
    from jichitai.privacy import actions as privacy_actions, policy
    from jichitai.tenancy import actions as tenancy_actions
    from jichitai.tenancy.scope import tenant_scope

    tenancy_actions.set_mfa_policy(staff["admin_a"], "t", a, True)
    assert Municipality.objects.get(pk=a.pk).mfa_required_for_all_staff
    assert engine.resolve("tenancy.mfa_required_for_all_staff", a).tier == Tier.MUNICIPALITY
    assert not Municipality.objects.get(pk=b.pk).mfa_required_for_all_staff
    # a 県版 value reaches every municipality of the prefecture unless it has its own
    engine.set_value(staff["operator"], "privacy.protect_household_members", True, tier=Tier.PREFECTURE,
                     prefecture=b.prefecture)
    with tenant_scope(Municipality.objects.get(pk=b.pk)):
        assert policy.household_rule() is True
    with tenant_scope(Municipality.objects.get(pk=a.pk)):
        assert policy.household_rule() is False
        privacy_actions.set_household_rule(staff["admin_a"], True)
    with tenant_scope(Municipality.objects.get(pk=a.pk)):
        assert policy.household_rule() is True


# ------------------------------------------------------------------------------------------------ one way to read

SETTING_MODELS = ("SettingValue", "SettingProposal", "CertificateSetting", "PrivacySetting")
ALLOWED = {"platform/engine.py", "platform/models.py", "certificates/models.py"}
DIRECT = re.compile(r"\b(" + "|".join(SETTING_MODELS) + r")\b\s*\.\s*(objects|all_tenants|_default_manager)\b"
                    r"|\bmfa_required_for_all_staff\s*=(?!=)|\bRoleDefinition\.objects")


@pytest.mark.parametrize("key", ["privacy.protect_household_members", "tenancy.mfa_required_for_all_staff",
                                 "counter.approval_required"])
def test_an_individual_value_weakening_the_prefectures_protection_waits_for_approval(munis, staff, key):
    from jichitai.tenancy.scope import tenant_scope

    a, b = munis
    op, admin = staff["operator"], staff["admin_a"]
    engine.set_value(op, key, True, tier=Tier.PREFECTURE, prefecture=a.prefecture)
    fresh = lambda: Municipality.objects.get(pk=a.pk)  # noqa: E731 — the next request's municipality
    with tenant_scope(a):
        out = engine.set_value(admin, key, False, tier=Tier.MUNICIPALITY, municipality=fresh())
    assert isinstance(out, SettingProposal) and engine.effective(key, fresh()) is True
    assert not SettingValue.objects.filter(tier=Tier.MUNICIPALITY, municipality=a).exists()
    engine.decide_proposal(op, out.pk, approve=True)
    assert engine.effective(key, fresh()) is False
    # where nothing below protects, the 個別 value of either kind takes effect at once
    with tenant_scope(b):
        assert isinstance(engine.set_value(staff["admin_b"], key, True, tier=Tier.MUNICIPALITY, municipality=b),
                          SettingValue)
        assert isinstance(engine.set_value(staff["admin_b"], key, False, tier=Tier.MUNICIPALITY, municipality=b),
                          SettingValue)


def test_the_household_rule_screen_says_when_turning_it_off_waits_for_approval(munis, staff):
    a, _ = munis
    engine.set_value(staff["operator"], "privacy.protect_household_members", True, tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    r = client_for(staff["admin_a"]).post("/privacy/settings/", {"protect_household_members": "0", "step": "commit"},
                                          follow=True)
    assert "承認されると有効になります" in r.content.decode()
    assert engine.effective("privacy.protect_household_members", Municipality.objects.get(pk=a.pk)) is True


def test_no_setting_is_read_or_written_except_through_the_engine():
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if "/migrations/" in rel or rel in ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = DIRECT.search(line)
            if m and not (m.group(0).startswith("RoleDefinition") and rel in {"tenancy/roles.py",
                                                                             "tenancy/models.py"}):
                if m.group(0).startswith("mfa_required_for_all_staff") and "forms." in line:
                    continue
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "settings read or written outside platform.engine:\n" + "\n".join(offenders)


def test_the_scan_would_catch_a_direct_read():
    assert DIRECT.search("x = CertificateSetting.objects.filter(key='fee')")
    assert DIRECT.search("SettingValue.objects.get(pk=1)")
    assert DIRECT.search("m.mfa_required_for_all_staff = True")
    assert not DIRECT.search("m.mfa_required_for_all_staff == True")


def test_settings_screen_shows_the_tier_and_sends_an_individual_value_for_approval(munis, staff):
    a, _ = munis
    c = client_for(staff["admin_a"])
    r = c.get("/platform/settings/")
    body = r.content.decode()
    assert r.status_code == 200 and "標準（組込み）" in body and "すべての職員に2段階認証を必須とする" in body
    r = c.post("/platform/settings/tenancy.role_perms.clerk/", {"value": "view_residents change_residents",
                                                                "requirement": "R-1", "step": "confirm"})
    assert r.status_code == 200 and "承認" in r.content.decode() and not SettingProposal.objects.exists()
    r = c.post("/platform/settings/tenancy.role_perms.clerk/", {"value": "view_residents change_residents",
                                                                "requirement": "R-1", "step": "commit"})
    assert r.status_code == 302 and SettingProposal.objects.get().status == "pending"
    op = client_for(staff["operator"])
    body = op.get("/platform/approvals/").content.decode()
    assert "日田市" in body and "役割の権限（窓口職員）" in body
    assert client_for(staff["clerk_a"]).get("/platform/settings/").status_code == 403


def test_the_tier_is_shown_where_the_setting_acts(munis, staff):
    a, _ = munis
    c = client_for(staff["admin_a"])
    assert 'class="tier tier-builtin"' in c.get("/staff/settings/").content.decode()
    engine.set_value(staff["operator"], "tenancy.mfa_required_for_all_staff", True, tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    body = c.get("/staff/settings/").content.decode()
    assert 'class="tier tier-prefecture"' in body and ">県版<" in body
    engine.set_value(staff["operator"], "privacy.protect_household_members", True, tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    assert ">県版<" in c.get("/privacy/settings/").content.decode()
