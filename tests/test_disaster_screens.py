"""The evacuee, safety and dashboard screens in the browser (Django's client): what a clerk sees and can do, with
the DV rule on every page that shows whereabouts."""
import datetime as dt

import pytest
from conftest import audit_events, client_for
from django.utils import timezone

from jichitai.disaster import actions
from jichitai.disaster.models import Evacuee
from jichitai.privacy.policy import WITHHELD
from jichitai.residents import actions as ractions
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope


@pytest.fixture
def scene(town_a, staff):
    head, wife, child = town_a.family()
    u = staff["disaster_a"]
    with tenant_scope(town_a.m):
        p = Person.objects.get(pk=wife.pk)
        ractions.correct_person(town_a.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                                change_date=dt.date(2024, 1, 10), note="支援措置の申出")
        actions.declare_disaster(u, name="令和8年台風第10号", kind="storm",
                                 occurred_at=timezone.now() - dt.timedelta(hours=5))
        s = actions.save_shelter(u, {"code": "S01", "name": "三本松小学校体育館", "kind": "designated",
                                     "address": "三本松二丁目1番1号", "capacity_day": 3, "capacity_night": 2})
        actions.set_shelter_open(u, s.pk, True)
    return type("S", (), {"m": town_a.m, "u": u, "s": s, "head": head, "wife": wife, "child": child})


def quick_post(**lines):
    data = {"place": "S01", "presence": "昼夜", "address": "三本松二丁目3番5号", "contact": "", "place_note": ""}
    for i, line in enumerate(lines.values()):
        for k, v in line.items():
            data[f"l{i}-{k}"] = v
    return data


def test_quick_entry_registers_a_household_as_one_group_and_reports_the_matching(scene, staff):
    c = client_for(scene.u)
    page = c.get("/disaster/quick/").content.decode()
    assert 'name="l0-full_name" value="" size="14" aria-label="1人目 氏名" autofocus' in page
    r = c.post("/disaster/quick/", quick_post(
        a={"full_name": "山田太郎", "kana": "ヤマダタロウ", "birth_text": "S50.4.1", "sex": "男",
           "consent_family": "1"},
        b={"full_name": "山田一郎", "kana": "ヤマダイチロウ", "birth_text": "5歳", "sex": "男"}))
    assert r.status_code == 302
    msg = c.get(r["Location"]).content.decode()
    # the matcher confirms the child written with an age only because he arrived with his father (household context)
    assert "2人を登録しました（自動確定 2、要確認 0、該当なし 0）" in msg
    with tenant_scope(scene.m):
        evs = list(Evacuee.objects.order_by("id"))
        assert len({e.group_key for e in evs}) == 1 and evs[0].group_key
        assert evs[0].consent_family and not evs[1].consent_family
    # a bad line refuses the household, keeps the input, says which line
    r = c.post("/disaster/quick/", quick_post(a={"full_name": "佐藤花子", "birth_text": "令和1年2月1日"},
                                              b={"full_name": "", "kana": "サトウ"}))
    body = r.content.decode()
    assert r.status_code == 400 and "1行目: 生年月日" in body and "2行目: 氏名を入力" in body
    assert 'value="佐藤花子"' in body
    with tenant_scope(scene.m):
        assert Evacuee.objects.count() == 2
    assert c.post("/disaster/quick/", quick_post()).status_code == 400
    assert client_for(staff["clerk_a"]).get("/disaster/quick/").status_code == 403


def test_csv_page_refuses_a_bad_file_with_lines_and_the_review_screen_confirms(scene):
    c = client_for(scene.u)
    bad = "氏名,居所,生年月日\n山田太郎,S01,S50.4.1\n,S01,\n".encode()
    r = c.post("/disaster/import/", {"file": _file(bad)})
    assert r.status_code == 400 and "3行目: 氏名を入力" in r.content.decode()
    good = "氏名,フリガナ,居所,生年月日\n山田一郎,ヤマダイチロウ,S01,\n訪問者,ホウモンシャ,S01,1990\n".encode()
    r = c.post("/disaster/import/", {"file": _file(good)})
    assert r.status_code == 302 and r["Location"] == "/disaster/review/"
    page = c.get("/disaster/review/").content.decode()
    assert "要確認 1人" in page and "山田　一郎" in page and "生年月日の記載なし" in page
    with tenant_scope(scene.m):
        e = Evacuee.objects.get(full_name="山田一郎")
    r = c.post(f"/disaster/review/{e.pk}/", {"decision": "link", "person": scene.child.pk})
    assert r.status_code == 302
    with tenant_scope(scene.m):
        assert Evacuee.objects.get(pk=e.pk).person_id == scene.child.pk
    assert len(audit_events(scene.m, action="disaster.evacuee_link")) == 1
    assert "要確認の避難者はいません" in c.get("/disaster/review/").content.decode()


