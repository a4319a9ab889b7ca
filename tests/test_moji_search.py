"""Variant-aware name search through the real search path (queries.ranked_search, as the search page calls it).

The pair tables come from test_moji.py: ≥ 400 variant pairs that must find each other, and look-alikes that must not.
Names are stored exactly as registered; only the derived keys differ.
"""
import datetime as dt

import pytest
from conftest import INTAKE, person_values
from test_moji import MEET_PAIRS, NEVER_ANY_LAYER, NEVER_PAIRS

from jichitai.residents import actions
from jichitai.residents.models import Person
from jichitai.residents.queries import NAME_LAYERS, SearchCriteria, ranked_search
from jichitai.tenancy.scope import tenant_scope

D = dt.date
EXACT = NAME_LAYERS[0][1]


def _given(i):
    # a distinct given name per stored person, so a prefix search on 氏+名 pinpoints it
    return "".join("零壱弐参四伍六七八九"[int(c)] for c in str(i)) + "番"


@pytest.fixture
def registered(town_a, django_db_blocker):
    stored = sorted({a for a, _ in MEET_PAIRS} | {b for _, b in MEET_PAIRS}
                    | {a for a, _ in NEVER_PAIRS} | {b for _, b in NEVER_PAIRS})
    index = {}
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        for i, name in enumerate(stored):
            p = actions.register_move_in(actor, values=person_values(family_name=name, given_name=_given(i),
                                                                     family_name_kana="テスト",
                                                                     given_name_kana="イチ"),
                                         change_date=D(2020, 4, 1), notification_date=D(2020, 4, 2))
            index[name] = (p.pk, _given(i))
    return town_a, index


def _search(town, staff_user, name):
    with tenant_scope(town.m):
        rows, _ = ranked_search(SearchCriteria(name=name), staff_user, town.m)
        return {p.pk: reason for p, reason in rows}


@pytest.mark.django_db
def test_variant_pairs_find_each_other_through_search(registered, staff):
    town, index = registered
    assert len(MEET_PAIRS) >= 200
    misses = []
    for a, b in MEET_PAIRS:
        for stored, typed in ((a, b), (b, a)):
            pk, given = index[stored]
            found = _search(town, staff["clerk_a"], typed + given)
            if pk not in found:
                misses.append(f"{typed}→{stored}")
    assert not misses, f"{len(misses)} variant searches missed: {misses[:20]}"


@pytest.mark.django_db
def test_lookalikes_never_match_at_the_top_rank(registered, staff):
    town, index = registered
    assert len(NEVER_PAIRS) >= 50
    wrong = []
    for a, b in NEVER_PAIRS:
        for stored, typed in ((a, b), (b, a)):
            pk, given = index[stored]
            found = _search(town, staff["clerk_a"], typed + given)
            if found.get(pk) == EXACT or ((a, b) in NEVER_ANY_LAYER and pk in found):
                wrong.append(f"{typed}→{stored}:{found.get(pk)}")
    assert not wrong, wrong


@pytest.mark.django_db
def test_exact_ranks_above_variants_and_says_why(town_a, staff):
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        kw = dict(change_date=D(2020, 4, 1), notification_date=D(2020, 4, 2))
        plain = actions.register_move_in(actor, values=person_values(family_name="高橋", given_name="一郎"), **kw)
        hashigo = actions.register_move_in(actor, values=person_values(family_name="髙橋", given_name="一郎"), **kw)
        rows, _ = ranked_search(SearchCriteria(name="高橋一郎"), staff["clerk_a"], town_a.m)
        assert [p.pk for p, _ in rows] == [plain.pk, hashigo.pk]
        assert rows[0][1] == EXACT and rows[1][1] != EXACT
        rows, _ = ranked_search(SearchCriteria(name="髙橋一郎"), staff["clerk_a"], town_a.m)
        assert [p.pk for p, _ in rows] == [hashigo.pk, plain.pk]
        # the stored name is exactly what was registered
        assert Person.objects.get(pk=hashigo.pk).family_name == "髙橋"


