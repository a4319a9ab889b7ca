"""One validation (issue 10, item 2): the confirmation page runs exactly the rules 登録する runs, the version is
mandatory on every change, and 転出 / 転入 inside the clerk's own municipality is refused with a pointer to 転居."""
import datetime as dt
import re

import pytest
from conftest import INTAKE, person_values
from django.test import Client
from django.utils import timezone
from test_rules import NothingWritten, expect_rule

from jichitai.common.checkdigits import individual_number_check_digit
from jichitai.residents import actions
from jichitai.residents.actions import CONFLICT_MESSAGE, VERSION_MISSING
from jichitai.residents.models import Person

D = dt.date
FIRST11 = "31415926535"
GOOD_NO = FIRST11 + str(individual_number_check_digit(FIRST11))
BAD_NO = GOOD_NO[:11] + str((int(GOOD_NO[11]) + 1) % 10)


def _client(staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    return c


def _version(c, url):
    return re.search(r'name="expected_version" value="(\d+)"', c.get(url).content.decode()).group(1)


def _body(r):
    return r.content.decode()


MOVE_IN = {"family_name": "佐藤", "given_name": "健", "family_name_kana": "サトウ", "given_name_kana": "ケン",
           "birth_date": "1980-01-02", "sex": "1", "address": "隈1番", "previous_address": "福岡県福岡市中央区天神1番",
           "change_date": "2024-04-01", "notification_date": "2024-04-02"}


# ---------------------------------------------------------------- the confirmation page refuses what 登録する refuses

def test_confirmation_refuses_a_notification_date_before_a_future_change_date(env, staff):
    c = _client(staff)
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    future = timezone.localdate() + dt.timedelta(days=10)
    data = {"expected_version": wife.version, "address": "豆田町5番1号", "household_mode": "new",
            "new_household_head": wife.pk, "change_date": future.isoformat(),
            "notification_date": (future - dt.timedelta(days=20)).isoformat()}
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data, "step": "confirm"})
    assert r.status_code == 422
    body = _body(r)
    assert "異動日に未来の日付は指定できません" in body
    assert "登録する" not in body and "の確認" not in body.split("<h1>")[1][:20]  # still the form, not the confirmation
    assert 'value="豆田町5番1号"' in body  # the input is kept
    # and 登録する refuses the same input with the same message
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 422 and "異動日に未来の日付は指定できません" in _body(r)


def test_confirmation_refuses_a_wrong_check_digit_instead_of_labelling_it_checked(env, staff):
    c = _client(staff)
    from django.urls import reverse

    url = reverse("new_person", args=["move_in"])
    with NothingWritten():
        r = c.post(url, {**INTAKE, **MOVE_IN, "individual_number": BAD_NO, "step": "confirm"})
    assert r.status_code == 422
    body = _body(r)
    assert "個人番号の検査用数字が正しくありません" in body
    assert "検査用数字確認済み" not in body
    # a correct number reaches the confirmation page, labelled checked, and is then registered
    with NothingWritten():
        r = c.post(url, {**INTAKE, **MOVE_IN, "individual_number": GOOD_NO, "step": "confirm"})
    assert r.status_code == 200 and "（入力あり・検査用数字確認済み）" in _body(r)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', _body(r)))
    r = c.post(url, {**INTAKE, **hidden, "step": "commit"})
    assert r.status_code == 302
    assert Person.objects.filter(family_name="佐藤", individual_number=GOOD_NO).count() == 1


def test_confirmation_writes_nothing_even_when_the_change_is_fine(env, staff):
    c = _client(staff)
    head = env.fresh(env.head)
    url = f"/households/{head.household_id}/change/household_split/"
    data = {"expected_version": _version(c, url), "members": [str(env.wife.pk), str(env.child.pk)],
            "new_head": str(env.wife.pk), "relationship": "子", "change_date": "2024-04-01",
            "notification_date": "2024-04-02"}
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data, "step": "confirm"})
    assert r.status_code == 200 and "登録する" in _body(r)
    assert c.post(url, {**INTAKE, **data, "step": "commit"}).status_code == 302
    assert env.fresh(env.wife).is_head


