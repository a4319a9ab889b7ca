"""Names and readings (issue 10, item 5): only characters a registered name may hold, the lengths, katakana
readings — refused with Japanese messages on the confirmation page and the commit alike — and a warning, not a
refusal, when a reading is unlikely for the kanji. Legacy names already stored never block other changes, and the
bulk loaders (standard-layout import, legacy migration) keep names as they come (tests there)."""
import datetime as dt

import pytest
from conftest import INTAKE, client_for, person_values

from jichitai.residents import actions
from jichitai.residents.actions import RuleError
from jichitai.residents.models import Person
from jichitai.residents.name_rules import KANA_MAX, NAME_MAX, name_errors, reading_plausible, reading_warnings

D = dt.date
MOVE_IN = {"family_name": "佐藤", "given_name": "健", "family_name_kana": "サトウ", "given_name_kana": "ケン",
           "birth_date": "1980-01-02", "sex": "1", "address": "隈1番", "previous_address": "福岡県福岡市中央区天神1番",
           "change_date": "2024-04-01", "notification_date": "2024-04-02", **INTAKE}


@pytest.mark.parametrize("name", ["山田", "髙橋", "渡邊", "葛\U000E0102城", "辻\U000E0102", "佐々木", "〆木", "ヶ谷",
                                  "NGUYEN", "VAN AN", "O'BRIEN", "SMITH-JONES", "ｓｍｉｔｈ", "さくら", "マリア・ルイサ"])
def test_registrable_names_pass(name):
    assert name_errors({"family_name": name}) == {}


@pytest.mark.parametrize("name,shown", [("<script>", "「<」、「>」"), ("山田1", "「1」"), ("山田\uE000", "U+E000"),
                                        ("山田😀", "「😀」"), ("山田&", "「&」"), ("a\"b", "「\"」")])
def test_other_characters_are_refused_and_named(name, shown):
    msg = name_errors({"family_name": name})["family_name"][0]
    assert "氏名に使えない文字" in msg and shown in msg


def test_lengths_and_katakana():
    assert name_errors({"family_name": "山" * NAME_MAX, "family_name_kana": "ア" * KANA_MAX}) == {}
    e = name_errors({"family_name": "山" * (NAME_MAX + 1), "given_name_kana": "ア" * 120})
    assert e["family_name"] == [f"氏は{NAME_MAX}文字以内で入力してください（{NAME_MAX + 1}文字）"]
    assert e["given_name_kana"] == [f"名フリガナは{KANA_MAX}文字以内で入力してください（120文字）"]
    # an IVS sequence is one character
    assert name_errors({"family_name": "葛\U000E0102" * NAME_MAX}) == {}
    assert name_errors({"family_name_kana": "やまだ"}) == {}  # hiragana is stored as katakana
    assert name_errors({"family_name_kana": "ヤマダ1"})["family_name_kana"] == ["氏フリガナはカタカナで入力してください"]
    assert name_errors({"alias_name_kana": "YAMADA"})["alias_name_kana"] == ["通称フリガナはカタカナで入力してください"]


@pytest.mark.parametrize("step", ["confirm", "commit"])
def test_script_name_and_long_kana_are_refused_on_confirmation_and_commit(town_a, staff, step):
    c = client_for(staff["clerk_a"])
    r = c.post("/residents/new/move_in/", {**MOVE_IN, "family_name": "<script>", "step": step})
    body = r.content.decode()
    assert r.status_code == 422 and "氏名に使えない文字が含まれています" in body and "&lt;script&gt;" not in body.split(
        "氏名に使えない")[1][:40]
    r = c.post("/residents/new/move_in/", {**MOVE_IN, "family_name_kana": "ア" * 120, "step": step})
    assert r.status_code == 422 and f"氏フリガナは{KANA_MAX}文字以内で入力してください" in r.content.decode()
    from jichitai.tenancy.scope import tenant_scope

    with tenant_scope(town_a.m):
        assert not Person.objects.exists()


