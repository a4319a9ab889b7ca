"""町字 master (issue 10, item 4): the one address normalisation (input and search), the CSV import (confirmation,
all or nothing, line numbers, the command), admins' edits, and addresses validated against the master on every
change form that takes one — on the confirmation page and the commit alike. Free-text addresses keep working."""
import datetime as dt

import pytest
from conftest import INTAKE, audit_events, client_for, person_values
from django.core.management import CommandError, call_command

from jichitai.chouaza import actions as ca
from jichitai.chouaza.models import Chouaza
from jichitai.chouaza.normalize import address_key, kanji_number, kanji_of, numerals
from jichitai.chouaza.queries import match_address
from jichitai.residents import actions
from jichitai.residents.actions import RuleError
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

D = dt.date
CSV = ("町字コード,町字,町字カナ,丁目（から）,丁目（まで）\r\n"
       "0001000,岩井,イワイ,1,3\r\n"
       "0002000,豆田町,マメダマチ,,\r\n"
       "0003000,三本松,サンボンマツ,1,2\r\n"
       "0004000,八幡町,ヤハタマチ,,\r\n").encode("utf-8-sig")


# ---------------------------------------------------------------- one normalisation

@pytest.mark.parametrize("a,b", [("岩井二丁目", "岩井2丁目"), ("岩井２丁目", "岩井2丁目"), ("岩井十二丁目", "岩井12丁目"),
                                 ("豆田町三番地", "豆田町3番地"), ("豆田町3－4", "豆田町3-4"), ("豆田町３ー４", "豆田町3-4"),
                                 ("岩井 二丁目　3番", "岩井2丁目3番"), ("岩井二十三番", "岩井23番")])
def test_kanji_arabic_and_full_width_numerals_are_one_key(a, b):
    assert address_key(a) == address_key(b)


def test_place_names_keep_their_kanji_numerals():
    assert address_key("三本松二丁目") == "三本松2丁目"
    assert address_key("八幡町") == "八幡町" and address_key("一宮町九番地") == "一宮町9番地"
    assert numerals("四日市") == "四日市"


def test_kanji_numbers():
    assert [kanji_number(t) for t in ("三", "十", "十二", "二十", "二十三", "百五", "一〇二", "千")] == \
        [3, 10, 12, 20, 23, 105, 102, 1000]
    assert kanji_number("岩") is None
    assert [kanji_of(n) for n in (1, 10, 12, 20, 23)] == ["一", "十", "十二", "二十", "二十三"]


def test_address_search_finds_either_spelling(town_a, staff):
    head, _, _ = town_a.family(address="岩井二丁目3番4号")
    other, _, _ = town_a.family(family_name="佐藤", kana="サトウ", address="岩井2丁目5番1号")
    c = client_for(staff["clerk_a"])
    for typed in ("岩井2丁目", "岩井二丁目", "岩井２丁目", "岩井 2 丁目"):
        r = c.get("/residents/", {"address": typed})
        found = {v.pk for v in r.context["page"].rows}
        assert head.pk in found and other.pk in found, typed
    r = c.get("/residents/", {"address": "岩井3丁目"})
    assert head.pk not in {v.pk for v in r.context["page"].rows}


# ---------------------------------------------------------------- the CSV import

def _import(town, data=CSV, **kw):
    with tenant_scope(town.m):
        return ca.import_csv(town.user, data, terminal="test", **kw)


def test_import_checks_first_then_writes_everything_with_one_audit_event(town_a):
    plan = _import(town_a, check_only=True)
    assert [r.name for r in plan.added] == ["岩井", "豆田町", "三本松", "八幡町"]
    with tenant_scope(town_a.m):
        assert not Chouaza.objects.exists()
    _import(town_a)
    with tenant_scope(town_a.m):
        rows = {c.code: c for c in Chouaza.objects.all()}
    assert rows["0001000"].chome_from == 1 and rows["0001000"].chome_to == 3 and rows["0002000"].chome_to is None
    assert rows["0001000"].kana == "イワイ"
    assert [e.detail for e in audit_events(town_a.m, action="chouaza.import")] == [
        '{"added":4,"by":"screen","changed":0,"removed":0,"rows":4}']