@pytest.mark.parametrize("data, message", [
    ({"address": ""}, "このフィールドは必須です"),
    ({"address": "三本松二丁目3番5号"}, "新しい住所が現在の住所と同じです"),
    ({"change_date": "2019-01-01"}, "異動日が前回の異動日"),
    ({"notification_date": "2024-03-01"}, "届出日が異動日より前になっています"),
    ({"change_date": "R1.4.1"}, "令和"),
])
def test_confirmation_and_commit_refuse_the_same_move_within(env, staff, data, message):
    c = _client(staff)
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    base = {"expected_version": wife.version, "address": "豆田町5番1号", "change_date": "2024-04-01",
            "notification_date": "2024-04-05", "household_mode": "new", "new_household_head": wife.pk}
    for step in ("confirm", "commit"):
        with NothingWritten():
            r = c.post(url, {**INTAKE, **base, **data, "step": step})
        assert r.status_code == 422, step
        assert message in _body(r), (step, message)


def test_a_change_between_confirmation_and_commit_is_a_conflict(env, staff):
    """登録する runs the rules again inside its transaction: what the confirmation page saw may have changed."""
    c = _client(staff)
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/death/"
    data = {"expected_version": wife.version, "death_date": "2024-05-01", "notification_date": "2024-05-02"}
    assert c.post(url, {**INTAKE, **data, "step": "confirm"}).status_code == 200
    env.move(wife)()  # another clerk records a 転居 meanwhile
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 409 and CONFLICT_MESSAGE in _body(r)
    assert env.fresh(wife).status == "resident"


# ---------------------------------------------------------------- the version is mandatory

@pytest.mark.parametrize("kind, data", [
    ("move_within", {"address": "豆田町5番1号", "change_date": "2024-04-01", "notification_date": "2024-04-05",
                     "household_mode": "all"}),
    ("death", {"death_date": "2024-05-01", "notification_date": "2024-05-02"}),
    ("move_out_planned", {"destination": "福岡県福岡市中央区天神1番", "planned_date": "2024-05-01",
                          "notification_date": "2024-04-20"}),
    ("ex_officio_removal", {"change_date": "2024-05-01", "note": "居住実態なし"}),
    ("ex_officio_correction", {"family_name": "山田", "given_name": "華子", "family_name_kana": "ヤマダ",
                               "given_name_kana": "ハナコ", "birth_date": "1977-08-15", "sex": "2",
                               "change_date": "2024-05-01", "note": "誤記"}),
])
@pytest.mark.parametrize("version", [None, "", "abc"])
def test_a_person_change_without_its_version_is_refused(env, staff, kind, data, version):
    c = _client(staff)
    wife = env.fresh(env.wife)
    payload = {**data, "step": "commit"}
    if version is not None:
        payload["expected_version"] = version
    with NothingWritten():
        r = c.post(f"/residents/{wife.pk}/change/{kind}/", payload)
    assert r.status_code == 422 and VERSION_MISSING in _body(r)


@pytest.mark.parametrize("kind, data", [
    ("head_change", lambda e: {"new_head": str(e.wife.pk), "former_head_relationship": "夫",
                               f"rel_{e.child.pk}": "子", "change_date": "2024-04-01",
                               "notification_date": "2024-04-02"}),
    ("household_split", lambda e: {"members": [str(e.child.pk)], "new_head": str(e.child.pk), "relationship": "子",
                                   "change_date": "2024-04-01", "notification_date": "2024-04-02"}),
    ("birth", lambda e: {"family_name": "山田", "given_name": "次郎", "family_name_kana": "ヤマダ",
                         "birth_date": "2024-03-01", "sex": "1", "relationship": "子",
                         "notification_date": "2024-03-05"}),
])
def test_a_household_change_without_its_version_is_refused(env, staff, kind, data):
    c = _client(staff)
    url = f"/households/{env.head.household_id}/change/{kind}/"
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data(env), "step": "commit"})
    assert r.status_code == 422 and VERSION_MISSING in _body(r)
    # with the version the form was opened with, it goes through
    assert c.post(url, {**INTAKE, **data(env), "expected_version": _version(c, url), "step": "commit"}).status_code == 302


