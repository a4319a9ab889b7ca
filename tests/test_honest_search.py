"""Honest search (issue 10, item 6): a total count; 完全一致 only when the stored name equals the input; 五十音
order by reading within a rank; given-name-only search; no silent cap."""
import datetime as dt

import pytest
from conftest import person_values
from django.test import Client

from jichitai.chouaza.normalize import kanji_of
from jichitai.residents import actions, queries
from jichitai.residents.queries import NAME_LAYERS, SearchCriteria, search_page
from jichitai.tenancy.scope import tenant_scope

D = dt.date
EXACT = NAME_LAYERS[0][1]


def _add(actor, family, given, kana, given_kana, **kw):
    return actions.register_move_in(actor, values=person_values(
        family_name=family, given_name=given, family_name_kana=kana, given_name_kana=given_kana,
        address=kw.pop("address", f"中城町{given_kana}番"), **kw), change_date=D(2020, 5, 1),
        notification_date=D(2020, 5, 1))


@pytest.fixture
def people(town_a, staff):
    with tenant_scope(town_a.m):
        a = town_a.actor()
        made = {
            "tsuji_ivs": _add(a, "辻\U000E0102", "太郎", "ツジ", "タロウ"),
            "tsuji": _add(a, "辻", "太郎", "ツジ", "タロウ"),
            "tsuji_jiro": _add(a, "辻", "次郎", "ツジ", "ジロウ"),
        }
        for given, kana in [("優", "ユウ"), ("明", "アキラ"), ("健", "ケン"), ("誠", "マコト"), ("歩", "アユム")]:
            made[kana] = _add(a, "高橋", given, "タカハシ", kana)
    return made


def test_exact_only_when_the_stored_name_equals_the_input(people, town_a, staff):
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(name="辻太郎"), staff["clerk_a"], town_a.m)
    reasons = {p.pk: r for p, r in page.rows}
    assert reasons[people["tsuji"].pk] == EXACT
    assert reasons[people["tsuji_ivs"].pk] != EXACT  # 辻 typed, 辻󠄂 registered
    assert reasons[people["tsuji_ivs"].pk] == NAME_LAYERS[1][1]
    assert page.rows[0][0].pk == people["tsuji"].pk and page.total == 2
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(name="辻"), staff["clerk_a"], town_a.m)
    assert page.total == 3 and EXACT not in {r for _, r in page.rows}  # only prefixes of 辻…
    assert {r for p, r in page.rows if p.pk != people["tsuji_ivs"].pk} == {"前方一致"}


def test_results_in_gojuon_order_within_a_rank(people, town_a, staff):
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(name="高橋"), staff["clerk_a"], town_a.m)
    assert [p.given_name_kana for p, _ in page.rows] == ["アキラ", "アユム", "ケン", "マコト", "ユウ"]
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(kana="たかはし"), staff["clerk_a"], town_a.m)
    assert [p.given_name_kana for p, _ in page.rows] == ["アキラ", "アユム", "ケン", "マコト", "ユウ"]


def test_given_name_only(people, town_a, staff):
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(given_name="太郎"), staff["clerk_a"], town_a.m)
    assert {p.pk for p, _ in page.rows} == {people["tsuji"].pk, people["tsuji_ivs"].pk} and page.total == 2
    c = Client()
    c.force_login(staff["clerk_a"])
    body = c.get("/residents/", {"given_name": "次郎"}).content.decode()
    assert "辻　次郎" in body and "1件" in body and "辻　太郎" not in body


def test_the_total_is_counted_and_every_match_is_reachable(town_a, staff):
    """Of 231 高橋/タカハシ, 30 could never be reached (a silent cap at 200): now every one is on some page."""
    with tenant_scope(town_a.m):
        a = town_a.actor()
        # names hold no digits (item 5): the i-th name is spelled with kanji numerals, its reading with kana
        made = {_add(a, "高橋", kanji_of(i + 1), "タカハシ", "イチ" + "アイウエオカキクケコ"[i // 10] + "アイウエオカキクケコ"[i % 10],
                     address=f"中城町{i}番").pk for i in range(45)}
        seen = set()
        for n in (1, 2, 3):
            page = search_page(SearchCriteria(name="高橋", kana="たかはし"), staff["clerk_a"], town_a.m, n)
            assert page.total == 45 and not page.too_broad
            seen |= {p.pk for p, _ in page.rows}
        assert seen == made
    c = Client()
    c.force_login(staff["clerk_a"])
    body = c.get("/residents/", {"name": "高橋", "kana": "たかはし"}).content.decode()
    assert "45件" in body and "1ページ目" in body


def test_a_too_broad_query_says_how_many_and_asks_to_narrow(people, town_a, staff, monkeypatch):
    monkeypatch.setattr(queries, "MAX_RESULTS", 4)
    with tenant_scope(town_a.m):
        page = search_page(SearchCriteria(name="高"), staff["clerk_a"], town_a.m)
        assert page.too_broad and page.total == 5 and page.rows == []
        narrowed = search_page(SearchCriteria(name="高橋", given_name="明"), staff["clerk_a"], town_a.m)
        assert not narrowed.too_broad and [p.given_name for p, _ in narrowed.rows] == ["明"]
    c = Client()
    c.force_login(staff["clerk_a"])
    body = c.get("/residents/", {"kana": "たか"}).content.decode()
    assert "該当が5件あり" in body and "絞り込んでください" in body


def test_the_search_is_audited_with_its_total(people, town_a, staff):
    from jichitai.audit.models import AuditEvent

    c = Client()
    c.force_login(staff["clerk_a"])
    c.get("/residents/", {"name": "高橋"})
    with tenant_scope(town_a.m):
        e = AuditEvent.objects.filter(action="resident.search").order_by("-seq").first()
    assert '"total":5' in e.detail.replace(" ", "")