def test_reimport_shows_what_changes(town_a):
    _import(town_a)
    new = ("町字コード,町字,町字カナ,丁目（から）,丁目（まで）\n"
           "0001000,岩井,イワイ,1,4\n0002000,豆田町,マメダマチ,,\n0005000,隈,クマ,,\n").encode()
    plan = _import(town_a, new, check_only=True)
    assert [r.code for r in plan.added] == ["0005000"]
    assert [(r.code, old.chome_to, r.chome_to) for r, old in plan.changed] == [("0001000", 3, 4)]
    assert [c.name for c in plan.removed] == ["三本松", "八幡町"] and plan.unchanged == 1
    _import(town_a, new)
    with tenant_scope(town_a.m):
        assert sorted(Chouaza.objects.values_list("name", flat=True)) == sorted(["岩井", "豆田町", "隈"])


def test_bad_rows_are_refused_with_their_line_numbers_and_nothing_is_written(town_a):
    _import(town_a)
    bad = ("町字コード,町字,町字カナ,丁目（から）,丁目（まで）\n"
           "0001000,岩井,イワイ,1,3\n"
           ",隈,クマ,,\n"                      # line 3: no code
           "0006000,大山二丁目,オオヤマ,,\n"      # line 4: 丁目 in the name
           "0007000,中城,なかじょう,3,1\n"        # line 5: range reversed (kana in hiragana is fine)
           "0001000,庄手,ショウデ,,\n"            # line 6: duplicate code
           "0008000,<b>,ビー,,\n"                # line 7: symbols
           "0009000,日ノ隈,ヒノクマ,x,\n"        # line 8: not a number
           "0010000,亀山,カメヤマ\n").encode()   # line 9: too few fields
    with pytest.raises(ca.ImportRefused) as e:
        _import(town_a, bad)
    assert [n for n, _ in e.value.lines] == [3, 4, 5, 6, 7, 8, 9]
    assert "重複" in dict(e.value.lines)[6] and "範囲が逆" in dict(e.value.lines)[5]
    with tenant_scope(town_a.m):
        assert Chouaza.objects.count() == 4  # the master as before
    assert len(audit_events(town_a.m, action="chouaza.import")) == 1


@pytest.mark.parametrize("data,message", [(b"", "空"), ("町字,コード\n1,2\n".encode(), "見出し行"),
                                          (b"\x81\x20\x81\x20", "文字コード"),
                                          ("町字コード,町字,町字カナ,丁目（から）,丁目（まで）\n".encode(), "町字の行がありません")])
def test_unreadable_files_are_refused(town_a, data, message):
    with pytest.raises(ca.ImportRefused) as e:
        _import(town_a, data)
    assert message in str(e.value)


def test_cp932_file_is_read(town_a):
    _import(town_a, CSV.decode("utf-8-sig").encode("cp932"))
    with tenant_scope(town_a.m):
        assert Chouaza.objects.filter(name="八幡町").exists()


def test_only_admins_import(town_a, staff):
    with tenant_scope(town_a.m), pytest.raises(RuleError, match="権限"):
        ca.import_csv(staff["clerk_a"], CSV)
    assert client_for(staff["clerk_a"]).get("/chouaza/").status_code == 403


