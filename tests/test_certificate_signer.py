"""Item 8 of #10: no certificate is issued while the 証明者 is incomplete — the mayor's name unset (or still the
standard placeholder 「（市区町村長名未設定）」) or no seal uploaded; the message says what to set and where."""
import pytest

from jichitai.certificates import actions, config
from jichitai.certificates.actions import CertificateRequest, SignerMissing
from jichitai.certificates.models import Issuance, Kind, RequesterKind, Tier
from jichitai.certificates.render import seal_png_uri
from jichitai.tenancy.scope import tenant_scope

from conftest import audit_events, certificate_signer, client_for


def _req(p):
    return CertificateRequest(kind=Kind.RESIDENT_COPY, person_ids=[p.pk], requester_kind=RequesterKind.SELF)


def test_issuing_is_refused_until_mayor_and_seal_are_set(env, staff):
    clerk, admin = staff["clerk_a"], staff["admin_a"]
    n_events = len(audit_events(env.m, action="certificate.issue"))
    for fn in (actions.quote, actions.issue_certificate):
        with pytest.raises(SignerMissing) as e:
            fn(clerk, _req(env.head))
        msg = e.value.errors["__all__"][0]
        assert "市区町村長の氏名" in msg and "公印の画像" in msg and "証明書設定" in msg
    config.set_setting(admin, "mayor_name", "日田　太郎", tier=Tier.MUNICIPALITY, municipality=env.m)
    with pytest.raises(SignerMissing) as e:
        actions.issue_certificate(clerk, _req(env.head))
    assert "公印の画像" in str(e.value) and "市区町村長の氏名" not in str(e.value)
    config.clear_setting(admin, "mayor_name", tier=Tier.MUNICIPALITY, municipality=env.m)
    config.set_setting(admin, "seal_image", seal_png_uri("日田市長"), tier=Tier.MUNICIPALITY, municipality=env.m)
    with pytest.raises(SignerMissing) as e:
        actions.issue_certificate(clerk, _req(env.head))
    assert "市区町村長の氏名" in str(e.value) and "公印の画像" not in str(e.value)
    # the standard placeholder typed in as the name counts as unset too
    config.set_setting(admin, "mayor_name", "（市区町村長名未設定）", tier=Tier.MUNICIPALITY, municipality=env.m)
    with pytest.raises(SignerMissing):
        actions.issue_certificate(clerk, _req(env.head))
    assert Issuance.objects.count() == 0 and len(audit_events(env.m, action="certificate.issue")) == n_events
    assert actions.missing_signer(config.effective(env.m)) == ["市区町村長の氏名"]
    config.set_setting(admin, "mayor_name", "日田　太郎", tier=Tier.MUNICIPALITY, municipality=env.m)
    assert actions.missing_signer(config.effective(env.m)) == []


def test_the_issue_screen_says_what_to_set_and_links_the_settings(env, staff):
    page = client_for(staff["admin_a"]).get(f"/residents/{env.head.pk}/certificate/").content.decode()
    assert "証明書を発行できません" in page and 'href="/certificates/settings/"' in page
    page = client_for(staff["clerk_a"]).get(f"/residents/{env.head.pk}/certificate/").content.decode()
    assert "自治体管理者に" in page and "/certificates/settings/" in page
    r = client_for(staff["clerk_a"]).post(f"/residents/{env.head.pk}/certificate/", {
        "kind": Kind.RESIDENT_COPY, "layout": "individual", "person_ids": [env.head.pk], "copies": 1,
        "requester_kind": RequesterKind.SELF, "step": "confirm"})
    assert "証明書設定の市区町村長の氏名と公印の画像が未設定です" in r.content.decode()  # the refusal itself
    assert Issuance.objects.count() == 0
    certificate_signer(env.m, staff["admin_a"])
    page = client_for(staff["clerk_a"]).get(f"/residents/{env.head.pk}/certificate/").content.decode()
    assert "証明書を発行できません" not in page
