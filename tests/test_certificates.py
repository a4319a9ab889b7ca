"""Certificates: every kind and option produced from residents made through the actions, read back from the PDF's
text layer; the IVS glyph check; DV refusal; void and reprint; tiered settings changing the output; the screens."""
import datetime as dt
import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from jichitai.audit.models import AuditEvent
from jichitai.certificates import actions, config, signing
from jichitai.certificates.actions import CertificateRequest
from jichitai.certificates.models import Issuance, IssuanceStatus, Kind, Layout, RequesterKind, Tier
from jichitai.common.fonts import font_path
from jichitai.residents import actions as ra
from jichitai.residents.actions import RuleError
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

from conftest import person_values

pytestmark = [pytest.mark.skipif(font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None,
                                reason="IPAmj明朝 / IPAex明朝 not installed (make fonts)"),
              pytest.mark.usefixtures("signed_certificates")]  # issuing needs the mayor's name and seal

KATSURAGI = "葛\U000E0102城"      # 葛 with the Moji_Joho IVS E0102: a variant glyph (IPAmj draws bare 葛 as E0103)
TSUJI = "辻\U000E0102"


def pages_text(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def text(pdf: bytes) -> str:
    return "\n".join(pages_text(pdf))


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def req(persons, kind=Kind.RESIDENT_COPY, **kw):
    kw.setdefault("requester_kind", RequesterKind.SELF)
    return CertificateRequest(kind=kind, person_ids=[p.pk for p in persons], **kw)


@pytest.fixture
def ivs_family(env):
    """A family whose head has IVS characters in both names, plus the env family."""
    head = ra.register_move_in(env.actor(), values=person_values(
        family_name=KATSURAGI, given_name=f"{TSUJI}郎", family_name_kana="カツラギ", given_name_kana="ツジロウ",
        hittosha=f"{KATSURAGI}　{TSUJI}郎", address="大字西方1234番地"),
        change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
    return head


def issue(env, persons, **kw):
    return actions.issue_certificate(env.clerk, req(persons, **kw), terminal="test")


# ---------------------------------------------------------------- kinds and options, read back

def test_resident_copy_individual_prints_registered_items_and_attestation(env, ivs_family):
    out = issue(env, [ivs_family], options={"head_relationship": True, "honseki": True})
    t = text(out.pdf)
    assert KATSURAGI in t and f"{TSUJI}郎" in t, "names read back with their IVS selectors"
    s = squash(t)
    assert "住民票の写し" in s
    assert "大分県日田市大字西方1234番地" in s
    assert "昭和50年4月1日" in s                       # 生年月日 in 和暦
    assert "大分県日田市三本松二丁目3番" in s            # 本籍 printed when asked
    assert "この写しは、住民票の原本と相違ないことを証明する。" in s
    assert "日田市長" in s                              # builtin {団体名}長
    assert f"発行番号{out.issuance.issue_no}" in s
    assert "1/1" in s
    assert "記載を省略した事項：住民票コード、個人番号" in s
    assert ivs_family.resident_code not in s
    iss = Issuance.objects.get(pk=out.issuance.pk)
    assert iss.page_count == 1 and iss.pdf_sha256 == hashlib.sha256(out.pdf).hexdigest()
    assert iss.fee == 300 and iss.status == IssuanceStatus.ISSUED


def test_omitting_head_relationship_and_honseki_prints_shoryaku(env):
    out = issue(env, [env.wife], options={})
    s = squash(text(out.pdf))
    assert "本籍・筆頭者省略" in s and "続柄省略" in s and "世帯主省略" in s
    assert "本籍大分県" not in s and "筆頭者山田" not in s
    assert "記載を省略した事項：世帯主・続柄、本籍・筆頭者、住民票コード、個人番号" in s


def test_resident_code_and_individual_number_when_permitted(env):
    head = env.fresh(env.head)
    out = issue(env, [head], options={"resident_code": True, "individual_number": True},
                requester_kind=RequesterKind.SAME_HOUSEHOLD, requester_name="山田　花子")
    s = squash(text(out.pdf))
    assert head.resident_code in s
    if head.individual_number:
        assert head.individual_number in s
    assert "記載を省略した事項" in s and "個人番号" in s


@pytest.mark.parametrize("requester", [RequesterKind.AGENT, RequesterKind.THIRD_PARTY, RequesterKind.OFFICIAL])
def test_individual_number_only_for_self_or_household(env, requester):
    with pytest.raises(RuleError) as e:
        issue(env, [env.head], options={"individual_number": True}, requester_kind=requester,
              requester_name="代理　人", purpose="手続のため")
    assert "個人番号" in str(e.value)
    assert not Issuance.objects.exists()


def test_third_party_cannot_get_honseki_or_resident_code_and_must_say_who_and_why(env):
    with pytest.raises(RuleError) as e:
        issue(env, [env.head], options={"honseki": True}, requester_kind=RequesterKind.THIRD_PARTY)
    assert set(e.value.errors) >= {"honseki", "requester_name", "purpose"}
    assert not Issuance.objects.exists()


def test_household_layout_with_continuation_pages(env):
    config.set_setting(env.clerk.__class__.objects.get(username="admin-a"), "household_rows_per_page", "2",
                       tier=Tier.MUNICIPALITY, municipality=env.m)
    members = [env.fresh(env.head), env.fresh(env.wife), env.fresh(env.child)]
    out = issue(env, members, layout=Layout.HOUSEHOLD, options={"head_relationship": True})
    pages = [squash(p) for p in pages_text(out.pdf)]
    assert len(pages) == 2 and out.issuance.page_count == 2
    assert "1/2" in pages[0] and "2/2" in pages[1]
    assert "（続き）" in pages[1]
    assert "証明する" not in pages[0] and "この写しは、住民票の原本と相違ないことを証明する。" in pages[1]
    assert "山田太郎" in pages[0] and "山田花子" in pages[0] and "山田一郎" in pages[1]
    assert pages[0].count("世帯主山田太郎") == 1                 # header names the head once per page
    assert "妻" in pages[0] and "子" in pages[1]


def test_household_layout_refuses_people_of_two_households(env, town_a):
    other = ra.register_move_in(env.actor(), values=person_values(family_name="佐藤", family_name_kana="サトウ"),
                                change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
    with pytest.raises(RuleError, match="同じ世帯"):
        issue(env, [env.head, other], layout=Layout.HOUSEHOLD)


def test_history_option_lists_the_changes(env):
    # 前住所 after a 転入, as given (before the household's 転居 below)
    w = squash(text(issue(env, [env.fresh(env.wife)]).pdf))
    assert "前住所福岡県福岡市中央区天神一丁目1番1号" in w and "日田市福岡県" not in w
    env.move(env.head)()
    out = issue(env, [env.fresh(env.head)], options={"history": True})
    s = squash(text(out.pdf))
    assert "異動の履歴" in s and "転入" in s and "転居" in s and "住所大分県日田市豆田町5番1号" in s
    assert "令和6年4月1日" in s
    # 前住所 after a 転居 is in this town: printed with the prefecture and municipality
    assert "前住所大分県日田市三本松二丁目3番5号" in s
    # only items the certificate prints are named: not the latest 届出日, not 世帯番号, not flags
    assert "届出日" not in s.split("異動の履歴")[1].split("この写しは")[0].replace("届出年月日", "")


def test_removed_copy_and_move_out_certificate(env):
    wife = env.fresh(env.wife)
    ra.register_move_out(env.actor(), wife, expected_version=wife.version, destination="福岡県福岡市博多区1-1",
                         planned_date=dt.date.today() + dt.timedelta(days=3), notification_date=dt.date.today())
    wife = env.fresh(env.wife)
    with pytest.raises(RuleError, match="除票の写し"):
        issue(env, [wife])
    moved = issue(env, [wife], kind=Kind.MOVE_OUT_CERTIFICATE)
    s = squash(text(moved.pdf))
    assert "転出証明書" in s and "福岡県福岡市博多区1-1" in s and "転出の届出をしたことを証明する" in s
    assert moved.issuance.fee == 0
    removed = issue(env, [wife], kind=Kind.REMOVED_COPY)
    s = squash(text(removed.pdf))
    assert "除票の写し" in s and "消除事由転出" in s and "除票の原本と相違ない" in s
    with pytest.raises(RuleError, match="除票ではありません"):
        issue(env, [env.head], kind=Kind.REMOVED_COPY)
    with pytest.raises(RuleError, match="転出の届出がありません"):
        issue(env, [env.head], kind=Kind.MOVE_OUT_CERTIFICATE)


def test_entry_certificate_prints_only_chosen_items(env):
    out = issue(env, [env.head], kind=Kind.ENTRY_CERTIFICATE, options={"head_relationship": False})
    s = squash(text(out.pdf))
    assert "住民票記載事項証明書" in s and "上記のとおり住民票に記載されていることを証明する。" in s
    assert "山田太郎" in s and "昭和50年4月1日" in s
    assert "省略" not in s and "続柄" not in s and "住民票コード" not in s


def test_foreign_resident_items(env):
    p = ra.register_move_in(env.actor(), values=person_values(
        family_name="SMITH", given_name="JOHN", family_name_kana="スミス", given_name_kana="ジョン", honseki="",
        hittosha="", is_foreign=True, nationality="アメリカ合衆国", foreign_category="中長期在留者",
        residence_status="技術・人文知識・国際業務", period_of_stay="3年", stay_expiry=dt.date(2027, 3, 31),
        residence_card_no="AB12345678CD", alias_name=""),
        change_date=dt.date(2024, 4, 1), notification_date=dt.date(2024, 4, 3))
    s = squash(text(issue(env, [p], options={"honseki": True, "foreign_items": True}).pdf))
    assert "国籍・地域アメリカ合衆国" in s and "在留資格技術・人文知識・国際業務" in s and "AB12345678CD" in s
    assert "本籍" not in s
    # not asked for: omitted like 本籍 for a national, and a third party cannot ask for them
    s = squash(text(issue(env, [p]).pdf))
    assert "国籍・地域、在留資格等省略" in s and "AB12345678CD" not in s and "アメリカ合衆国" not in s
    with pytest.raises(RuleError, match="国籍"):
        issue(env, [p], options={"foreign_items": True}, requester_kind=RequesterKind.THIRD_PARTY,
              requester_name="某社", purpose="確認")


# ---------------------------------------------------------------- the IVS glyph, not the base glyph

def _outline(font, glyph_name):
    glyf = font["glyf"]
    coords, ends, flags = glyf[glyph_name].getCoordinates(glyf)
    return [tuple(c) for c in coords], list(ends)


def test_ivs_name_uses_the_variant_glyph_and_reads_back(env, ivs_family):
    from fontTools.ttLib import TTFont

    out = issue(env, [ivs_family])
    reader = PdfReader(io.BytesIO(out.pdf))
    page = reader.pages[0]
    mj_fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()
                if "IPAmjMincho" in str(f.get_object()["/BaseFont"])]
    assert mj_fonts, "names are set in IPAmj明朝"
    original = TTFont(str(font_path("ipamjm.ttf")), lazy=True)
    uvs = original["cmap"].getcmap(0, 5).uvsDict[0xE0102]
    variant_name = dict(uvs)[0x845B] or original.getBestCmap()[0x845B]
    base_name = original.getBestCmap()[0x845B]
    assert _outline(original, variant_name) != _outline(original, base_name), "test premise: the glyphs differ"

    found = False
    for font in mj_fonts:
        cid_font = font["/DescendantFonts"][0].get_object()
        cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
        cid = None
        for m in re.finditer(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", cmap):
            u = bytes.fromhex(m.group(2)).decode("utf-16-be", "replace")
            if u == "葛\U000E0102":
                cid = int(m.group(1), 16)
        if cid is None:
            continue
        gid_map = cid_font.get("/CIDToGIDMap")
        if gid_map is not None and gid_map != "/Identity":
            data = gid_map.get_object().get_data()
            gid = int.from_bytes(data[2 * cid:2 * cid + 2], "big")
        else:
            gid = cid
        sub = TTFont(io.BytesIO(cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()))
        used = _outline(sub, sub.getGlyphOrder()[gid])
        assert used == _outline(original, variant_name), "the embedded glyph is the IVS variant"
        assert used != _outline(original, base_name), "…not the base 葛"
        found = True
    assert found, "the text layer maps a glyph back to 葛+U+E0102"


# ---------------------------------------------------------------- DV refusal

def test_third_party_request_for_dv_protected_person_is_refused_and_logged(env):
    wife = env.fresh(env.wife)
    ra.correct_person(env.actor(), wife, expected_version=wife.version, changes={"dv_protected": True},
                      change_date=dt.date.today(), note="支援措置の申出")
    out = issue(env, [env.fresh(env.wife)], requester_kind=RequesterKind.THIRD_PARTY, requester_name="債権回収株式会社",
                purpose="債権回収")
    assert out.refused and out.pdf is None and "DV" in out.message
    iss = Issuance.objects.get(pk=out.issuance.pk)
    assert iss.status == IssuanceStatus.REFUSED and iss.issue_no == "" and iss.fee == 0
    assert iss.requester_name == "債権回収株式会社"
    ev = AuditEvent.objects.filter(action="certificate.refuse").get()
    assert ev.object_id == str(iss.pk)
    # the household layout with a protected member is refused too; the person herself still gets hers
    out2 = issue(env, [env.fresh(env.head), env.fresh(env.wife)], layout=Layout.HOUSEHOLD,
                 requester_kind=RequesterKind.THIRD_PARTY, requester_name="某", purpose="某")
    assert out2.refused
    # the person herself gets hers — from staff who may see protected addresses (the certificate prints it)
    with pytest.raises(RuleError, match="支援措置対象者の住所を閲覧できる職員"):
        issue(env, [env.fresh(env.wife)], requester_kind=RequesterKind.SELF)
    admin = env.clerk.__class__.objects.get(username="admin-a")
    ok = actions.issue_certificate(admin, req([env.fresh(env.wife)]), terminal="test")
    assert not ok.refused and ok.pdf.startswith(b"%PDF")


def test_reprint_for_a_third_party_after_protection_began_is_refused(env, staff):
    out = issue(env, [env.head], requester_kind=RequesterKind.THIRD_PARTY, requester_name="某社", purpose="契約")
    head = env.fresh(env.head)
    ra.correct_person(env.actor(), head, expected_version=head.version, changes={"dv_protected": True},
                      change_date=dt.date.today(), note="支援措置の申出")
    again = actions.reprint(staff["admin_a"], out.issuance, reason="紙詰まり")
    assert again.refused and again.pdf is None
    assert Issuance.objects.get(pk=out.issuance.pk).status == IssuanceStatus.ISSUED  # the original is not voided


def test_removed_head_is_printed_as_his_own_head(env):
    head = env.fresh(env.head)
    ra.register_death(env.actor(), head, expected_version=head.version, death_date=dt.date(2024, 5, 1),
                      notification_date=dt.date(2024, 5, 2), new_head=env.fresh(env.wife))
    s = squash(text(issue(env, [env.fresh(env.head)], kind=Kind.REMOVED_COPY,
                          options={"head_relationship": True}).pdf))
    assert "世帯主山田太郎" in s and "世帯主山田花子" not in s


# ---------------------------------------------------------------- void and reprint

def test_void_requires_reason_and_makes_the_code_invalid(env):
    out = issue(env, [env.head])
    code = signing.make_code(out.issuance)
    assert signing.check_code(code).is_valid
    with pytest.raises(RuleError, match="理由"):
        actions.void_issuance(env.clerk, out.issuance, reason="  ")
    actions.void_issuance(env.clerk, out.issuance, reason="記載誤りの申出")
    iss = Issuance.objects.get(pk=out.issuance.pk)
    assert iss.status == IssuanceStatus.VOIDED and iss.void_reason == "記載誤りの申出" and iss.voided_by == env.clerk
    assert not signing.check_code(code).is_valid
    with pytest.raises(RuleError, match="取り消せません"):
        actions.void_issuance(env.clerk, iss, reason="二度目")
    assert AuditEvent.objects.filter(action="certificate.void").count() == 1


def test_clerk_may_void_only_own_issuance_of_the_day(env, staff):
    other_clerk = staff["clerk_a"].__class__.objects.create(username="clerk-a2", role="clerk", municipality=env.m)
    out = issue(env, [env.head])
    with pytest.raises(RuleError, match="権限"):
        actions.void_issuance(other_clerk, out.issuance, reason="誤り")
    actions.void_issuance(staff["admin_a"], out.issuance, reason="管理者による取消")


def test_reprint_voids_original_and_issues_new_number_without_fee(env):
    out = issue(env, [env.head], options={"honseki": True})
    again = actions.reprint(env.clerk, out.issuance, reason="プリンタの紙詰まり")
    original = Issuance.objects.get(pk=out.issuance.pk)
    new = Issuance.objects.get(pk=again.issuance.pk)
    assert original.status == IssuanceStatus.VOIDED and "紙詰まり" in original.void_reason
    assert new.reprint_of_id == original.pk and new.issue_no != original.issue_no and new.fee == 0
    assert new.options == original.options and new.status == IssuanceStatus.ISSUED
    assert f"発行番号{new.issue_no}" in squash(text(again.pdf))
    with pytest.raises(RuleError, match="発行済み"):
        actions.reprint(env.clerk, original, reason="再度")


def test_issue_numbers_are_sequential_and_per_municipality(env, town_b, staff):
    a1, a2 = issue(env, [env.head]), issue(env, [env.wife])
    assert int(a2.issuance.issue_no) == int(a1.issuance.issue_no) + 1
    head_b, _, _ = town_b.family()
    with tenant_scope(town_b.m):
        b1 = actions.issue_certificate(staff["clerk_b"], req([head_b]))
    assert b1.issuance.issue_no == a1.issuance.issue_no


def test_another_municipalitys_person_is_not_found(env, town_b):
    head_b, _, _ = town_b.family()
    with pytest.raises(RuleError, match="見つかりません"):
        issue(env, [head_b])


def test_viewer_cannot_issue(env, staff):
    with pytest.raises(RuleError, match="権限"):
        actions.issue_certificate(staff["viewer_a"], req([env.head]))


# ---------------------------------------------------------------- settings at three tiers change the output

def test_three_tiers_change_the_certificate_without_code(env, staff, munis):
    operator, admin = staff["operator"], staff["admin_a"]
    config.clear_setting(admin, "mayor_name", tier=Tier.MUNICIPALITY, municipality=env.m)  # the fixture's 個別 name
    config.set_setting(operator, "mayor_name", "標準　太郎", tier=Tier.STANDARD)
    config.set_setting(operator, "fee_resident_copy", "350", tier=Tier.STANDARD)
    s = squash(text(issue(env, [env.head]).pdf))
    assert "日田市長標準太郎" in s
    config.set_setting(operator, "attestation_resident_copy", "{都道府県名}版の認証文である。",
                       tier=Tier.PREFECTURE, prefecture=env.m.prefecture)
    config.set_setting(admin, "mayor_name", "個別　花子", tier=Tier.MUNICIPALITY, municipality=env.m)
    config.set_setting(admin, "mayor_title", "{団体名}長職務代理者", tier=Tier.MUNICIPALITY, municipality=env.m)
    out = issue(env, [env.head])
    s = squash(text(out.pdf))
    assert "大分県版の認証文である。" in s and "日田市長職務代理者個別花子" in s
    assert out.issuance.fee == 350
    config.clear_setting(admin, "mayor_name", tier=Tier.MUNICIPALITY, municipality=env.m)
    assert "標準太郎" in squash(text(issue(env, [env.head]).pdf))


def test_uploaded_seal_image_is_used(env, staff):
    import base64

    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" '
           'fill="red"/></svg>')
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    before = issue(env, [env.head]).pdf
    config.set_setting(staff["admin_a"], "seal_image", uri, tier=Tier.MUNICIPALITY, municipality=env.m)
    after = issue(env, [env.head]).pdf
    images = lambda pdf: len(PdfReader(io.BytesIO(pdf)).pages[0].images)  # noqa: E731
    assert images(before) == 2                        # the QR code and the standard seal (a PNG) …
    assert images(after) == 1                         # … whose place the uploaded SVG seal (vector) takes


# ---------------------------------------------------------------- screens

def test_issue_screen_confirms_before_issuing_then_returns_the_pdf(env, login, staff):
    c = login(staff["clerk_a"])
    url = f"/residents/{env.head.pk}/certificate/"
    r = c.get(url)
    assert r.status_code == 200 and "証明書の発行" in r.content.decode()
    data = {"kind": "resident_copy", "layout": "individual", "person_ids": [env.head.pk], "head_relationship": "on",
            "requester_kind": "self", "copies": "2", "step": "confirm"}
    r = c.post(url, data)
    body = r.content.decode()
    assert r.status_code == 200 and "600円" in body and "まだ発行されていません" in body
    assert not Issuance.objects.exists()
    token = re.search(r'name="token" value="([^"]+)"', body).group(1)
    r = c.post(url, {**data, "step": "commit", "token": token})
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    # the same confirmation page submitted again (double click, back and resubmit): no second certificate or fee
    again = c.post(url, {**data, "step": "commit", "token": token})
    assert again.status_code == 302 and Issuance.objects.count() == 1
    assert "既に処理済み" in c.get(again["Location"]).content.decode()
    iss = Issuance.objects.get()
    assert iss.copies == 2 and iss.fee == 600
    assert c.get("/certificates/").status_code == 200
    body = c.get(f"/certificates/{iss.pk}/").content.decode()
    assert iss.issue_no in body
    code = signing.make_code(iss)
    assert f"/verify/{code}" in body                   # staff can hand the verification code on
    assert "有効" in c.get(f"/verify/{code}").content.decode()


def test_issue_screen_shows_errors_in_japanese(env, login, staff):
    c = login(staff["clerk_a"])
    r = c.post(f"/residents/{env.head.pk}/certificate/", {
        "kind": "resident_copy", "layout": "individual", "person_ids": [env.head.pk], "requester_kind": "third_party",
        "copies": "1", "individual_number": "on", "step": "confirm"})
    body = r.content.decode()
    assert "個人番号の記載は、本人または同一世帯の方の請求に限られます" in body
    assert "使用目的を入力してください" in body
    assert not Issuance.objects.exists()


def test_void_screen_confirms_first(env, login, staff):
    out = issue(env, [env.head])
    c = login(staff["clerk_a"])
    r = c.post(f"/certificates/{out.issuance.pk}/void/", {"reason": "誤発行", "step": "confirm"})
    assert "まだ処理していません" in r.content.decode()
    assert Issuance.objects.get(pk=out.issuance.pk).status == IssuanceStatus.ISSUED
    c.post(f"/certificates/{out.issuance.pk}/void/", {"reason": "誤発行", "step": "commit"})
    assert Issuance.objects.get(pk=out.issuance.pk).status == IssuanceStatus.VOIDED
    r = c.post(f"/certificates/{out.issuance.pk}/reprint/", {"reason": "再", "step": "commit"})
    assert r.status_code == 400 and "発行済みの証明書だけが再発行できます" in r.content.decode()


def test_other_municipality_cannot_see_or_void(env, login, staff):
    out = issue(env, [env.head])
    c = login(staff["admin_b"])
    assert c.get(f"/certificates/{out.issuance.pk}/").status_code == 404
    assert c.post(f"/certificates/{out.issuance.pk}/void/", {"reason": "x", "step": "commit"}).status_code == 404
    assert c.get(f"/residents/{env.head.pk}/certificate/").status_code == 404
    assert Issuance.objects.get(pk=out.issuance.pk).status == IssuanceStatus.ISSUED


def test_reprint_screen_shows_the_refusal(env, login, staff):
    out = issue(env, [env.head], requester_kind=RequesterKind.THIRD_PARTY, requester_name="某社", purpose="契約")
    head = env.fresh(env.head)
    ra.correct_person(env.actor(), head, expected_version=head.version, changes={"dv_protected": True},
                      change_date=dt.date.today(), note="支援措置の申出")
    r = login(staff["admin_a"]).post(f"/certificates/{out.issuance.pk}/reprint/", {"reason": "紙詰まり",
                                                                                   "step": "commit"})
    assert r.status_code == 403 and "DV" in r.content.decode()
    assert Issuance.objects.filter(status=IssuanceStatus.REFUSED).count() == 1
