"""Business rules: each broken rule gives its Japanese message and writes NOTHING (person rows, history, households,
audit all unchanged). Includes the two-clerks conflict, through the actions and through the web UI."""
import datetime as dt

import pytest
from conftest import INTAKE, person_values, sees_all_tenants
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone

from jichitai.audit.models import AuditEvent
from jichitai.common.checkdigits import individual_number_check_digit
from jichitai.residents import actions
from jichitai.residents.actions import CONFLICT_MESSAGE, ConflictError, RuleError
from jichitai.residents.models import ChangeKind, Household, Person, PersonHistory
from jichitai.tenancy.models import NumberSequence
from jichitai.tenancy.scope import tenant_scope

D = dt.date


@sees_all_tenants
def _state():
    return {
        "persons": {p.pk: model_to_dict(p) for p in Person.all_tenants.all()},
        "history": PersonHistory.all_tenants.count(),
        "households": {h.pk: model_to_dict(h) for h in Household.all_tenants.all()},
        "audit": AuditEvent.all_chains.count(),
        "sequences": sorted(NumberSequence.all_tenants.values_list("municipality_id", "name", "last_value")),
    }


class NothingWritten:
    """`with NothingWritten(): ...` the action inside must raise and leave the database exactly as it was."""

    def __enter__(self):
        self.before = _state()
        return self

    def __exit__(self, *exc):
        assert _state() == self.before
        return False


def expect_rule(fn, message, field=None, exc=RuleError):
    with NothingWritten():
        with pytest.raises(exc) as info:
            fn()
    errors = info.value.errors
    if field is not None:
        assert field in errors, errors
        assert any(message in m for m in errors[field]), errors
    else:
        assert any(message in m for msgs in errors.values() for m in msgs), errors
    return info.value

    def move(self, p, **kw):
        p = self.fresh(p)
        args = dict(expected_version=p.version, address="豆田町5番1号", change_date=D(2024, 4, 1),
                    notification_date=D(2024, 4, 5))
        args.update(kw)
        return lambda: actions.register_move_within(self.actor(), p, **args)




def tomorrow():
    return timezone.localdate() + dt.timedelta(days=1)


# ---------------------------------------------------------------- dates

def test_change_date_before_last_change(env):
    expect_rule(env.move(env.wife, change_date=D(2020, 3, 1), notification_date=D(2020, 3, 2)),
                "異動日が前回の異動日（2020-04-01）より前になっています", "change_date")


def test_future_change_date(env):
    expect_rule(env.move(env.wife, change_date=tomorrow(), notification_date=tomorrow()),
                "異動日に未来の日付は指定できません", "change_date")


def test_future_notification_date(env):
    expect_rule(env.move(env.wife, notification_date=tomorrow()), "届出日に未来の日付は指定できません",
                "notification_date")


def test_notification_before_change(env):
    expect_rule(env.move(env.wife, change_date=D(2024, 4, 10), notification_date=D(2024, 4, 1)),
                "届出日が異動日より前になっています", "notification_date")


def test_missing_change_date(env):
    expect_rule(env.move(env.wife, change_date=None), "異動日を入力してください", "change_date")


def test_with_household_checks_every_member_dates(env):
    # the child (born 2021-06-10) has a later last change than the head: moving all on 2021-01-01 breaks the order
    expect_rule(env.move(env.head, change_date=D(2021, 1, 1), notification_date=D(2021, 1, 2), with_household=True),
                "より前になっています", "change_date")
    assert env.fresh(env.head).address == "三本松二丁目3番5号"


def test_death_in_the_future(env):
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.register_death(env.actor(), p, expected_version=p.version, death_date=tomorrow(),
                                               notification_date=None),
                "異動日に未来の日付は指定できません")