def test_command_imports_and_reports_bad_lines(town_a, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(CSV)
    call_command("chouaza", "import", "--municipality", town_a.m.code, "--dry-run", str(good))
    with tenant_scope(town_a.m):
        assert not Chouaza.objects.exists()
    call_command("chouaza", "import", "--municipality", town_a.m.code, str(good))
    assert "added 4" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("町字コード,町字,町字カナ,丁目（から）,丁目（まで）\n0001000,岩井,イワイ,1,5\n0011000,,,,\n",
                   encoding="utf-8")
    with pytest.raises(CommandError) as e:
        call_command("chouaza", "import", "--municipality", town_a.m.code, str(bad))
    assert "3行目 (line 3)" in str(e.value) and "nothing written" in str(e.value)
    with tenant_scope(town_a.m):
        assert Chouaza.objects.get(code="0001000").chome_to == 3  # unchanged
    with pytest.raises(CommandError, match="no municipality"):
        call_command("chouaza", "import", "--municipality", "99999", str(good))


def test_upload_screen_confirms_then_imports(town_a, staff):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = client_for(staff["admin_a"])
    r = c.post("/chouaza/import/", {"file": SimpleUploadedFile("m.csv", CSV), "step": "check"})
    body = r.content.decode()
    assert r.status_code == 200 and "追加 4件" in body and "三本松" in body and "まだ取り込んでいません" in body
    with tenant_scope(town_a.m):
        assert not Chouaza.objects.exists()
    payload = r.context["payload"]
    r = c.post("/chouaza/import/", {"payload": payload, "step": "commit"})
    assert r.status_code == 302
    assert "八幡町" in c.get("/chouaza/").content.decode()
    bad = SimpleUploadedFile("b.csv", "町字コード,町字,町字カナ,丁目（から）,丁目（まで）\n1,岩井,イワイ,9,1\n".encode())
    r = c.post("/chouaza/import/", {"file": bad, "step": "check"})
    assert r.status_code == 422 and "2行目" in r.content.decode()


def test_admin_edits_and_deletes(town_a, staff):
    _import(town_a)
    c = client_for(staff["admin_a"])
    r = c.post("/chouaza/new/", {"code": "0012000", "name": "隈", "kana": "クマ", "chome_from": "", "chome_to": ""})
    assert r.status_code == 302
    r = c.post("/chouaza/new/", {"code": "0013000", "name": "隈", "kana": "クマ"})
    assert r.status_code == 400 and "既に登録" in r.content.decode()
    with tenant_scope(town_a.m):
        iwai = Chouaza.objects.get(name="岩井")
    r = c.post(f"/chouaza/{iwai.pk}/", {"code": "0001000", "name": "岩井", "kana": "イワイ", "chome_from": "1",
                                        "chome_to": "5"})
    assert r.status_code == 302
    with tenant_scope(town_a.m):
        assert Chouaza.objects.get(pk=iwai.pk).chome_to == 5
    assert c.post(f"/chouaza/{iwai.pk}/", {"delete": "1"}).status_code == 302
    with tenant_scope(town_a.m):
        assert not Chouaza.objects.filter(pk=iwai.pk).exists()
    assert {e.action for e in audit_events(town_a.m, action__startswith="chouaza.")} == {
        "chouaza.import", "chouaza.save", "chouaza.delete"}


# ---------------------------------------------------------------- addresses validated against the master

def _move_in(town, address, **kw):
    with tenant_scope(town.m):
        return actions.register_move_in(town.actor(), values=person_values(address=address, **kw),
                                        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2))


@pytest.mark.parametrize("address,message", [
    ("岩井1", "丁目のある町字"), ("岩井四丁目1番", "4丁目はありません"), ("大字西方1番地", "町字マスタにない町字"),
    ("豆田町二丁目1番", "丁目がありません"), ("豆田町", "番地がありません"), ("豆田町12", "番地・号"),
    ("豆田町3番地の号", "番地・号")])
def test_addresses_outside_the_master_are_refused(town_a, address, message):
    _import(town_a)
    for check_only in (True, False):
        with tenant_scope(town_a.m), pytest.raises(RuleError) as e:
            actions.register_move_in(town_a.actor(), values=person_values(address=address),
                                     change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2),
                                     check_only=check_only)
        assert message in " ".join(e.value.errors["address"])
    with tenant_scope(town_a.m):
        assert not Person.objects.exists()


@pytest.mark.parametrize("address", ["岩井二丁目3番4号", "岩井2丁目3番4号", "岩井２丁目３番４号", "豆田町123番地",
                                     "豆田町12番地3", "豆田町3-4", "八幡町5番地"])