def _file(data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("list.csv", data, content_type="text/csv")


def test_whereabouts_of_a_protected_evacuee_are_withheld_on_every_page(scene, staff):
    with tenant_scope(scene.m):
        [e], _ = actions.register_evacuees(scene.u, [{"full_name": "山田花子", "kana": "ヤマダハナコ",
                                                      "birth_text": "1977-08-15", "sex": "女", "place": "S01",
                                                      "contact": "090-9999-0000"}])
        # a DV-protected resident is never confirmed by the matcher alone: a person with the right links her
        assert e.person_id is None and e.match_state == "review"
        actions.confirm_match(staff["admin_a"], e.pk, scene.wife.pk)
        e.refresh_from_db()
    assert e.person_id == scene.wife.pk
    c = client_for(scene.u)
    for url in ("/disaster/evacuees/", f"/disaster/evacuees/{e.pk}/"):
        body = c.get(url).content.decode()
        assert "山田花子" in body and WITHHELD in body, url
        assert "090-9999-0000" not in body
    assert "三本松小学校体育館" not in c.get(f"/disaster/evacuees/{e.pk}/").content.decode()
    admin = client_for(staff["admin_a"])  # the DV right
    assert "090-9999-0000" in admin.get(f"/disaster/evacuees/{e.pk}/").content.decode()
    body = c.get("/disaster/safety/unconfirmed/?district=三本松二丁目").content.decode()
    assert "山田　花子" not in body
    # a shelter's list would tell where she is: she is left out of it (and of its count) for staff without the right
    body = c.get(f"/disaster/evacuees/?shelter={scene.s.pk}").content.decode()
    assert "山田花子" not in body and "避難者（0人" in body
    assert "山田花子" in admin.get(f"/disaster/evacuees/?shelter={scene.s.pk}").content.decode()


def test_safety_board_unconfirmed_list_notes_and_dashboard(scene, staff):
    c = client_for(scene.u)
    body = c.get("/disaster/safety/").content.decode()
    assert "三本松二丁目" in body and "（支援措置のため地区を表示しません）" in body
    body = c.get("/disaster/safety/unconfirmed/").content.decode()
    assert "山田　太郎" in body and "3人" in body
    r = c.post("/disaster/safety/note/", {"person": scene.head.pk, "status": "believed_alive",
                                          "text": "電話で確認", "next": "/disaster/safety/unconfirmed/"})
    assert r.status_code == 302 and r["Location"] == "/disaster/safety/unconfirmed/"
    assert "山田　太郎" not in c.get("/disaster/safety/unconfirmed/").content.decode()
    r = c.post("/disaster/safety/note/", {"person": scene.head.pk, "status": "believed_alive", "text": "x",
                                          "next": "https://evil.example/"})
    assert r["Location"] == "/disaster/safety/"
    assert len(audit_events(scene.m, action="disaster.unconfirmed_list")) == 2
    page = c.get("/disaster/dashboard/").content.decode()
    assert page.count("<svg") == 2 and "確認済み 1人" in page and "三本松小学校" in page
    assert "http://" not in page.split("<svg", 1)[1].replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert client_for(staff["viewer_a"]).get("/disaster/safety/").status_code == 403


def test_every_entry_screen_focuses_one_field_and_a_stray_enter_never_confirms_a_match(scene):
    import re

    c = client_for(scene.u)
    with tenant_scope(scene.m):
        [e], _ = actions.register_evacuees(scene.u, [{"full_name": "山田一郎", "place": "S01"}])
    assert e.match_state == "review"
    for url in ("/disaster/evacuees/", "/disaster/quick/", "/disaster/import/", "/disaster/review/",
                "/disaster/safety/unconfirmed/", "/disaster/grants/", "/disaster/pfif/import/", "/disaster/inquiry/",
                f"/disaster/evacuees/{e.pk}/"):
        body = c.get(url).content.decode()
        focused = re.findall(r"<(?:input|select|textarea|button)[^>]*\bautofocus\b[^>]*>", body)
        assert len(focused) == 1, (url, focused)
    body = c.get("/disaster/review/").content.decode()
    form = body.split(f'action="/disaster/review/{e.pk}/"')[1]
    first_button = re.search(r"<button[^>]*>", form).group(0)
    assert 'value="skip"' in first_button  # Enter on a candidate submits this one
    c.post(f"/disaster/review/{e.pk}/", {"person": scene.child.pk, "decision": "skip"})
    with tenant_scope(scene.m):
        assert Evacuee.objects.get(pk=e.pk).person_id is None
    assert not audit_events(scene.m, action="disaster.evacuee_link")


def test_an_inquiry_is_answered_only_within_the_evacuees_consent_and_never_about_a_protected_person(scene):
    with tenant_scope(scene.m):
        actions.register_evacuees(scene.u, [
            {"full_name": "佐藤　一郎", "kana": "サトウイチロウ", "place": "S01", "consent_family": "はい",
             "injury": "足を骨折"},
            {"full_name": "山田花子", "kana": "ヤマダハナコ", "birth_text": "1977-08-15", "sex": "女", "place": "S01",
             "consent_family": "はい", "consent_acquaintance": "はい", "consent_public": "はい"}])  # protected
    c = client_for(scene.u)
    ask = lambda name, who: c.post("/disaster/inquiry/", {"name": name, "inquirer": who,  # noqa: E731
                                                         "inquirer_name": "佐藤次郎 090-0000-0000"}).content.decode()
    body = ask("佐藤一郎", "family")
    assert "避難されています（三本松小学校体育館" in body and "足を骨折" in body
    body = ask("さとう いちろう", "acquaintance")
    assert "回答への同意がないため" in body and "三本松" not in body.split("回答</h2>")[1]
    for who in ("family", "acquaintance", "public"):
        body = ask("山田花子", who)
        assert "該当する避難者の情報は見つかりません" in body and "同意" not in body.split("回答</h2>")[1]
    assert len(audit_events(scene.m, action="disaster.inquiry")) == 5
    r = c.post("/disaster/inquiry/", {"name": "佐藤一郎", "inquirer": "family", "inquirer_name": "x",
                                      "birth": "2月30日"})
    assert r.status_code == 400