def test_birth_in_the_future_and_birth_after_move_in(env):
    expect_rule(lambda: actions.register_birth(
        env.actor(), household=env.head.household,
        values={"family_name": "山田", "given_name": "未来", "birth_date": tomorrow(), "sex": "1"},
        notification_date=None), "未来の日付は指定できません")
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(birth_date=D(2024, 5, 1)), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "生年月日が異動日より後になっています", "birth_date")


def test_move_in_needs_previous_address(env):
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(previous_address=""), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "転入前の住所（前住所）を入力してください", "previous_address")


# ---------------------------------------------------------------- heads leaving

@pytest.mark.parametrize("kind", ["move_out", "death", "removal"])
def test_head_leaving_without_new_head(env, kind):
    expect_rule(_leave(env, kind, None), "新しい世帯主を指定してください", "new_head")


@pytest.mark.parametrize("kind", ["move_out", "death", "removal"])
def test_new_head_not_in_household(env, kind):
    stranger = actions.register_move_in(env.actor(), values=person_values(family_name="他人", family_name_kana="タニン"),
                                        change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    expect_rule(_leave(env, kind, stranger), "新しい世帯主は、同じ世帯に残る住民から選んでください", "new_head")


def _leave(env, kind, new_head):
    p = env.fresh(env.head)
    if kind == "move_out":
        return lambda: actions.register_move_out(env.actor(), p, expected_version=p.version, destination="福岡市",
                                                 planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 1),
                                                 new_head=new_head)
    if kind == "death":
        return lambda: actions.register_death(env.actor(), p, expected_version=p.version, death_date=D(2024, 3, 1),
                                              notification_date=D(2024, 3, 2), new_head=new_head)
    return lambda: actions.remove_ex_officio(env.actor(), p, expected_version=p.version, change_date=D(2024, 3, 1),
                                             note="居住実態なし", new_head=new_head)


def test_head_change_rules(env):
    hh = env.head.household
    run = lambda new_head, rel="夫": lambda: actions.change_head(  # noqa: E731
        env.actor(), hh, new_head=new_head, former_head_relationship=rel, change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1))
    expect_rule(run(env.fresh(env.head)), "この住民は既に世帯主です", "new_head")
    expect_rule(run(env.fresh(env.wife), ""), "元の世帯主の新しい続柄を入力してください", "former_head_relationship")
    other = actions.register_move_in(env.actor(), values=person_values(family_name="他人", family_name_kana="タニン"),
                                     change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    expect_rule(run(other), "新しい世帯主は、この世帯の住民から選んでください", "new_head")


# ---------------------------------------------------------------- 除票

def _remove_wife(env):
    p = env.fresh(env.wife)
    actions.register_death(env.actor(), p, expected_version=p.version, death_date=D(2024, 3, 1),
                           notification_date=D(2024, 3, 2))
    return env.fresh(p)


def test_no_change_to_a_removed_person(env):
    wife = _remove_wife(env)
    msg = "この住民は消除されています（除票）。除票に異動は登録できません"
    expect_rule(env.move(wife, change_date=D(2024, 4, 1)), msg)
    expect_rule(lambda: actions.register_death(env.actor(), wife, expected_version=wife.version,
                                               death_date=D(2024, 4, 1), notification_date=D(2024, 4, 1)), msg)
    expect_rule(lambda: actions.register_move_out(env.actor(), wife, expected_version=wife.version,
                                                  destination="福岡市", planned_date=D(2024, 5, 1),
                                                  notification_date=D(2024, 4, 1)), msg)
    expect_rule(lambda: actions.remove_ex_officio(env.actor(), wife, expected_version=wife.version,
                                                  change_date=D(2024, 4, 1), note="x"), msg)
    expect_rule(lambda: actions.change_head(env.actor(), env.head.household, new_head=wife,
                                            former_head_relationship="夫", change_date=D(2024, 4, 1),
                                            notification_date=D(2024, 4, 1)), msg)


def test_confirm_move_out_that_was_not_planned(env):
    msg = "転出予定の除票ではありません。転出確定は転出予定の住民にのみ登録できます"
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.confirm_move_out(env.actor(), p, expected_version=p.version, destination="福岡市",
                                                 notice_date=D(2024, 4, 1)), msg)
    dead = _remove_wife(env)  # a 除票, but by death
    expect_rule(lambda: actions.confirm_move_out(env.actor(), dead, expected_version=dead.version,
                                                 destination="福岡市", notice_date=D(2024, 4, 1)), msg)