@pytest.mark.django_db
def test_confusable_variant_ranks_lower_unless_the_reading_agrees(town_a, staff):
    """沢/澤 are variants: with a reading typed, the variant with the same reading ranks above a same-layer
    variant whose reading differs."""
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        kw = dict(change_date=D(2020, 4, 1), notification_date=D(2020, 4, 2))
        same_reading = actions.register_move_in(actor, values=person_values(
            family_name="澤田", given_name="花", family_name_kana="サワダ", given_name_kana="ハナ"), **kw)
        other_reading = actions.register_move_in(actor, values=person_values(
            family_name="澤田", given_name="花", family_name_kana="タクダ", given_name_kana="ハナ"), **kw)
        exact = actions.register_move_in(actor, values=person_values(
            family_name="沢田", given_name="花", family_name_kana="サワダ", given_name_kana="ハナ"), **kw)
        rows, _ = ranked_search(SearchCriteria(name="沢田花", kana="さわだ"), staff["clerk_a"], town_a.m)
        order = [p.pk for p, _ in rows]
        assert order[0] == exact.pk
        assert other_reading.pk not in order  # the reading narrows the search (loosely)
        assert same_reading.pk in order


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["さとう", "サトウ", "ｻﾄｳ", "サトー", "さとお"])
def test_kana_forms_find_the_same_person(town_a, staff, typed):
    with tenant_scope(town_a.m):
        p = actions.register_move_in(town_a.actor(), values=person_values(
            family_name="佐藤", given_name="", family_name_kana="サトウ", given_name_kana=""),
            change_date=D(2020, 4, 1), notification_date=D(2020, 4, 2))
        rows, _ = ranked_search(SearchCriteria(kana=typed), staff["clerk_a"], town_a.m)
        assert p.pk in [x.pk for x, _ in rows]


@pytest.mark.django_db
def test_ivs_name_round_trips_form_db_search_and_display(town_a, staff, login):
    """A name with an IVS survives form input, the database, search and display unchanged."""
    name = "葛\U000E0102西"
    c = login(staff["clerk_a"])
    data = {**INTAKE, "family_name": name, "given_name": "太郎", "family_name_kana": "カサイ", "given_name_kana": "タロウ",
            "birth_date": "S50.4.1", "sex": "1", "address": "三本松1番", "previous_address": "福岡市",
            "change_date": "2024-04-01", "notification_date": "2024-04-02"}
    assert c.post("/residents/new/move_in/", {**data, "step": "confirm"}).status_code == 200
    r = c.post("/residents/new/move_in/", {**data, "step": "commit"})
    assert r.status_code == 302
    with tenant_scope(town_a.m):
        p = Person.objects.get(family_name_kana="カサイ")
        assert p.family_name == name and len(p.family_name) == 3
    body = c.get(f"/residents/{p.pk}/").content.decode()
    assert name in body
    body = c.get("/residents/", {"name": "葛西"}).content.decode()  # typed without the selector
    assert name in body
    assert EXACT not in body  # 葛西 typed, 葛󠄂西 registered: not 完全一致
    body = c.get("/residents/", {"name": name + "太郎"}).content.decode()
    assert name in body and EXACT in body
    body = c.get("/residents/", {"name": name}).content.decode()  # the family name only: a prefix
    assert name in body and "前方一致" in body and EXACT not in body


@pytest.mark.django_db
def test_name_with_birth_date_uses_the_same_layers(town_a, staff):
    """With an exact criterion the name is ranked in Python from the stored keys: same layers, same reasons."""
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        kw = dict(change_date=D(2020, 4, 1), notification_date=D(2020, 4, 2))
        plain = actions.register_move_in(actor, values=person_values(family_name="渡辺", given_name="一"), **kw)
        old = actions.register_move_in(actor, values=person_values(family_name="渡邊", given_name="一"), **kw)
        other_day = actions.register_move_in(actor, values=person_values(family_name="渡辺", given_name="一",
                                                                         birth_date=D(1980, 1, 1)), **kw)
        rows, _ = ranked_search(SearchCriteria(name="渡邊", birth_date="S50.4.1"), staff["clerk_a"], town_a.m)
        assert [p.pk for p, _ in rows] == [old.pk, plain.pk]
        assert rows[0][1] == "前方一致" and rows[1][1] != EXACT and other_day.pk not in [p.pk for p, _ in rows]
        rows, _ = ranked_search(SearchCriteria(name="渡邊一", birth_date="S50.4.1"), staff["clerk_a"], town_a.m)
        assert [p.pk for p, _ in rows] == [old.pk, plain.pk] and rows[0][1] == EXACT
        rows, _ = ranked_search(SearchCriteria(name="渡邊", kana="やまだ", birth_date="1975-04-01"),
                                staff["clerk_a"], town_a.m)
        assert {p.pk for p, _ in rows} == {old.pk, plain.pk}
        rows, _ = ranked_search(SearchCriteria(name="渡邊", kana="たなか", birth_date="1975-04-01"),
                                staff["clerk_a"], town_a.m)
        assert rows == []
