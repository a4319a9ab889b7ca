"""Tiered certificate settings (標準 → 県版 → 個別): resolution, validation, permissions, audit and the screens."""
import base64
import hashlib
import io
import json
import struct
import zlib

import pytest
from conftest import sees_all_tenants
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jichitai.audit.models import AuditEvent
from jichitai.audit.verify import verify_all
from jichitai.certificates import config
from jichitai.certificates.config import BUILTIN, SettingError, SettingPermissionError
from jichitai.certificates.models import CertificateSetting, Tier
from jichitai.tenancy.models import Municipality


def tiny_png(width=1, height=1):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
       b'<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs>'
       b'<circle cx="50" cy="50" r="45" fill="none" stroke="url(#g)" stroke-width="4"/>'
       b'<text x="50" y="58" text-anchor="middle" fill="#c00">\xe5\x8d\xb0</text></svg>')


def data_uri(mime, data):
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@sees_all_tenants
def events(action):
    return list(AuditEvent.all_chains.filter(action=action).order_by("id"))


@pytest.fixture
def a3(munis):
    """A third municipality in A's prefecture (大分県), to show that 県版 reaches all of them."""
    return Municipality.objects.create(code="44201", name="大分市", prefecture=munis[0].prefecture)


# ------------------------------------------------------------------------------------------------ resolution

@pytest.mark.django_db
def test_registry_has_the_agreed_keys_and_defaults():
    s = config.SETTINGS
    for key in ["mayor_title", "mayor_name", "office_name", "attestation_resident_copy", "attestation_removed_copy",
                "attestation_entry_certificate", "attestation_move_out_certificate", "fee_resident_copy",
                "fee_removed_copy", "fee_entry_certificate", "fee_move_out_certificate", "seal_image",
                "household_rows_per_page", "show_kana", "footer_note", "title_resident_copy", "title_removed_copy",
                "title_entry_certificate", "title_move_out_certificate"]:
        assert key in s and s[key].label and s[key].type in config.TYPES
        assert config.parse_value(key, s[key].default) == s[key].default  # every default passes its own checks
    assert s["mayor_title"].default == "{団体名}長"
    assert s["fee_resident_copy"].default == 300 and s["fee_move_out_certificate"].default == 0
    assert s["seal_image"].default == "" and s["household_rows_per_page"].default == 4
    assert s["show_kana"].default is True
    assert s["title_entry_certificate"].default == "住民票記載事項証明書"


def test_three_tiers_resolve_and_clear_falls_back(munis, staff, a3, django_assert_num_queries):
    a, b = munis
    op, admin_a = staff["operator"], staff["admin_a"]

    r = config.resolve(a)
    assert r["office_name"].value == "市民課" and r["office_name"].tier == BUILTIN
    assert r["office_name"].set_by == "" and r["office_name"].set_at is None and r["office_name"].label == "担当課"

    config.set_setting(op, "office_name", "住民課", tier=Tier.STANDARD)
    for m in (a, b, a3):
        assert config.resolve(m)["office_name"].value == "住民課"
        assert config.resolve(m)["office_name"].tier == Tier.STANDARD

    config.set_setting(op, "office_name", "市民窓口課", tier=Tier.PREFECTURE, prefecture=a.prefecture)
    assert config.resolve(a)["office_name"].value == "市民窓口課"
    assert config.resolve(a3)["office_name"].value == "市民窓口課"
    assert config.resolve(b)["office_name"].value == "住民課"  # another prefecture: standard

    config.set_setting(admin_a, "office_name", "市民環境課", tier=Tier.MUNICIPALITY, municipality=a)
    ra = config.resolve(a)["office_name"]
    assert (ra.value, ra.tier, ra.set_by) == ("市民環境課", Tier.MUNICIPALITY, "admin-a") and ra.set_at is not None
    assert config.resolve(a3)["office_name"].value == "市民窓口課"
    assert config.resolve(b)["office_name"].value == "住民課"

    row = CertificateSetting.objects.get(tier=Tier.MUNICIPALITY, key="office_name")
    assert row.set_by_role == "admin" and row.set_at == ra.set_at

    with django_assert_num_queries(1):
        config.resolve(a)

    assert config.clear_setting(admin_a, "office_name", tier=Tier.MUNICIPALITY, municipality=a) == "市民環境課"
    assert config.resolve(a)["office_name"].tier == Tier.PREFECTURE
    config.clear_setting(op, "office_name", tier=Tier.PREFECTURE, prefecture=a.prefecture)
    assert config.resolve(a)["office_name"].tier == Tier.STANDARD
    assert config.resolve(a)["office_name"].set_by == "operator"
    config.clear_setting(op, "office_name", tier=Tier.STANDARD)
    assert config.resolve(a)["office_name"].tier == BUILTIN and config.resolve(a)["office_name"].value == "市民課"
    with pytest.raises(SettingError):  # nothing left to clear
        config.clear_setting(op, "office_name", tier=Tier.STANDARD)