def test_confirm_move_out_notice_rules(env):
    p = env.fresh(env.wife)
    actions.register_move_out(env.actor(), p, expected_version=p.version, destination="福岡市",
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20))
    p = env.fresh(p)
    run = lambda **kw: lambda: actions.confirm_move_out(  # noqa: E731
        env.actor(), p, expected_version=p.version, **{"destination": "福岡市中央区", "notice_date": D(2024, 5, 10), **kw})
    expect_rule(run(notice_date=tomorrow()), "転入通知受理日に未来の日付は指定できません", "notice_date")
    expect_rule(run(notice_date=None), "転入通知受理日を入力してください", "notice_date")
    expect_rule(run(destination=" "), "確定した転出先の住所を入力してください", "destination")
    expect_rule(run(notice_date=D(2024, 1, 1)), "転入通知受理日が転出予定日より大きく前になっています", "notice_date")


# ---------------------------------------------------------------- person fields

def test_duplicate_resident_code_on_move_in(env):
    code = env.fresh(env.wife).resident_code
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(family_name="重複", family_name_kana="チョウフク", resident_code=code),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1)),
        "この住民票コードは既に他の住民に記載されています（重複）", "resident_code")


def test_invalid_individual_number(env):
    first11 = "31415926535"
    good = first11 + str(individual_number_check_digit(first11))
    bad = good[:11] + str((int(good[11]) + 1) % 10)
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(individual_number=bad), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "個人番号の検査用数字が正しくありません", "individual_number")
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.correct_person(env.actor(), p, expected_version=p.version,
                                               changes={"individual_number": bad}, change_date=D(2024, 4, 1),
                                               note="番号の記載"),
                "個人番号の検査用数字が正しくありません", "individual_number")
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(individual_number="12345"), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "個人番号は12桁の数字で入力してください", "individual_number")
    # the valid one is accepted
    actions.register_move_in(env.actor(), values=person_values(individual_number=good), change_date=D(2024, 4, 1),
                             notification_date=D(2024, 4, 1))


@pytest.mark.parametrize("field", ["family_name", "given_name", "address", "honseki"])
def test_gaiji_private_use_characters_rejected(env, field):
    values = person_values(**{field: "山\ue000田"})
    expect_rule(lambda: actions.register_move_in(env.actor(), values=values, change_date=D(2024, 4, 1),
                                                 notification_date=D(2024, 4, 1)),
                "外字（私用領域の文字）は登録できません", field)


def test_gaiji_rejected_in_correction(env):
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.correct_person(env.actor(), p, expected_version=p.version,
                                               changes={"family_name": "\uf8ff田"}, change_date=D(2024, 4, 1),
                                               note="x"),
                "外字（私用領域の文字）は登録できません", "family_name")


def test_required_person_fields(env):
    run = lambda **kw: lambda: actions.register_move_in(  # noqa: E731
        env.actor(), values=person_values(**kw), change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1))
    expect_rule(run(family_name=" "), "氏を入力してください", "family_name")
    expect_rule(run(sex="9"), "性別を選択してください", "sex")
    expect_rule(run(address=""), "住所を入力してください", "address")
    expect_rule(run(is_foreign=True), "外国人住民は国籍・地域を入力してください", "nationality")


def test_joining_household_needs_relationship(env):
    expect_rule(lambda: actions.register_move_in(
        env.actor(), household=env.head.household, values=person_values(relationship=""), change_date=D(2024, 4, 1),
        notification_date=D(2024, 4, 1)), "世帯主との続柄を入力してください", "relationship")


