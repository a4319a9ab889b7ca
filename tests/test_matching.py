"""Matching evacuees to the register (issue 12 item 3): explanations, input forms, decisions, duplicates, DV rules,
the index kept up to date by the register's own write paths, and the `disaster match` command."""
import csv
import datetime as dt
import json
import os  # noqa: F401 (the skipif condition)
import random

import pytest
from django.core.management import CommandError, call_command

from jichitai.matching import api
from jichitai.matching.parse import parse_birth
from jichitai.privacy import policy
from jichitai.residents import actions
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

from conftest import person_values

TODAY = dt.date(2026, 12, 1)


def match(m, rows, user, **kw):
    return api.match_rows(m, rows, reader=policy.for_staff(user), today=TODAY, **kw)


def one(m, user, **row):
    return match(m, [row], user)[0]


def lone(town, **values):
    """A resident living alone (a new household), made through the actions."""
    with tenant_scope(town.m):
        return actions.register_move_in(town.actor(), values=person_values(**values),
                                        change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))


def reasons(res, i=0):
    return res.candidates[i].reasons


@pytest.fixture
def fam(town_a):
    """山田 太郎 (1975-04-01, 三本松二丁目3番5号), 花子 (1977-08-15), 一郎 (2021-06-10) in 日田市."""
    return town_a.family()


# ---------------------------------------------------------------- explanations for each kind of evidence

def test_exact_name_birth_and_address_is_auto_confirmed_with_every_reason(town_a, staff, fam):
    head = fam[0]
    res = one(town_a.m, staff["clerk_a"], name="山田 太郎", kana="ヤマダ タロウ", birth="1975-04-01", sex="男",
              address="日田市三本松2丁目3番5号", evacuee_id="E1")
    assert res.decision == api.AUTO and res.evacuee_id == "E1"
    top = res.top
    assert (top.person_id, top.atena_no, top.resident_code) == (head.pk, head.atena_no, head.resident_code)
    assert "氏名が一致（登録どおり）" in top.reasons
    assert "フリガナが一致" in top.reasons
    assert "生年月日が完全一致" in top.reasons
    assert "性別が一致" in top.reasons
    assert "住所が一致" in top.reasons  # 2丁目3番5号 = 二丁目3番5号, the municipality's name dropped


def test_variant_kanji_layer_is_named(town_a, staff):
    town_a.family(family_name="渡邊", kana="ワタナベ")
    res = one(town_a.m, staff["clerk_a"], name="渡辺太郎", kana="", birth="S50.4.1")
    assert res.decision == api.AUTO
    assert "氏名が一致（MJ縮退で同じ字: 髙=高 など）" in reasons(res)  # 邊 → 辺
    assert "生年月日が完全一致" in reasons(res)  # 和暦


def test_swapped_order_and_hiragana_half_width_kana(town_a, staff, fam):
    res = one(town_a.m, staff["clerk_a"], name="太郎　山田", kana="ﾀﾛｳ ﾔﾏﾀﾞ", birth="昭和50年4月1日")
    assert res.top.person_id == fam[0].pk
    assert "氏名が一致（登録どおり）（氏と名が逆の順）" in reasons(res)
    assert "フリガナが一致（氏と名が逆の順）" in reasons(res)
    res = one(town_a.m, staff["clerk_a"], name="やまだ たろー", kana="", birth="1975/4/1")
    assert res.top.person_id == fam[0].pk and res.decision == api.AUTO
    assert "フリガナがゆるく一致（長音・小書き・濁点の違い）" in reasons(res)


def test_kana_typo_and_another_reading(town_a, staff, fam):
    res = one(town_a.m, staff["clerk_a"], name="ヤマダ タロオ", birth="1975-04-01")
    assert res.top.person_id == fam[0].pk  # タロオ folds to タロウ
    res = one(town_a.m, staff["clerk_a"], name="ヤマダ タロワ", birth="1975-04-01")
    assert res.top.person_id == fam[0].pk
    assert "フリガナが1文字違い（書き誤りの可能性）" in reasons(res)
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", kana="ヤマダ タカオ", birth="1975-04-01")
    assert "氏のフリガナのみ一致（ほかは別の読みの可能性）" in reasons(res)
    assert res.decision == api.AUTO
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", kana="サンダ タカオ", birth="1975-04-01")
    assert "フリガナは一致しません（同じ漢字の別の読みの可能性）" in reasons(res)
    assert res.decision == api.AUTO


