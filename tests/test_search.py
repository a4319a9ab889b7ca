"""Searching the register the way counter staff type: kanji prefix, kana in any script, 和暦/西暦 birth dates, addresses
with or without the municipality name, 住民票コード and 宛名番号; pagination, status column and errors."""
import datetime as dt

import pytest
from conftest import person_values
from django.test import Client

from jichitai.residents import actions
from jichitai.residents.queries import PAGE_SIZE, SearchCriteria, SearchError, build_search
from jichitai.tenancy.scope import tenant_scope

D = dt.date


@pytest.fixture
def town(town_a, town_b, staff):
    """A: the 山田 family, a 山本 household at another address, and a 田中; B: a 山田 family too (never found in A)."""
    yamada = town_a.family()
    town_b.family()  # B's 山田 family: same names, same birth dates
    with tenant_scope(town_a.m):
        a = town_a.actor()
        yamamoto = actions.register_move_in(a, values=person_values(family_name="山本", family_name_kana="ヤマモト",
                                                                    given_name="次郎", given_name_kana="ジロウ",
                                                                    address="豆田町1番2号"),
                                            change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
        tanaka = actions.register_move_in(a, values=person_values(family_name="田中", family_name_kana="タナカ",
                                                                  given_name="花", given_name_kana="ハナ", sex="2",
                                                                  birth_date=D(1990, 2, 28), address="隈一丁目4番"),
                                          change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
    c = Client()
    c.force_login(staff["clerk_a"])
    return {"m": town_a.m, "user": staff["clerk_a"], "client": c, "yamada": yamada, "yamamoto": yamamoto,
            "tanaka": tanaka}


def web(town, **q):
    r = town["client"].get("/residents/", q)
    assert r.status_code == 200
    return r


def web_pks(town, **q):
    r = web(town, **q)
    page = r.context["page"]
    assert page is not None, r.context["form"].errors
    return {v.pk for v in page.rows}


def query_pks(town, **q):
    with tenant_scope(town["m"]):
        qs, _ = build_search(SearchCriteria(**q), town["user"], town["m"])
        return {p.pk for p in qs}


def both(town, **q):
    """The page and build_search agree; returns the set of person ids."""
    w, b = web_pks(town, **q), query_pks(town, **q)
    assert w == b, q
    return w


def pks(*persons):
    return {p.pk for p in persons}


def test_kanji_name_prefix(town):
    head, wife, child = town["yamada"]
    assert both(town, name="山田") == pks(head, wife, child)
    assert both(town, name="山") == pks(head, wife, child, town["yamamoto"])
    assert both(town, name="山田花") == pks(wife)
    assert both(town, name="山田　花子") == pks(wife)  # a space between family and given name is ignored
    assert both(town, name="山田 花子") == pks(wife)
    assert both(town, name="田") == pks(town["tanaka"])  # a prefix, not a substring
    assert both(town, name="山田花子さん") == set()
    body = web(town, name="山田").content.decode()
    assert "山田　太郎" in body and "山田　花子" in body and "山田　一郎" in body and "山本" not in body


@pytest.mark.parametrize("kana", ["やまだ", "ヤマダ", "ﾔﾏﾀﾞ", "やまだ　", "ﾔﾏﾀﾞ"])
def test_kana_in_any_script(town, kana):
    head, wife, child = town["yamada"]
    assert both(town, kana=kana) == pks(head, wife, child)


def test_kana_full_reading_and_scripts_agree(town):
    head, wife, child = town["yamada"]
    results = [both(town, kana=k) for k in ("やまだはなこ", "ヤマダハナコ", "ﾔﾏﾀﾞﾊﾅｺ", "ヤマダ　ハナコ")]
    assert all(r == pks(wife) for r in results)
    assert both(town, kana="やま") == pks(head, wife, child, town["yamamoto"])
    assert both(town, kana="ヤマダタ") == pks(head)


def test_kana_must_be_kana(town):
    r = web(town, kana="yamada")
    assert r.context["page"] is None
    assert "フリガナはひらがな・カタカナで入力してください" in r.content.decode()
    with tenant_scope(town["m"]):
        with pytest.raises(SearchError):
            build_search(SearchCriteria(kana="山田"), town["user"], town["m"])


@pytest.mark.parametrize("typed", ["S50.4.1", "昭和50年4月1日", "1975-04-01", "1975/4/1", "19750401", "Ｓ５０．４．１",
                                   "3500401"])
def test_birth_date_in_any_form(town, typed):
    head, _, _ = town["yamada"]
    # every head was made with the default birth date 1975-04-01
    assert both(town, birth_date=typed) == pks(head, town["yamamoto"])


def test_birth_date_with_name(town):
    head, wife, child = town["yamada"]
    assert both(town, birth_date="R3.6.10", name="山田") == pks(child)
    assert both(town, birth_date="令和3年6月10日") == pks(child)
    assert both(town, birth_date="H2.2.28") == pks(town["tanaka"])


@pytest.mark.parametrize("typed, message", [("R1.4.30", "令和の期間"), ("2021-02-30", "存在しない日付"),
                                            ("H31.5.1", "平成の期間"), ("昨日", "日付として読めません")])
def test_impossible_birth_date_is_an_error_with_no_results(town, typed, message):
    r = web(town, birth_date=typed, name="山田")
    body = r.content.decode()
    assert r.context["page"] is None
    assert message in body and "検索結果" not in body and "山田　太郎" not in body
    assert "/ " not in r.context["form"].errors["birth_date"][0]  # the Japanese half only
    with tenant_scope(town["m"]):
        with pytest.raises(SearchError) as exc:
            build_search(SearchCriteria(birth_date=typed), town["user"], town["m"])
    assert message in exc.value.errors["birth_date"]


@pytest.mark.parametrize("typed", ["三本松二丁目", "三本松", "日田市三本松二丁目", "大分県日田市三本松二丁目3番",
                                   "三本松　二丁目", "日田市 三本松"])
def test_address_with_or_without_the_municipality_name(town, typed):
    head, wife, child = town["yamada"]
    assert both(town, address=typed) == pks(head, wife, child)


def test_address_other_streets_and_nothing_for_the_name_alone(town):
    assert both(town, address="豆田町") == pks(town["yamamoto"])
    assert both(town, address="日田市隈") == pks(town["tanaka"])
    assert both(town, address="二丁目") == set()  # a prefix from the 町字


def test_address_is_shown_with_the_municipality_name(town):
    body = web(town, name="山田").content.decode()
    assert "日田市三本松二丁目3番5号" in body


def test_resident_code_and_atena_no(town):
    head, wife, child = town["yamada"]
    assert both(town, resident_code=wife.resident_code) == pks(wife)
    full_width = wife.resident_code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert both(town, resident_code=full_width) == pks(wife)
    assert head.atena_no == "0000000001"
    assert both(town, atena_no="1") == pks(head)
    assert both(town, atena_no="0000000002") == pks(wife)
    assert both(town, atena_no="１") == pks(head)
    assert both(town, atena_no=town["tanaka"].atena_no.lstrip("0")) == pks(town["tanaka"])
    assert both(town, atena_no="99999") == set()


@pytest.mark.parametrize("field, typed, message", [("resident_code", "123", "住民票コードは11桁の数字で入力してください"),
                                                   ("resident_code", "1234567890a", "住民票コードは11桁の数字"),
                                                   ("atena_no", "12a", "宛名番号は数字で入力してください")])
def test_code_format_errors(town, field, typed, message):
    r = web(town, **{field: typed})
    assert r.context["page"] is None and message in r.content.decode()


def test_pagination(town):
    with tenant_scope(town["m"]):
        a = actions.Actor(intake=actions.IntakeInput.in_person(), user=town["user"], terminal="t", municipality=town["m"])
        for i in range(PAGE_SIZE + 3):
            actions.register_move_in(a, values=person_values(family_name="松本", family_name_kana="マツモト",
                                                             given_name="一二三四五六七八九十"[i % 10] + "一二三四五六七八九十"[i // 10],
                                                             given_name_kana="イチ",
                                                             address=f"中城町{i}番"),
                                     change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
    assert len(query_pks(town, name="松本")) == PAGE_SIZE + 3
    r = web(town, name="松本")
    p1 = r.context["page"]
    assert p1.page == 1 and len(p1.rows) == PAGE_SIZE and p1.has_next and not p1.has_previous
    body = r.content.decode()
    assert "次へ" in body and "page=2" in body and "前へ" not in body
    r = web(town, name="松本", page="2")
    p2 = r.context["page"]
    assert p2.page == 2 and len(p2.rows) == 3 and not p2.has_next and p2.has_previous
    body = r.content.decode()
    assert "前へ" in body and "次へ" not in body
    assert not ({v.pk for v in p1.rows} & {v.pk for v in p2.rows})
    assert {v.pk for v in p1.rows} | {v.pk for v in p2.rows} == query_pks(town, name="松本")
    # exactly a full page: no next page
    r = web(town, name="松本", page="3")
    assert r.context["page"].rows == [] and not r.context["page"].has_next
    assert "該当する住民はいません" in r.content.decode()
    # a page number that is not a number is an error, not a crash
    r = web(town, name="松本", page="abc")
    assert r.context["page"] is None and "ページ番号が正しくありません" in r.content.decode()


def test_status_column_and_filter(town):
    head, wife, child = town["yamada"]
    with tenant_scope(town["m"]):
        a = actions.Actor(intake=actions.IntakeInput.in_person(), user=town["user"], terminal="t", municipality=town["m"])
        w = type(wife).objects.get(pk=wife.pk)
        actions.register_death(a, w, expected_version=w.version, death_date=D(2024, 1, 5),
                               notification_date=D(2024, 1, 6))
    r = web(town, name="山田")
    rows = {v.pk: v for v in r.context["page"].rows}
    assert rows[wife.pk].status_label == "除票（死亡）" and rows[head.pk].status_label == "住民"
    body = r.content.decode()
    assert "除票（死亡）" in body and 'class="status st-resident">住民<' in body
    assert both(town, name="山田", status="removed") == pks(wife)
    assert both(town, name="山田", status="resident") == pks(head, child)
    r = web(town, name="山田", status="bogus")
    assert r.context["page"] is None  # rejected by the form's choices


def test_empty_search_is_an_error(town):
    r = web(town, name="", kana="", birth_date="", address="")
    assert r.context["page"] is None
    assert "検索条件を1つ以上入力してください" in r.content.decode()
    r = web(town, name="　")  # only a full-width space
    assert r.context["page"] is None and "検索条件を1つ以上入力してください" in r.content.decode()
    # the bare search page (no query at all) is just the form, without an error
    r = town["client"].get("/residents/")
    assert r.status_code == 200 and "検索条件を1つ以上入力してください" not in r.content.decode()


def test_search_is_limited_to_the_municipality(town):
    head, wife, child = town["yamada"]
    ids = both(town, name="山田")
    assert ids == pks(head, wife, child)  # B's 山田 family (same names) is not there
    assert both(town, birth_date="S50.4.1", kana="やまだ") == pks(head)