def test_set_twice_updates_the_same_row(munis, staff):
    a, _ = munis
    config.set_setting(staff["admin_a"], "fee_resident_copy", "350", tier=Tier.MUNICIPALITY, municipality=a)
    config.set_setting(staff["admin_a"], "fee_resident_copy", 400, tier=Tier.MUNICIPALITY, municipality=a)
    assert CertificateSetting.objects.filter(key="fee_resident_copy").count() == 1
    assert config.effective(a)["fee_resident_copy"] == 400
    ev = events("certificate_setting.set")
    assert [json.loads(e.detail)["old"] for e in ev] == [None, 350]


def test_placeholders_are_substituted_in_text_only(munis, staff):
    a, b = munis
    eff = config.effective(a)
    assert eff["mayor_title"] == "日田市長"
    assert config.effective(b)["mayor_title"] == "綾町長"
    config.set_setting(staff["operator"], "footer_note", "{都道府県名}{団体名}の証明書です。\n二行目",
                       tier=Tier.STANDARD)
    assert config.effective(a)["footer_note"] == "大分県日田市の証明書です。\n二行目"
    assert config.effective(b)["footer_note"] == "宮崎県綾町の証明書です。\n二行目"
    assert config.resolve(a)["footer_note"].value == "{都道府県名}{団体名}の証明書です。\n二行目"  # stored as typed
    assert eff["fee_resident_copy"] == 300 and eff["show_kana"] is True and eff["household_rows_per_page"] == 4
    assert eff["seal_image"] == ""


# ------------------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("key,raw,fragment", [
    ("no_such_key", "x", "不明な設定項目"),
    ("fee_resident_copy", "abc", "整数"),
    ("fee_resident_copy", "-1", "整数"),
    ("fee_resident_copy", "10001", "0から10000"),
    ("fee_resident_copy", "3.5", "整数"),
    ("fee_resident_copy", True, "整数"),
    ("household_rows_per_page", "1", "2から8"),
    ("household_rows_per_page", 9, "2から8"),
    ("show_kana", "maybe", "はい"),
    ("mayor_title", "{市長名}長", "{市長名}"),
    ("mayor_title", "{団体名長", "波括弧"),
    ("office_name", "あ" * 501, "500文字以内"),
    ("office_name", "", "入力してください"),
    ("office_name", "市民\n課", "改行"),
    ("title_resident_copy", "   ", "入力してください"),
    ("seal_image", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "PNG または SVG"),
    ("seal_image", "http://example.com/seal.png", "PNG または SVG"),
    ("seal_image", data_uri("image/png", b"not a png at all"), "PNG"),
    ("seal_image", data_uri("image/png", tiny_png() + b"\0" * (512 * 1024)), "大きすぎ"),
    ("seal_image", "data:image/png;base64,!!!!", "PNG または SVG"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script>"
                                             b"</svg>"), "スクリプト"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><SCRIPT>x</SCRIPT></svg>"),
     "スクリプト"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
     "onload"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' "
                                             b"xmlns:xlink='http://www.w3.org/1999/xlink'>"
                                             b"<image xlink:href='https://example.com/x.png'/></svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><use href='other.svg#a'/>"
                                             b"</svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'>"
                                             b"<rect fill='url(https://example.com/p.svg#x)'/></svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><style>"
                                             b"@import url(https://example.com/a.css);</style></svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", b"<?xml version='1.0'?><!DOCTYPE svg [<!ENTITY x 'y'>]>"
                                             b"<svg xmlns='http://www.w3.org/2000/svg'>&x;</svg>"), "DOCTYPE"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><foreignObject/></svg>"),
     "foreignObject"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><rect id='r'>"
                                             b"<set attributeName='xlink:href' to='https://example.com/x'/></rect>"
                                             b"</svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'>"
                                             b"<rect style='fill: red; background: image-set(\"https://e.com/a\")'/>"
                                             b"</svg>"), "外部"),
    ("seal_image", data_uri("image/svg+xml", "<?xml version='1.0' encoding='UTF-16'?>"
                                             "<svg xmlns='http://www.w3.org/2000/svg'/>".encode("utf-16")), "UTF-8"),
    ("seal_image", data_uri("image/svg+xml", b"<html><body/></html>"), "svg"),
    ("seal_image", data_uri("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><g></svg>"), "XML"),
])
def test_invalid_values_are_refused_with_a_message_and_nothing_is_stored(munis, staff, key, raw, fragment):
    a, _ = munis
    with pytest.raises(SettingError) as e:
        config.set_setting(staff["admin_a"], key, raw, tier=Tier.MUNICIPALITY, municipality=a)
    assert fragment in str(e.value)
    assert not CertificateSetting.objects.exists()
    assert not events("certificate_setting.set")