@pytest.mark.parametrize("birth,reason", [
    ("1975-04-02", "生年月日が一部一致（日が1日違い）"),
    ("1975-05-01", "生年月日が一部一致（月が1か月違い）"),
    ("1975-01-04", "生年月日が一部一致（日と月が入れ替わり）"),
    ("S51.4.1", "生年月日が一部一致（年が1年違い（和暦の年の書き誤りなど））"),
    ("1975年4月", "生年月が一致（日の記載なし）"),
    ("昭和50年", "生年が一致（年のみの記載）"),
    ("51歳", "年齢（51歳）と整合（51歳）"),
    ("50代", "年齢（50代）と整合（51歳）"),
    ("", "生年月日の記載なし"),
])
def test_each_birth_form_is_explained(town_a, staff, fam, birth, reason):
    res = one(town_a.m, staff["clerk_a"], name="山田 太郎", kana="ヤマダ タロウ", birth=birth)
    assert res.top.person_id == fam[0].pk
    assert reason in reasons(res)


def test_conflicting_birth_and_wrong_sex_lower_the_score(town_a, staff, fam):
    good = one(town_a.m, staff["clerk_a"], name="山田 太郎", birth="1975-04-01", sex="男")
    bad = one(town_a.m, staff["clerk_a"], name="山田 太郎", birth="1990-10-20", sex="女")
    assert "生年月日が一致しません" in reasons(bad) and "性別が一致しません" in reasons(bad)
    assert bad.top.score < good.top.score - 8
    assert bad.decision != api.AUTO


def test_married_name_found_by_given_name_and_birth(town_a, staff, fam):
    res = one(town_a.m, staff["clerk_a"], name="佐藤 花子", kana="サトウ ハナコ", birth="1977-08-15")
    assert res.top.person_id == fam[1].pk
    assert "名のみ一致（氏が違う: 婚姻などによる変更の可能性）" in reasons(res)