def test_actions_refuse_what_the_form_did_not_see(town_a):
    from jichitai.tenancy.scope import tenant_scope

    with tenant_scope(town_a.m):
        for check_only in (True, False):
            with pytest.raises(RuleError) as e:
                actions.register_move_in(town_a.actor(), values=person_values(given_name="太<b>郎"),
                                         change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2),
                                         check_only=check_only)
            assert "given_name" in e.value.errors


def test_unlikely_reading_warns_on_the_confirmation_page_but_registers(town_a, staff):
    c = client_for(staff["clerk_a"])
    data = {**MOVE_IN, "family_name": "山田", "family_name_kana": "スズキ"}
    r = c.post("/residents/new/move_in/", {**data, "step": "confirm"})
    body = r.content.decode()
    assert r.status_code == 200 and "読み「スズキ」は" in body and "登録はできます" in body
    r = c.post("/residents/new/move_in/", {**data, "step": "commit"})
    assert r.status_code == 302
    r = c.post("/residents/new/move_in/", {**MOVE_IN, "family_name": "山田", "family_name_kana": "ヤマダ",
                                           "step": "confirm"})
    assert "確認: " not in r.content.decode()


@pytest.mark.parametrize("name,reading,ok", [
    ("山田", "ヤマダ", True), ("高橋", "タカハシ", True), ("佐々木", "ササキ", True), ("一郎", "イチロウ", True),
    ("翔太", "ショウタ", True), ("花子", "ハナコ", True), ("山田", "スズキ", False), ("田中", "ヤマダ", False),
    ("NGUYEN", "グエン", True), ("さくら", "サクラ", True), ("さくら", "ハナ", False)])
def test_reading_plausibility(name, reading, ok):
    assert reading_plausible(name, reading) is ok
    assert bool(reading_warnings({"given_name": name, "given_name_kana": reading})) is (not ok)


def test_a_legacy_name_never_blocks_another_change(env):
    """A name stored before the rules (legacy data) stays; correcting something else works, correcting the name
    to another bad one does not."""
    Person.objects.filter(pk=env.head.pk).update(family_name="山田①")
    head = env.fresh(env.head)
    actions.correct_person(env.actor(), head, expected_version=head.version, changes={"honseki": "大分県日田市隈2番"},
                           change_date=D(2024, 5, 1), note="本籍の誤記")
    head = env.fresh(env.head)
    with pytest.raises(RuleError, match="氏名に使えない文字"):
        actions.correct_person(env.actor(), head, expected_version=head.version, changes={"family_name": "山田②"},
                               change_date=D(2024, 5, 1), note="氏の誤記")
    actions.correct_person(env.actor(), head, expected_version=head.version, changes={"family_name": "山田"},
                           change_date=D(2024, 5, 1), note="氏の誤記")
    assert env.fresh(env.head).family_name == "山田"


def test_the_standard_layout_import_keeps_a_legacy_name_the_rules_would_refuse(town_a, munis, tmp_path):
    """The bulk loaders carry the register as the source holds it (docs/architecture.md): a name entered before
    the rules is exported and imported unchanged instead of failing the import."""
    from django.core.management import call_command

    from jichitai.tenancy.models import Municipality
    from jichitai.tenancy.scope import tenant_scope

    head, _, _ = town_a.family()
    with tenant_scope(town_a.m):
        Person.objects.filter(pk=head.pk).update(family_name="山田①")
    Municipality.objects.create(code="44206", name="臼杵市", prefecture=town_a.m.prefecture)
    call_command("export", "--municipality", "44204", str(tmp_path / "a"), "--include-protected-addresses")
    call_command("import", str(tmp_path / "a"), "--municipality", "44206")
    with tenant_scope(Municipality.objects.get(code="44206")):
        assert Person.objects.filter(family_name="山田①").count() == 1