@pytest.mark.parametrize("key,raw,expected", [
    ("fee_resident_copy", "２００", 200),
    ("fee_resident_copy", " 1,000 ", 1000),
    ("fee_move_out_certificate", "0", 0),
    ("household_rows_per_page", "8", 8),
    ("show_kana", "0", False),
    ("show_kana", "1", True),
    ("show_kana", False, False),
    ("office_name", "  市民課　", "市民課"),
    ("attestation_resident_copy", "一行目\r\n{団体名}長", "一行目\n{団体名}長"),
    ("footer_note", "", ""),
    ("seal_image", "", ""),
])
def test_raw_values_are_parsed(key, raw, expected):
    assert config.parse_value(key, raw) == expected


def test_images_png_and_safe_svg_are_accepted_and_audited_by_hash(munis, staff):
    a, _ = munis
    png = tiny_png(3, 2)
    config.set_setting(staff["admin_a"], "seal_image", data_uri("image/png", png), tier=Tier.MUNICIPALITY,
                       municipality=a)
    assert config.effective(a)["seal_image"] == data_uri("image/png", png)
    config.set_setting(staff["admin_a"], "seal_image", SVG, tier=Tier.MUNICIPALITY, municipality=a)  # raw bytes
    assert config.effective(a)["seal_image"] == data_uri("image/svg+xml", SVG)
    ev = events("certificate_setting.set")
    assert len(ev) == 2
    d = json.loads(ev[1].detail)
    assert d["old"] == {"type": "image/png", "sha256": hashlib.sha256(png).hexdigest(), "bytes": len(png)}
    assert d["new"] == {"type": "image/svg+xml", "sha256": hashlib.sha256(SVG).hexdigest(), "bytes": len(SVG)}
    assert "base64" not in ev[0].detail and "base64" not in ev[1].detail