def test_ex_officio_entry_needs_reason(env):
    expect_rule(lambda: actions.register_move_in(
        env.actor(), values=person_values(), change_date=D(2024, 4, 1), notification_date=None,
        kind=ChangeKind.EX_OFFICIO_ENTRY, note=" "), "職権記載の理由を入力してください", "note")


def test_correction_without_reason_or_change(env):
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.correct_person(env.actor(), p, expected_version=p.version,
                                               changes={"given_name": "華子"}, change_date=D(2024, 4, 1), note=""),
                "職権修正の理由を入力してください", "note")
    expect_rule(lambda: actions.correct_person(env.actor(), p, expected_version=p.version,
                                               changes={"given_name": "花子"}, change_date=D(2024, 4, 1),
                                               note="確認"), "変更された項目がありません")
    expect_rule(lambda: actions.correct_person(env.actor(), p, expected_version=p.version,
                                               changes={"resident_code": "12345678901"}, change_date=D(2024, 4, 1),
                                               note="確認"), "修正できない項目です")


def test_removal_needs_reason(env):
    p = env.fresh(env.wife)
    expect_rule(lambda: actions.remove_ex_officio(env.actor(), p, expected_version=p.version,
                                                  change_date=D(2024, 4, 1), note=""),
                "職権消除の理由を入力してください", "note")


def test_move_within_same_address_or_empty(env):
    expect_rule(env.move(env.wife, address="三本松二丁目3番5号"), "新しい住所が現在の住所と同じです", "address")
    expect_rule(env.move(env.wife, address=" "), "新しい住所を入力してください", "address")


# ---------------------------------------------------------------- split and merge

def test_split_errors(env):
    hh = env.head.household
    head, wife, child = env.fresh(env.head), env.fresh(env.wife), env.fresh(env.child)

    def split(members, new_head, relationships=None, remaining_head=None):
        return lambda: actions.split_household(env.actor(), hh, members=members, new_head=new_head,
                                               relationships=relationships or {}, remaining_head=remaining_head,
                                               change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1))

    expect_rule(split([], wife), "分離する住民を選んでください", "members")
    expect_rule(split([head, wife, child], head, {wife.pk: "妻", child.pk: "子"}),
                "世帯の全員を分離することはできません", "members")
    expect_rule(split([wife], child), "新しい世帯の世帯主は、分離する住民から選んでください", "new_head")
    expect_rule(split([head], head), "元の世帯に残る住民から新しい世帯主を指定してください", "remaining_head")
    expect_rule(split([head], head, remaining_head=head), "元の世帯に残る住民から新しい世帯主を指定してください",
                "remaining_head")
    # a relationship missing for a non-head member: raised after the new household was begun — all rolled back
    expect_rule(split([wife, child], wife, {}), "の新しい世帯主との続柄を入力してください", "relationships")
    other = actions.register_move_in(env.actor(), values=person_values(family_name="他人", family_name_kana="タニン"),
                                     change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    expect_rule(split([other], other), "分離できるのは、この世帯の現存する住民だけです", "members")
    # a head split with the remaining head named: a relationship missing after the head change was saved
    expect_rule(split([head, child], head, {}, remaining_head=wife), "続柄を入力してください", "relationships")
    assert env.fresh(env.wife).is_head is False


def test_merge_errors(env):
    hh = env.head.household
    other = actions.register_move_in(env.actor(), values=person_values(family_name="鈴木", family_name_kana="スズキ"),
                                     change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))

    def merge(source, target, rel=None):
        return lambda: actions.merge_household(env.actor(), source, target=target, relationships=rel or {},
                                               change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1))

    expect_rule(merge(hh, hh), "同じ世帯には合併できません", "target")
    expect_rule(merge(other.household, hh), "の合併先の世帯主との続柄を入力してください", "relationships")
    actions.register_death(env.actor(), env.fresh(other), expected_version=env.fresh(other).version,
                           death_date=D(2024, 1, 1), notification_date=D(2024, 1, 1))
    expect_rule(merge(Household.objects.get(pk=other.household_id), hh, {other.pk: "父"}),
                "現存しない世帯は合併できません", "target")