def test_former_family_name(town_a, staff):
    with tenant_scope(town_a.m):
        p = actions.register_move_in(town_a.actor(), values=person_values(
            family_name="中村", family_name_kana="ナカムラ", given_name="由美", given_name_kana="ユミ", sex="2",
            birth_date=dt.date(1980, 2, 2), former_family_name="森", former_family_name_kana="モリ"),
            change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
    res = one(town_a.m, staff["clerk_a"], name="森 由美", birth="1980-02-02")
    assert res.top.person_id == p.pk and "旧氏と名が一致（旧氏で記載）" in reasons(res)


def test_parse_birth_forms():
    assert parse_birth("72歳", TODAY).kind == "age"
    b = parse_birth("70代後半", TODAY)
    assert (b.kind, b.age_lo, b.age_hi) == ("decade", 75, 79)
    assert parse_birth("H1.2.3", TODAY).date == dt.date(1989, 2, 3)
    assert parse_birth("平成元年", TODAY).year == 1989
    b = parse_birth("1975-02-30", TODAY)  # no calendar date, kept for comparison
    assert (b.kind, b.date, b.day) == ("date", None, 30)
    assert parse_birth("不明", TODAY).kind == "none"


# ---------------------------------------------------------------- decisions

def test_namesakes_without_birth_date_are_not_auto_confirmed(town_a, staff):
    town_a.family(address="三本松二丁目3番5号")
    lone(town_a, address="豆田町1番1号", birth_date=dt.date(1960, 1, 1))
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", kana="ヤマダタロウ", birth="")
    assert res.decision == api.REVIEW
    assert len(res.candidates) >= 2
    assert any("同姓同名" in n for n in res.notes)
    # with the birth date, one of them is confirmed
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", kana="ヤマダタロウ", birth="1960-01-01")
    assert res.decision == api.AUTO and res.top.birth_date == dt.date(1960, 1, 1)


def test_household_context_confirms_namesakes_arriving_together(town_a, staff):
    h1 = town_a.family(address="三本松二丁目3番5号")
    lone(town_a, address="豆田町1番1号", birth_date=dt.date(1960, 1, 1))
    rows = [dict(name="山田太郎", birth="", group="G1"), dict(name="山田 花子", birth="1977-08-15", group="G1"),
            dict(name="いちろう", birth="", group="G1")]
    alone = match(town_a.m, rows[:1], staff["clerk_a"])[0]
    assert alone.decision == api.REVIEW
    res = match(town_a.m, rows, staff["clerk_a"])
    assert res[1].decision == api.AUTO and res[1].top.person_id == h1[1].pk
    assert res[0].decision == api.AUTO and res[0].top.person_id == h1[0].pk
    assert any(r.startswith("同行者（2行目") and "世帯の文脈" in r for r in res[0].top.reasons)
    # the child written by given name only (in kana) is found in the household its companions matched
    assert res[2].top.person_id == h1[2].pk
    assert "名のフリガナのみの記載で一致" in res[2].top.reasons


def test_child_by_given_name_only(town_a, staff, fam):
    # alone, a given name and the birthday are not enough (other children of a large register share both): 要確認
    res = one(town_a.m, staff["clerk_a"], name="一郎", birth="2021-06-10")
    assert res.top.person_id == fam[2].pk
    assert "名のみの記載で名が一致（子どもなど）" in reasons(res)
    assert res.decision == api.REVIEW
    # with the household's address, or arriving with a parent, it is confirmed
    res = one(town_a.m, staff["clerk_a"], name="一郎", birth="2021-06-10", address="三本松2-3-5")
    assert res.decision == api.AUTO and res.notes[0].startswith("自動確定（")
    res = match(town_a.m, [dict(name="山田太郎", birth="1975-04-01", group="G"),
                           dict(name="一郎", birth="2021-06-10", group="G")], staff["clerk_a"])[1]
    assert res.decision == api.AUTO and res.top.person_id == fam[2].pk
    assert res.notes[0].startswith("自動確定（名と同行の世帯）")
    # the given name and an age only: not enough
    res = one(town_a.m, staff["clerk_a"], name="一郎", birth="5歳")
    assert res.decision != api.AUTO


def test_full_name_and_registered_address_tell_namesakes_apart(town_a, staff):
    a = town_a.family(address="三本松二丁目3番5号")[0]
    lone(town_a, address="豆田町1番1号", birth_date=dt.date(1960, 1, 1))
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", birth="", address="三本松2-3-5")
    assert res.decision == api.AUTO and res.top.person_id == a.pk
    assert "住所が一致" in res.top.reasons and res.notes[0].startswith("自動確定（氏名と住所）")
    # a shelter's address (not the registered one) does not
    res = one(town_a.m, staff["clerk_a"], name="山田太郎", birth="", address="三本松1番地")
    assert res.decision == api.REVIEW


def test_visitor_is_none(town_a, staff, fam):
    res = one(town_a.m, staff["clerk_a"], name="鈴木 一朗", kana="スズキ イチロウ", birth="1950-03-03",
              address="東京都千代田区1-1")
    assert res.decision == api.NONE and res.candidates == []
    assert res.notes == ["登録されている住民に該当する人が見つかりません（住民以外の可能性）"]


def test_removed_persons_are_not_candidates(town_a, staff, fam):
    with tenant_scope(town_a.m):
        child = Person.objects.get(pk=fam[2].pk)
        actions.register_death(town_a.actor(), child, expected_version=child.version,
                               death_date=dt.date(2024, 1, 1), notification_date=dt.date(2024, 1, 2))
    res = one(town_a.m, staff["clerk_a"], name="山田 一郎", birth="2021-06-10")
    assert all(c.person_id != fam[2].pk for c in res.candidates)


def test_other_municipality_is_never_a_candidate(town_a, town_b, staff):
    town_b.family()
    res = one(town_a.m, staff["clerk_a"], name="山田 太郎", birth="1975-04-01")
    assert res.decision == api.NONE


# ---------------------------------------------------------------- duplicates across shelters

def test_same_person_at_two_shelters_is_one_duplicate_group(town_a, staff, fam):
    rows = [dict(name="山田 太郎", birth="1975-04-01", evacuee_id="A-1", group="A"),
            dict(name="田中 次郎", birth="1990-01-01", evacuee_id="A-2", group="A"),
            dict(name="やまだ たろう", birth="S50.4.1", evacuee_id="B-7", group="B"),
            dict(name="田中次郎", birth="1990/1/1", evacuee_id="C-1"),  # a visitor, twice
            dict(name="山田 花子", birth="1977-08-15", evacuee_id="B-8", group="B")]
    res = match(town_a.m, rows, staff["clerk_a"])
    assert res[0].duplicate_group and res[0].duplicate_group == res[2].duplicate_group
    assert res[1].duplicate_group and res[1].duplicate_group == res[3].duplicate_group
    assert res[1].decision == api.NONE
    assert res[0].duplicate_group != res[1].duplicate_group
    assert res[4].duplicate_group == ""
    assert any("重複登録の可能性: 3行目" in n for n in res[0].notes)


def test_two_rows_of_one_group_confirmed_to_one_person_are_reviewed(town_a, staff, fam):
    rows = [dict(name="山田 太郎", birth="1975-04-01", group="G"), dict(name="山田太郎", birth="1975-04-01", group="G")]
    res = match(town_a.m, rows, staff["clerk_a"])
    assert [r.decision for r in res] == [api.REVIEW, api.REVIEW]
    assert res[0].duplicate_group == ""


# ---------------------------------------------------------------- DV-protected persons

def _protect(town, person):
    with tenant_scope(town.m):
        p = Person.objects.get(pk=person.pk)
        actions.correct_person(town.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                               change_date=dt.date(2024, 1, 1), note="支援措置の開始")


def test_protected_person_is_never_auto_confirmed_and_address_is_withheld(town_a, staff, fam):
    _protect(town_a, fam[1])
    row = dict(name="山田 花子", kana="ヤマダ ハナコ", birth="1977-08-15", sex="女", address="三本松二丁目3番5号")
    clerk = one(town_a.m, staff["clerk_a"], **row)
    assert clerk.decision == api.REVIEW and clerk.top.person_id == fam[1].pk and clerk.top.protected
    assert any("支援措置" in n for n in clerk.notes)
    assert clerk.top.address == policy.WITHHELD
    assert "住所は照合に使っていません（支援措置）" in clerk.top.reasons
    assert not any(r.startswith("住所が") or "町字" in r for r in clerk.top.reasons)
    admin = one(town_a.m, staff["admin_a"], **row)  # the DV right
    assert admin.decision == api.REVIEW
    assert admin.top.address == "三本松二丁目3番5号" and "住所が一致" in admin.top.reasons
    # the score does not depend on the address for the reader without the right
    other = one(town_a.m, staff["clerk_a"], **{**row, "address": "全然違う町9番"})
    assert other.top.score == clerk.top.score


def test_household_members_protected_by_the_setting(town_a, staff, fam):
    from jichitai.privacy import actions as privacy_actions

    _protect(town_a, fam[1])
    with tenant_scope(town_a.m):
        privacy_actions.set_household_rule(staff["admin_a"], True)
    res = one(town_a.m, staff["clerk_a"], name="山田 太郎", birth="1975-04-01", address="三本松二丁目3番5号")
    assert res.top.person_id == fam[0].pk and res.top.protected and res.decision == api.REVIEW
    assert res.top.address == policy.WITHHELD


# ---------------------------------------------------------------- the index is the register's own keys

def test_a_change_of_name_is_found_at_once(town_a, staff, fam):
    with tenant_scope(town_a.m):
        p = Person.objects.get(pk=fam[1].pk)
        actions.correct_person(town_a.actor(), p, expected_version=p.version,
                               changes={"family_name": "髙橋", "family_name_kana": "タカハシ"},
                               change_date=dt.date(2024, 5, 1), note="氏の変更")
    res = one(town_a.m, staff["clerk_a"], name="高橋花子", kana="たかはし はなこ", birth="1977-08-15")
    assert res.decision == api.AUTO and res.top.person_id == fam[1].pk
    assert "氏名が一致（MJ縮退で同じ字: 髙=高 など）" in res.top.reasons
    assert res.top.name == "髙橋　花子"


def test_a_move_is_found_at_once(town_a, staff, fam, env):
    env.move(fam[0], with_household=True)()
    res = one(town_a.m, staff["clerk_a"], name="山田 太郎", birth="1975-04-01", address="豆田町5番1号")
    assert "住所が一致" in res.top.reasons


def test_bulk_loaded_residents_are_matchable(town_a, staff):
    from jichitai.demo.bulk import generate_municipality

    generate_municipality(town_a.m, 300, random.Random(5))
    with tenant_scope(town_a.m):
        p = Person.objects.filter(status="resident", dv_protected=False).order_by("id")[17]
    res = one(town_a.m, staff["clerk_a"], name=f"{p.given_name} {p.family_name}",
              kana=f"{p.given_name_kana} {p.family_name_kana}", birth=p.birth_date.isoformat())
    assert res.decision == api.AUTO and res.top.person_id == p.pk


# ---------------------------------------------------------------- the command

def _write(path, header, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_command_with_columns_and_id_column(town_a, staff, fam, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, ["受付番号", "名前", "フリガナ", "生年月日", "住所"],
           [["S1-001", "山田 太郎", "ヤマダ タロウ", "S50.4.1", "三本松二丁目3番5号"],
            ["S1-002", "鈴木 一朗", "", "70代", ""]], encoding="cp932")
    call_command("disaster", "match", "--municipality", "44204", "--input", str(src), "--output", str(out),
                 "--columns", "名前=name,フリガナ=kana,生年月日=birth,住所=address", "--id-column", "受付番号")
    rows = _read(out)
    assert [r["避難者ID"] for r in rows] == ["S1-001", "S1-002"]
    assert rows[0]["宛名番号"] == fam[0].atena_no and rows[0]["住民票コード"] == fam[0].resident_code
    assert rows[0]["判定"] == "自動確定" and float(rows[0]["得点"]) >= api.AUTO_MIN_SCORE
    assert "生年月日が完全一致" in rows[0]["理由"]
    assert rows[1]["判定"] == "該当なし" and rows[1]["宛名番号"] == ""


def test_command_default_columns(town_a, staff, fam, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, ["name", "kana", "birth", "sex", "address", "group"], [["山田太郎", "", "1975-04-01", "", "", ""]])
    call_command("disaster", "match", "--municipality", "44204", "--input", str(src), "--output", str(out))
    rows = _read(out)
    assert rows[0]["判定"] == "自動確定" and rows[0]["避難者ID"] == "1"


@pytest.mark.parametrize("setup,args,message", [
    ("ok", ["--columns", "氏名=name"], "列「氏名」が入力ファイルにありません"),
    ("ok", ["--columns", "名前=namae"], "項目「namae」はありません"),
    ("ok", ["--id-column", "番号"], "列「番号」が入力ファイルにありません"),
    ("missing", [], "入力ファイルを開けません"),
    ("binary", [], "文字コード"),
    ("noname", [], "氏名の列（name）がありません"),
    ("ok", ["--municipality-override", "99999"], "団体コード「99999」"),
])
def test_command_errors_are_clear_and_bilingual(town_a, staff, tmp_path, setup, args, message):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    if setup == "ok":
        _write(src, ["名前"], [["山田太郎"]])
    elif setup == "binary":
        src.write_bytes(b"\x80\x81\xff\xfe\x00abc\n\xff")
    elif setup == "noname":
        _write(src, ["kana"], [["ヤマダ"]])
    muni = "44204"
    if "--municipality-override" in args:
        muni, args = args[1], []
    with pytest.raises(CommandError) as exc:
        call_command("disaster", "match", "--municipality", muni, "--input", str(src), "--output", str(out),
                     *args)
    assert message in str(exc.value) and " / " in str(exc.value)
    assert not out.exists()



def test_reading_keyed_across_the_boundary_as_the_register_does(town_a, staff):
    # the loose key folds オ after an オ-row sound across family and given: オオノオサム → オノサム, both sides
    p = lone(town_a, family_name="大野", family_name_kana="オオノ", given_name="修", given_name_kana="オサム",
             birth_date=dt.date(1950, 5, 5))
    res = one(town_a.m, staff["clerk_a"], name="おおの おさむ", birth="1950-05-05")
    assert res.decision == api.AUTO and res.top.person_id == p.pk
    res = one(town_a.m, staff["clerk_a"], name="オサム オオノ", birth="1950-05-05")
    assert res.top.person_id == p.pk and "フリガナが一致（氏と名が逆の順）" in res.top.reasons


def test_command_run_is_audited_without_personal_data_and_as_user_applies_the_dv_right(town_a, staff, fam, tmp_path):
    from conftest import audit_events

    _protect(town_a, fam[1])
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, ["name", "birth", "address"], [["山田 花子", "1977-08-15", "三本松二丁目3番5号"]])
    call_command("disaster", "match", "--municipality", "44204", "--input", str(src), "--output", str(out))
    row = _read(out)[0]
    assert row["判定"] == "要確認" and "住所は照合に使っていません（支援措置）" in row["理由"]
    call_command("disaster", "match", "--municipality", "44204", "--input", str(src), "--output", str(out),
                 "--as-user", "admin-a")
    row = _read(out)[0]
    assert row["判定"] == "要確認" and "住所が一致" in row["理由"]
    events = audit_events(town_a.m, action="disaster.match")
    assert len(events) == 2
    detail = json.loads(events[-1].detail)
    assert detail == {"auto": 0, "review": 1, "none": 0, "duplicate_groups": 0, "reader": "admin-a", "rows": 1,
                      "source": "in.csv"}
    assert events[0].actor_username == "" and events[-1].actor_username == "admin-a"
    with pytest.raises(CommandError, match="職員「nobody」"):
        call_command("disaster", "match", "--municipality", "44204", "--input", str(src), "--output", str(out),
                     "--as-user", "nobody")


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('postgres')",
                    reason="SQLite's planner only: PostgreSQL's blocking reads are planned from its own statistics")