def test_a_household_change_with_a_stale_version_is_a_conflict(env, staff):
    c = _client(staff)
    url = f"/households/{env.head.household_id}/change/head_change/"
    stale = _version(c, url)
    env.move(env.child)()  # a member changed since the form was opened
    data = {"new_head": str(env.wife.pk), "former_head_relationship": "夫", f"rel_{env.child.pk}": "子",
            "change_date": "2024-04-01", "notification_date": "2024-04-05", "expected_version": stale}
    for step in ("confirm", "commit"):
        with NothingWritten():
            r = c.post(url, {**INTAKE, **data, "step": step})
        assert r.status_code == 409 and CONFLICT_MESSAGE in _body(r), step
    assert not env.fresh(env.wife).is_head


def test_person_actions_refuse_a_missing_version(env):
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.register_move_within(env.actor(), p, expected_version=None, address="豆田町1番",
                                                     change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1)),
                VERSION_MISSING, "expected_version")
    expect_rule(lambda: actions.register_death(env.actor(), p, expected_version=None, death_date=D(2024, 4, 1),
                                               notification_date=D(2024, 4, 1)), VERSION_MISSING)


def test_move_in_joining_a_household_checks_the_version_shown_on_the_confirmation(env, staff):
    from django.urls import reverse

    c = _client(staff)
    url = reverse("new_person", args=["move_in"])
    data = {**MOVE_IN, "household_no": env.head.household.household_no, "relationship": "縁故者",
            "address": "三本松二丁目3番5号"}
    r = c.post(url, {**INTAKE, **data, "step": "confirm"})
    assert r.status_code == 200
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', _body(r)))
    assert hidden["expected_version"] == str(actions.household_version(env.head.household))
    env.move(env.child)()  # the household changed after the confirmation page was shown
    with NothingWritten():
        r = c.post(url, {**INTAKE, **hidden, "step": "commit"})
    assert r.status_code == 409
    with NothingWritten():  # and a commit without the version is refused
        r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 422 and VERSION_MISSING in _body(r)


# ---------------------------------------------------------------- 転出 / 転入 inside the municipality is a 転居

@pytest.mark.parametrize("destination", ["大分県日田市豆田町1番", "日田市豆田町1番", "日田市", "大分県　日田市隈２丁目"])
def test_move_out_to_an_address_in_this_municipality_is_refused(env, destination):
    p = env.fresh(env.wife)
    e = expect_rule(lambda: actions.register_move_out(env.actor(), p, expected_version=p.version,
                                                      destination=destination, planned_date=D(2024, 5, 1),
                                                      notification_date=D(2024, 4, 20)),
                    "日田市内の住所です", "destination")
    assert "転居" in e.errors["destination"][0]


@pytest.mark.parametrize("destination", ["大分県大分市府内町1番", "福岡市中央区天神1番", "東京都日田市1番"])
def test_move_out_elsewhere_is_accepted(env, destination):
    p = env.fresh(env.wife)
    actions.register_move_out(env.actor(), p, expected_version=p.version, destination=destination,
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20))
    assert env.fresh(p).move_out_destination == destination


def test_move_in_from_this_municipality_is_refused_on_the_confirmation_page(env, staff):
    from django.urls import reverse

    e = expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(previous_address="大分県日田市三本松1番"), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "前住所が日田市内の住所です", "previous_address")
    assert "転居" in e.errors["previous_address"][0]
    c = _client(staff)
    with NothingWritten():
        r = c.post(reverse("new_person", args=["move_in"]),
                   {**INTAKE, **MOVE_IN, "previous_address": "日田市隈1番", "step": "confirm"})
    assert r.status_code == 422 and "転居" in _body(r)


def test_move_out_confirmation_in_this_municipality_is_refused(env, staff):
    c = _client(staff)
    wife = env.fresh(env.wife)
    r = c.post(f"/residents/{wife.pk}/change/move_out_planned/",
               {**INTAKE, "expected_version": wife.version, "destination": "日田市豆田町1番", "planned_date": "2024-05-01",
                "notification_date": "2024-04-20", "step": "confirm"})
    assert r.status_code == 422 and "転居" in _body(r)
    actions.register_move_out(env.actor(), wife, expected_version=wife.version, destination="福岡市",
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20))
    p = env.fresh(wife)
    expect_rule(lambda: actions.confirm_move_out(env.actor(), p, expected_version=p.version,
                                                 destination="大分県日田市隈1番", notice_date=D(2024, 5, 10)),
                "転出先が日田市内の住所です", "destination")