def test_birth_into_dissolved_household(env):
    other = actions.register_move_in(env.actor(), values=person_values(family_name="鈴木", family_name_kana="スズキ"),
                                     change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    actions.register_death(env.actor(), env.fresh(other), expected_version=env.fresh(other).version,
                           death_date=D(2024, 1, 1), notification_date=D(2024, 1, 1))
    expect_rule(lambda: actions.register_birth(
        env.actor(), household=Household.objects.get(pk=other.household_id),
        values={"family_name": "鈴木", "birth_date": D(2024, 2, 1), "sex": "1"}, notification_date=D(2024, 2, 2)),
        "この世帯は現存しません")


# ---------------------------------------------------------------- conflicts (optimistic lock)

def test_two_clerks_same_person_second_gets_conflict(env, staff):
    p1 = env.fresh(env.wife)  # clerk 1 opens the person
    p2 = env.fresh(env.wife)  # clerk 2 opens the same person, same version
    assert p1.version == p2.version
    loaded_version = p2.version
    actions.register_move_within(env.actor(), p1, expected_version=p1.version, address="豆田町1番1号",
                                 change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1), new_household_head=p1)
    after_first = _state()
    other = actions.Actor(intake=actions.IntakeInput.in_person(), user=staff["admin_a"], terminal="t2", municipality=env.m)
    with pytest.raises(ConflictError) as info:
        actions.register_move_within(other, p2, expected_version=loaded_version, address="隈一丁目2番",
                                     change_date=D(2024, 4, 2), notification_date=D(2024, 4, 2), new_household_head=p2)
    assert str(info.value) == CONFLICT_MESSAGE
    assert info.value.errors == {"__all__": [CONFLICT_MESSAGE]}
    assert _state() == after_first  # the first clerk's change is intact; nothing of the second written
    wife = env.fresh(env.wife)
    assert wife.address == "豆田町1番1号" and wife.version == loaded_version + 1
    assert PersonHistory.objects.filter(person=wife).count() == 2


@pytest.mark.parametrize("kind", ["death", "move_out", "correct", "removal"])
def test_stale_version_conflicts_for_other_kinds(env, kind):
    p = env.fresh(env.wife)
    stale = p.version
    actions.register_move_within(env.actor(), p, expected_version=stale, address="豆田町1番1号",
                                 change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1), new_household_head=p)
    p = env.fresh(p)
    run = {
        "death": lambda: actions.register_death(env.actor(), p, expected_version=stale, death_date=D(2024, 5, 1),
                                                notification_date=D(2024, 5, 1)),
        "move_out": lambda: actions.register_move_out(env.actor(), p, expected_version=stale, destination="福岡市",
                                                      planned_date=D(2024, 5, 1), notification_date=D(2024, 5, 1)),
        "correct": lambda: actions.correct_person(env.actor(), p, expected_version=stale,
                                                  changes={"given_name": "華子"}, change_date=D(2024, 5, 1),
                                                  note="x"),
        "removal": lambda: actions.remove_ex_officio(env.actor(), p, expected_version=stale,
                                                     change_date=D(2024, 5, 1), note="x"),
    }[kind]
    expect_rule(run, CONFLICT_MESSAGE, exc=ConflictError)