def test_sqlite_blocking_reads_use_their_key_index_whatever_the_statistics_say(town_a, staff, fam):
    """sqlite_stat1 describing a register with few distinct names (as ANALYZE after a legacy import of such a town
    leaves it) made SQLite scan the whole table for every chunk of keys; the blocking reads name their index, so the
    plan is the index's whatever the statistics say, and the results are the same."""
    from django.db import connection

    from jichitai.matching import queries

    with tenant_scope(town_a.m):
        keys = list(Person.objects.values_list("name_var_key", flat=True))
        before = sorted(r[0] for r in queries.by_name_variant_light(keys))
        with connection.cursor() as c:
            c.execute("ANALYZE")
            c.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'residents_person'")
            for idx, stat in (("person_name_var_key_layer", "1000000 1000000 1000000 1812 1"),
                              ("person_kana_loose_key_layer", "1000000 1000000 1000000 5556 1"),
                              ("person_birth_date", "1000000 1000000 1000000 1"),
                              ("residents_person_municipality_id_52ca9c88", "1000000 1000000")):
                c.execute("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('residents_person', %s, %s)", [idx, stat])
            c.execute("ANALYZE sqlite_schema")  # reload the statistics
        seen = []

        def capture(execute, sql, params, many, context):
            seen.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            after = sorted(r[0] for r in queries.by_name_variant_light(keys))
            queries.by_kana_loose_light(["ヤマダタロ"])
            queries.by_birth_date_light([dt.date(1975, 4, 1)])
        assert after == before and after
        for sql, params in seen:
            with connection.cursor() as c:
                c.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = " ".join(str(r[-1]) for r in c.fetchall())
            assert "USING INDEX person_" in plan and "SCAN p" not in plan.replace("SCAN p USING", ""), plan


def test_the_disaster_commands_stop_when_the_audit_keys_are_missing(town_a, staff, settings, tmp_path):
    """The batch commands skip Django's developer checks but not the audit keys they write their events with: with
    keys required (production) and the signing key missing, `disaster match` stops with the reason, writing nothing."""
    f = tmp_path / "in.csv"
    f.write_text("氏名\n山田太郎\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    settings.JICHITAI_AUDIT_KEYS_REQUIRED = True
    settings.JICHITAI_AUDIT_SIGNING_KEY_FILE = str(tmp_path / "missing.key")
    with pytest.raises(CommandError, match="チェックポイント署名鍵がありません"):
        call_command("disaster", "match", "--municipality", town_a.m.code, "--input", str(f), "--output", str(out),
                     "--columns", "氏名=name")
    assert not out.exists()