def test_addresses_in_the_master_are_accepted_in_any_numerals(town_a, address):
    _import(town_a)
    p = _move_in(town_a, address)
    assert p.address == address  # stored as typed: the key is what is normalised
    with tenant_scope(town_a.m):
        assert match_address(p.address).chouaza.code in {"0001000", "0002000", "0004000"}


def test_move_within_and_correction_are_checked_and_free_text_addresses_keep_working(env, town_a):
    # the family was registered before the master existed, at a free-text address not in it
    _import(town_a)
    head = env.fresh(env.head)
    with pytest.raises(RuleError, match="町字マスタにない町字"):
        env.move(head, address="中央町1番")()
    with pytest.raises(RuleError, match="丁目"):
        env.move(head, address="岩井9丁目1番")()
    env.move(head, address="岩井三丁目1番2号")()
    # the wife's other changes (no new address) still work with the old text
    wife = env.fresh(env.wife)
    actions.correct_person(env.actor(), wife, expected_version=wife.version, changes={"honseki": "大分県日田市隈1番"},
                           change_date=D(2024, 5, 1), note="本籍の誤記")
    wife = env.fresh(env.wife)
    with pytest.raises(RuleError, match="町字マスタ"):
        actions.correct_person(env.actor(), wife, expected_version=wife.version, changes={"address": "どこか1番"},
                               change_date=D(2024, 5, 1), note="住所の誤記")


def test_without_a_master_addresses_are_free_text(town_a):
    p = _move_in(town_a, "どこでも町1")
    assert p.pk


def test_change_form_takes_chouaza_and_banchi_and_the_confirmation_refuses_like_the_commit(env, town_a, staff):
    _import(town_a)
    c = client_for(staff["clerk_a"])
    head = env.fresh(env.head)
    url = f"/residents/{head.pk}/change/move_within/"
    page = c.get(url).content.decode()
    assert 'name="chouaza"' in page and "岩井二丁目" in page and 'name="banchi"' in page
    data = {"expected_version": head.version, "household_mode": "all", "chouaza": "岩井二丁目", "banchi": "1",
            "change_date": "2024-04-01", "notification_date": "2024-04-02", **INTAKE}
    for step in ("confirm", "commit"):
        r = c.post(url, {**data, "step": step})
        assert r.status_code == 422 and "番地・号の書き方" in r.content.decode(), step
    r = c.post(url, {**data, "banchi": "３番４号", "step": "confirm"})
    assert r.status_code == 200 and "岩井二丁目３番４号" in r.content.decode()
    r = c.post(url, {**data, "banchi": "３番４号", "step": "commit"})
    assert r.status_code == 302
    assert env.fresh(env.head).address == "岩井二丁目３番４号"
    wife = env.fresh(env.wife)
    r = c.post(f"/residents/{wife.pk}/change/move_within/", {
        "step": "confirm", "expected_version": wife.version, "household_mode": "all", "change_date": "2024-04-02",
        "notification_date": "2024-04-02", **INTAKE})
    assert r.status_code == 422 and "町字を選び、番地・号を入力してください" in r.content.decode()


def test_demo_master_matches_every_demo_address(db):
    """The demo towns' 町字 CSV is generated from the towns the demo's addresses are drawn from."""
    from jichitai.demo.bulk import generate_municipality
    from jichitai.demo.lists import seed_chouaza
    from jichitai.tenancy.models import Municipality, Prefecture

    m = Municipality.objects.create(code="44204", name="日田市", prefecture=Prefecture.objects.create(code="44",
                                                                                                    name="大分県"))
    generate_municipality(m, 400, seed=7)
    assert seed_chouaza(m, 400, seed=7) >= 6
    from jichitai.chouaza.validation import address_errors

    with tenant_scope(m):
        addresses = list(Person.objects.values_list("address", flat=True))
        bad = [a for a in addresses if address_errors(a)]
    assert addresses and not bad, bad[:5]