@sees_all_tenants
def test_conflict_through_the_web_keeps_the_second_clerks_input(env, staff):
    c1, c2 = Client(), Client()
    c1.force_login(staff["clerk_a"])
    c2.force_login(staff["admin_a"])
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    # both open the form: the same version is in both
    for c in (c1, c2):
        r = c.get(url)
        assert r.status_code == 200
        assert f'name="expected_version" value="{wife.version}"' in r.content.decode()
    alone = {"household_mode": "new", "new_household_head": wife.pk}
    first = {"expected_version": wife.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
             "notification_date": "R6.4.5", "note": "一人目", **alone}
    second = {"expected_version": wife.version, "address": "隈二丁目7番8号", "address_katagaki": "グランド隈302",
              "change_date": "令和6年4月2日", "notification_date": "令和6年4月6日", "note": "二人目の入力", **alone}
    assert c2.post(url, {**INTAKE, **second, "step": "confirm"}).status_code == 200  # clerk 2 reaches the confirmation
    assert c1.post(url, {**INTAKE, **first, "step": "commit"}).status_code == 302
    audit_before = AuditEvent.all_chains.filter(action__startswith="resident.change.").count()
    r = c2.post(url, {**INTAKE, **second, "step": "commit"})
    assert r.status_code == 409
    body = r.content.decode()
    assert CONFLICT_MESSAGE in body
    for typed in ("隈二丁目7番8号", "グランド隈302", "令和6年4月2日", "令和6年4月6日", "二人目の入力"):
        assert f'value="{typed}"' in body, typed  # nothing the clerk typed is lost
    fresh = env.fresh(wife)
    assert fresh.address == "豆田町5番1号" and fresh.version == wife.version + 1
    assert f'name="expected_version" value="{fresh.version}"' in body  # ready to re-submit after review
    assert "豆田町5番1号" in body  # the page shows the latest content
    assert PersonHistory.objects.filter(person=wife).count() == 2
    assert AuditEvent.all_chains.filter(action__startswith="resident.change.").count() == audit_before
    # re-submitting from the conflict page (now with the fresh version) succeeds
    # (she now lives alone in the household clerk 1's 転居 made: that household moves)
    r = c2.post(url, {**INTAKE, **second, "expected_version": fresh.version, "household_mode": "all", "step": "commit"})
    assert r.status_code == 302
    assert env.fresh(wife).address == "隈二丁目7番8号"


def test_rule_error_through_the_web_is_422_and_writes_nothing(env, staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    with NothingWritten():
        r = c.post(url, {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "2020-03-01",
                         "notification_date": "2020-03-02", "household_mode": "new", "new_household_head": wife.pk,
                         "step": "commit"})
    # (the view does not audit a rejected change)
    assert r.status_code == 422
    body = r.content.decode()
    assert "異動日が前回の異動日" in body and 'value="豆田町5番1号"' in body


def test_head_move_out_through_the_web_requires_new_head(env, staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    head = env.fresh(env.head)
    url = f"/residents/{head.pk}/change/move_out_planned/"
    with NothingWritten():
        r = c.post(url, {**INTAKE, "expected_version": head.version, "destination": "福岡市", "planned_date": "2024-05-01",
                         "notification_date": "2024-04-20", "new_head": "", "step": "commit"})
    assert r.status_code == 422
    assert "新しい世帯主を指定してください" in r.content.decode()


def test_conflict_on_a_household_change_is_a_409_not_a_crash(env, staff, monkeypatch):
    """A household change (世帯主変更, 分離, 合併) that meets a concurrent update raises ConflictError from `_save`;
    the page must say so (409) and keep the input, as for person changes."""
    from jichitai.residents import views

    def conflicting(actor, household, form, **kw):
        raise ConflictError(CONFLICT_MESSAGE)

    monkeypatch.setattr(views.CHANGES["head_change"], "run", conflicting)
    c = Client()
    c.force_login(staff["clerk_a"])
    hh = env.head.household_id
    with NothingWritten():
        r = c.post(f"/households/{hh}/change/head_change/",
                   {**INTAKE, "new_head": str(env.wife.pk), "former_head_relationship": "夫", "change_date": "R6.4.1",
                    "notification_date": "R6.4.2", "note": "世帯主交代の入力", "step": "commit",
                    "expected_version": actions.household_version(env.head.household)})
    assert r.status_code == 409
    body = r.content.decode()
    assert CONFLICT_MESSAGE in body and 'value="世帯主交代の入力"' in body