def test_image_upload_helper(munis):
    f = SimpleUploadedFile("seal.png", tiny_png(), content_type="image/png")
    assert config.image_upload_to_data_uri(f) == data_uri("image/png", tiny_png())
    assert config.image_upload_to_data_uri(io.BytesIO(SVG)).startswith("data:image/svg+xml;base64,")
    inkscape = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                b'xmlns:cc="http://creativecommons.org/ns#"><metadata><rdf:RDF><cc:Work rdf:about="">'
                b'<cc:license rdf:resource="http://creativecommons.org/licenses/by/4.0/"/></cc:Work></rdf:RDF>'
                b'</metadata><circle r="4" style="fill:url(#g);stroke:#c00"/></svg>')
    assert config.image_upload_to_data_uri(io.BytesIO(inkscape)) == data_uri("image/svg+xml", inkscape)
    with pytest.raises(SettingError, match="PNG または SVG"):
        config.image_upload_to_data_uri(SimpleUploadedFile("seal.gif", b"GIF89a....", content_type="image/gif"))
    with pytest.raises(SettingError, match="大きすぎ"):
        config.image_upload_to_data_uri(SimpleUploadedFile("big.png", tiny_png() + b"\0" * 600_000))
    with pytest.raises(SettingError, match="スクリプト"):
        config.image_upload_to_data_uri(io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"))


def test_a_broken_stored_row_is_skipped_not_used(munis, staff):
    """A row written outside the actions (or before a definition changed) does not reach a certificate."""
    a, _ = munis
    from django.utils import timezone
    CertificateSetting.objects.create(key="household_rows_per_page", tier=Tier.MUNICIPALITY, municipality=a,
                                      value=99, set_by="x", set_at=timezone.now())
    CertificateSetting.objects.create(key="retired_key", tier=Tier.STANDARD, value="x", set_by="x",
                                      set_at=timezone.now())
    r = config.resolve(a)
    assert r["household_rows_per_page"].value == 4 and "retired_key" not in r


# ------------------------------------------------------------------------------------------------ permissions

def test_permissions(munis, staff):
    a, b = munis
    denied = [
        (staff["clerk_a"], dict(tier=Tier.MUNICIPALITY, municipality=a)),
        (staff["viewer_a"], dict(tier=Tier.MUNICIPALITY, municipality=a)),
        (staff["admin_a"], dict(tier=Tier.MUNICIPALITY, municipality=b)),
        (staff["admin_b"], dict(tier=Tier.MUNICIPALITY, municipality=a)),
        (staff["admin_a"], dict(tier=Tier.STANDARD)),
        (staff["admin_a"], dict(tier=Tier.PREFECTURE, prefecture=a.prefecture)),
        (staff["operator"], dict(tier=Tier.MUNICIPALITY, municipality=a)),
    ]
    for user, kw in denied:
        with pytest.raises(SettingPermissionError):
            config.set_setting(user, "office_name", "侵入課", **kw)
    assert not CertificateSetting.objects.exists()
    # clearing follows the same rules
    config.set_setting(staff["admin_a"], "office_name", "市民環境課", tier=Tier.MUNICIPALITY, municipality=a)
    for user in (staff["clerk_a"], staff["admin_b"], staff["operator"]):
        with pytest.raises(SettingPermissionError):
            config.clear_setting(user, "office_name", tier=Tier.MUNICIPALITY, municipality=a)
    staff["admin_a"].is_active = False
    with pytest.raises(SettingPermissionError):
        config.set_setting(staff["admin_a"], "office_name", "x", tier=Tier.MUNICIPALITY, municipality=a)
    assert config.resolve(a)["office_name"].value == "市民環境課"
    # the operator sets 標準 and 県版
    config.set_setting(staff["operator"], "fee_removed_copy", 200, tier=Tier.STANDARD)
    config.set_setting(staff["operator"], "fee_removed_copy", 250, tier=Tier.PREFECTURE, prefecture=b.prefecture)
    assert config.effective(a)["fee_removed_copy"] == 200 and config.effective(b)["fee_removed_copy"] == 250
    # a tier must name exactly its owner
    with pytest.raises(SettingError):
        config.set_setting(staff["operator"], "office_name", "x", tier=Tier.PREFECTURE)
    with pytest.raises(SettingError):
        config.set_setting(staff["operator"], "office_name", "x", tier=Tier.STANDARD, prefecture=a.prefecture)
    with pytest.raises(SettingError):
        config.set_setting(staff["operator"], "office_name", "x", tier="galaxy")


def test_audit_events(munis, staff):
    a, _ = munis
    config.set_setting(staff["admin_a"], "office_name", "市民環境課", tier=Tier.MUNICIPALITY, municipality=a,
                       terminal="窓口1@10.0.0.1")
    config.set_setting(staff["operator"], "office_name", "住民課", tier=Tier.PREFECTURE, prefecture=a.prefecture)
    config.clear_setting(staff["admin_a"], "office_name", tier=Tier.MUNICIPALITY, municipality=a)
    e_set, e_pref = events("certificate_setting.set")
    (e_clear,) = events("certificate_setting.clear")
    assert e_set.municipality_id == a.pk and e_set.chain_key == "44204" and e_set.terminal == "窓口1@10.0.0.1"
    assert (e_set.object_type, e_set.object_id, e_set.actor_username) == ("certificate_setting", "office_name",
                                                                          "admin-a")
    assert json.loads(e_set.detail) == {"tier": "municipality", "prefecture": None, "municipality": "44204",
                                        "old": None, "new": "市民環境課"}
    assert e_pref.municipality_id is None and e_pref.chain_key == "platform"
    assert json.loads(e_pref.detail) == {"tier": "prefecture", "prefecture": "44", "municipality": None,
                                         "old": None, "new": "住民課"}
    assert json.loads(e_clear.detail)["old"] == "市民環境課" and json.loads(e_clear.detail)["new"] is None
    assert all(r.ok for r in verify_all(["44204", "platform"]))


# ------------------------------------------------------------------------------------------------ screens

def test_admin_screen_lists_every_setting_with_its_tier(munis, staff, login):
    a, _ = munis
    config.set_setting(staff["operator"], "fee_resident_copy", 200, tier=Tier.STANDARD)
    config.set_setting(staff["operator"], "office_name", "住民課", tier=Tier.PREFECTURE, prefecture=a.prefecture)
    config.set_setting(staff["admin_a"], "mayor_name", "日田　一郎", tier=Tier.MUNICIPALITY, municipality=a)
    config.set_setting(staff["admin_a"], "seal_image", tiny_png(), tier=Tier.MUNICIPALITY, municipality=a)
    c = login(staff["admin_a"])
    r = c.get("/certificates/settings/")
    assert r.status_code == 200
    body = r.content.decode()
    for d in config.SETTINGS.values():
        assert d.label in body
    assert "日田市長" in body and "{団体名}長" in body  # effective, and the value as typed
    assert "日田　一郎" in body and "住民課" in body and "200円" in body and "標準（組込み）" in body
    assert f'src="{data_uri("image/png", tiny_png())}"' in body
    assert "個別の設定を解除" in body and "/certificates/settings/mayor_name/clear/" in body
    assert "/certificates/settings/office_name/clear/" not in body  # office_name is 県版: nothing to clear here
    assert 'href="/certificates/settings/"' in body  # the nav link


def test_screens_need_the_right_role(munis, staff, login):
    for user in ("clerk_a", "viewer_a", "operator"):
        c = Client()
        c.force_login(staff[user])
        assert c.get("/certificates/settings/").status_code == 403, user
        assert c.post("/certificates/settings/office_name/", {"value": "x", "step": "commit"}).status_code == 403
    for user in ("clerk_a", "admin_a", "admin_b"):
        c = Client()
        c.force_login(staff[user])
        assert c.get("/platform/certificate-settings/").status_code == 403, user
        assert c.post("/platform/certificate-settings/office_name/",
                      {"value": "x", "step": "commit"}).status_code == 403
    assert Client().get("/certificates/settings/").status_code == 302  # to the sign-in page
    assert not CertificateSetting.objects.exists()


def test_confirm_does_not_save_and_commit_does(munis, staff, login):
    a, _ = munis
    c = login(staff["admin_a"])
    url = "/certificates/settings/office_name/"
    r = c.get(url)
    assert r.status_code == 200 and 'value="市民課"' in r.content.decode()
    r = c.post(url, {"value": "{団体名}市民課", "step": "confirm"})
    body = r.content.decode()
    assert r.status_code == 200 and "まだ保存されていません" in body and "変更前" in body and "変更後" in body
    assert "日田市市民課" in body and "保存する" in body
    assert not CertificateSetting.objects.exists() and not events("certificate_setting.set")
    r = c.post(url, {"value": "{団体名}市民課", "step": "edit"})  # back to the form, the input kept
    assert r.status_code == 200 and 'value="{団体名}市民課"' in r.content.decode()
    assert not CertificateSetting.objects.exists()
    r = c.post(url, {"value": "{団体名}市民課", "step": "commit"})
    assert r.status_code == 302 and r.url == "/certificates/settings/"
    assert config.effective(a)["office_name"] == "日田市市民課"
    assert config.resolve(a)["office_name"].tier == Tier.MUNICIPALITY
    (e,) = events("certificate_setting.set")
    assert e.actor_username == "admin-a" and e.municipality_id == a.pk
    r = c.get("/certificates/settings/")
    assert "保存しました" in r.content.decode()


def test_invalid_input_shows_japanese_errors_next_to_the_field(munis, staff, login):
    c = login(staff["admin_a"])
    for key, value, msg in [("fee_resident_copy", "abc", "整数"), ("mayor_title", "{市長}長", "使えない差し込み項目"),
                            ("household_rows_per_page", "20", "2から8")]:
        for step in ("confirm", "commit"):
            r = c.post(f"/certificates/settings/{key}/", {"value": value, "step": step})
            assert r.status_code == 422
            body = r.content.decode()
            assert msg in body and 'class="error" role="alert"' in body
    assert not CertificateSetting.objects.exists()
    assert c.get("/certificates/settings/no_such_key/").status_code == 404
    assert c.post("/certificates/settings/no_such_key/", {"value": "x", "step": "commit"}).status_code == 404


def test_bool_and_image_through_the_screen(munis, staff, login):
    a, _ = munis
    c = login(staff["admin_a"])
    r = c.post("/certificates/settings/show_kana/", {"value": "0", "step": "commit"})
    assert r.status_code == 302 and config.effective(a)["show_kana"] is False
    url = "/certificates/settings/seal_image/"
    assert 'enctype="multipart/form-data"' in c.get(url).content.decode()
    r = c.post(url, {"upload": SimpleUploadedFile("seal.svg", SVG, content_type="image/svg+xml"), "step": "confirm"})
    body = r.content.decode()
    assert r.status_code == 200 and data_uri("image/svg+xml", SVG) in body  # previewed and carried to the commit
    assert not CertificateSetting.objects.filter(key="seal_image").exists()
    r = c.post(url, {"value": data_uri("image/svg+xml", SVG), "step": "commit"})
    assert r.status_code == 302 and config.effective(a)["seal_image"] == data_uri("image/svg+xml", SVG)
    evil = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    r = c.post(url, {"upload": SimpleUploadedFile("evil.svg", evil), "step": "confirm"})
    assert r.status_code == 422 and "スクリプト" in r.content.decode()
    r = c.post(url, {"value": data_uri("image/svg+xml", evil), "step": "commit"})  # a crafted commit
    assert r.status_code == 422
    r = c.post(url, {"step": "confirm"})
    assert r.status_code == 422 and "画像ファイルを選んでください" in r.content.decode()
    assert config.effective(a)["seal_image"] == data_uri("image/svg+xml", SVG)


def test_clear_through_the_screen(munis, staff, login):
    a, _ = munis
    config.set_setting(staff["operator"], "fee_resident_copy", 250, tier=Tier.PREFECTURE, prefecture=a.prefecture)
    config.set_setting(staff["admin_a"], "fee_resident_copy", 350, tier=Tier.MUNICIPALITY, municipality=a)
    c = login(staff["admin_a"])
    url = "/certificates/settings/fee_resident_copy/clear/"
    r = c.get(url)
    body = r.content.decode()
    assert r.status_code == 200 and "350円" in body and "250円" in body and "解除する" in body and "県版" in body
    assert config.effective(a)["fee_resident_copy"] == 350  # the confirmation page changes nothing
    r = c.post(url, {"step": "commit"})
    assert r.status_code == 302
    assert config.effective(a)["fee_resident_copy"] == 250
    assert config.resolve(a)["fee_resident_copy"].tier == "prefecture"
    assert len(events("certificate_setting.clear")) == 1
    r = c.post(url, {"step": "commit"})  # again: nothing to clear, nothing written
    assert r.status_code == 302 and len(events("certificate_setting.clear")) == 1
    assert "個別の設定がありません" in c.get("/certificates/settings/").content.decode()


def test_another_municipality_admin_neither_sees_nor_alters_a(munis, staff, login):
    a, b = munis
    config.set_setting(staff["admin_a"], "mayor_name", "日田　秘密", tier=Tier.MUNICIPALITY, municipality=a)
    config.set_setting(staff["admin_a"], "fee_entry_certificate", 777, tier=Tier.MUNICIPALITY, municipality=a)
    c = login(staff["admin_b"])
    for url in ["/certificates/settings/", "/certificates/settings/mayor_name/",
                "/certificates/settings/mayor_name/clear/"]:
        r = c.get(url, follow=True)
        assert r.status_code == 200
        body = r.content.decode()
        assert "日田　秘密" not in body and "777円" not in body and "日田市" not in body
    r = c.post("/certificates/settings/mayor_name/", {"value": "綾　花子", "step": "commit"})
    assert r.status_code == 302
    r = c.post("/certificates/settings/fee_entry_certificate/clear/", {"step": "commit"})  # B has none: no-op
    assert r.status_code == 302
    # B's admin changed B only; A's values are intact
    assert config.effective(a)["mayor_name"] == "日田　秘密" and config.effective(a)["fee_entry_certificate"] == 777
    assert config.effective(b)["mayor_name"] == "綾　花子" and config.effective(b)["fee_entry_certificate"] == 300
    assert CertificateSetting.objects.filter(municipality=a).count() == 2


def test_operator_edits_standard_and_prefecture_tiers(munis, staff, login, a3):
    a, b = munis
    c = login(staff["operator"])
    r = c.get("/platform/certificate-settings/")
    body = r.content.decode()
    assert r.status_code == 200 and "全団体共通（標準）" in body and "大分県" in body and "宮崎県" in body
    assert 'href="/platform/certificate-settings/"' in body  # the nav link
    r = c.post("/platform/certificate-settings/fee_resident_copy/", {"value": "200", "step": "confirm"})
    assert r.status_code == 200 and "200円" in r.content.decode() and not CertificateSetting.objects.exists()
    r = c.post("/platform/certificate-settings/fee_resident_copy/", {"value": "200", "step": "commit"})
    assert r.status_code == 302 and r.url == "/platform/certificate-settings/"
    r = c.get("/platform/certificate-settings/?prefecture=44")
    assert r.status_code == 200 and "大分県（県版）" in r.content.decode()
    url = "/platform/certificate-settings/fee_resident_copy/?prefecture=44"
    r = c.post(url, {"value": "250", "step": "confirm"})
    assert r.status_code == 200 and "250円" in r.content.decode() and "200円" in r.content.decode()
    r = c.post(url, {"value": "250", "step": "commit"})
    assert r.status_code == 302 and r.url == "/platform/certificate-settings/?prefecture=44"
    assert [config.effective(m)["fee_resident_copy"] for m in (a, a3, b)] == [250, 250, 200]
    row = CertificateSetting.objects.get(tier=Tier.PREFECTURE)
    assert row.prefecture.code == "44" and row.set_by == "operator"
    r = c.get("/platform/certificate-settings/fee_resident_copy/clear/?prefecture=44")
    assert r.status_code == 200 and "200円" in r.content.decode()
    r = c.post("/platform/certificate-settings/fee_resident_copy/clear/?prefecture=44", {"step": "commit"})
    assert r.status_code == 302
    assert [config.effective(m)["fee_resident_copy"] for m in (a, a3, b)] == [200, 200, 200]
    assert c.get("/platform/certificate-settings/?prefecture=99").status_code == 404
    assert c.get("/platform/certificate-settings/?prefecture=x1").status_code == 404
    assert len(events("certificate_setting.set")) == 2 and len(events("certificate_setting.clear")) == 1
    assert all(e.chain_key == "platform" for e in events("certificate_setting.set"))


def test_csrf_is_required(munis, staff):
    c = Client(enforce_csrf_checks=True)
    c.force_login(staff["admin_a"])
    r = c.post("/certificates/settings/office_name/", {"value": "x", "step": "commit"})
    assert r.status_code == 403 and not CertificateSetting.objects.exists()
