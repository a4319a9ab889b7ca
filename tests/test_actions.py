"""Every change kind through the actions layer: the person's state after, one new history snapshot (history_no n+1)
with the right kind, content, operator and terminal, exactly one audit event per action, and nothing ever deleted."""
import datetime as dt
import json

import pytest
from conftest import person_values, sees_all_tenants

from jichitai.audit.models import AuditEvent
from jichitai.residents import actions
from jichitai.residents.models import ChangeKind, Household, Person, PersonHistory, Status
from jichitai.tenancy.scope import tenant_scope

from conftest import TERMINAL

D = dt.date


class Watch:
    """Counts before an action, and the checks every action must pass after it."""

    def __init__(self):
        self.persons = Person.all_tenants.count()
        self.removed = Person.all_tenants.filter(status=Status.REMOVED).count()
        self.history = {p.pk: p.history.count() for p in Person.all_tenants.all()}
        self.history_total = PersonHistory.all_tenants.count()
        self.households = Household.all_tenants.count()
        self.audit_max = AuditEvent.all_chains.order_by("-id").values_list("id", flat=True).first() or 0

    def new_audit(self):
        return list(AuditEvent.all_chains.filter(id__gt=self.audit_max).order_by("id"))

    def check(self, kind, changed, *, operator="clerk-a", terminal=TERMINAL, new_persons=0):
        """`changed`: persons that must have exactly one new history row each; returns {pk: new row}."""
        assert Person.all_tenants.count() == self.persons + new_persons  # nothing deleted, ever
        assert Person.all_tenants.filter(status=Status.REMOVED).count() >= self.removed  # 除票 stay
        assert PersonHistory.all_tenants.count() == self.history_total + len(changed)
        rows = {}
        for p in changed:
            before = self.history.get(p.pk, 0)
            hs = list(PersonHistory.all_tenants.filter(person_id=p.pk).order_by("history_no"))
            assert [h.history_no for h in hs] == list(range(1, before + 2))  # n+1, no gaps
            h = hs[-1]
            assert h.operator == operator and h.terminal == terminal
            assert h.processed_at is not None
            fresh = Person.all_tenants.select_related("household").get(pk=p.pk)
            assert h.snapshot == actions.snapshot(fresh)  # the snapshot is the person's current state
            assert h.municipality_id == fresh.municipality_id
            rows[p.pk] = h
        events = self.new_audit()
        assert [e.action for e in events] == [f"resident.change.{kind}"]
        e = events[0]
        assert e.actor_username == operator and e.terminal == terminal
        assert json.loads(e.detail)["kind"] == str(kind)
        assert set(e.object_id.split(",")) == {str(p.pk) for p in changed}
        return rows


def test_birth(env):
    w = Watch()
    baby = actions.register_birth(
        env.actor(), household=env.head.household,
        values={"family_name": "山田", "given_name": "次郎", "family_name_kana": "ヤマダ", "given_name_kana": "ジロウ",
                "birth_date": D(2023, 2, 3), "sex": "1"},
        notification_date=D(2023, 2, 10))
    rows = w.check(ChangeKind.BIRTH, [baby], new_persons=1)
    baby = env.fresh(baby)
    h = rows[baby.pk]
    assert h.history_no == 1 and h.change_kind == ChangeKind.BIRTH
    assert h.change_date == D(2023, 2, 3) and h.notification_date == D(2023, 2, 10)
    assert baby.status == Status.RESIDENT and baby.household_id == env.head.household_id
    assert baby.relationship == "子" and not baby.is_head
    assert baby.address == env.head.address  # born at the household's address
    assert baby.became_resident_date == D(2023, 2, 3)
    assert len(baby.resident_code) == 11 and baby.resident_code.isdigit()
    assert h.snapshot["given_name"] == "次郎" and h.snapshot["birth_date"] == "2023-02-03"
    assert h.snapshot["household_no"] == env.head.household.household_no


@sees_all_tenants
def test_move_in_new_household(env):
    w = Watch()
    p = actions.register_move_in(
        env.actor(), values=person_values(family_name="佐藤", family_name_kana="サトウ", address="豆田町1番1号"),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 3))
    rows = w.check(ChangeKind.MOVE_IN, [p], new_persons=1)
    p = env.fresh(p)
    assert Household.all_tenants.count() == w.households + 1
    assert p.is_head and p.relationship == "世帯主" and p.household.head_id == p.pk and p.household.is_active
    assert p.household_id != env.head.household_id
    assert p.address == "豆田町1番1号" and p.previous_address == "福岡県福岡市中央区天神一丁目1番1号"
    assert p.became_resident_date == D(2024, 4, 1) and p.last_change_date == D(2024, 4, 1)
    h = rows[p.pk]
    assert h.history_no == 1 and h.change_kind == ChangeKind.MOVE_IN
    assert h.snapshot["family_name"] == "佐藤" and h.snapshot["is_head"] is True
    assert h.snapshot["address"] == "豆田町1番1号"


@sees_all_tenants
def test_move_in_joining_a_household(env):
    w = Watch()
    p = actions.register_move_in(
        env.actor(), household=env.head.household,
        values=person_values(given_name="梅", given_name_kana="ウメ", sex="2", birth_date=D(1950, 1, 1),
                             relationship="母"),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 3))
    rows = w.check(ChangeKind.MOVE_IN, [p], new_persons=1)
    p = env.fresh(p)
    assert Household.all_tenants.count() == w.households
    assert p.household_id == env.head.household_id and not p.is_head and p.relationship == "母"
    assert env.fresh(env.head).is_head  # the head is unchanged
    assert rows[p.pk].snapshot["relationship"] == "母"


def test_move_within_alone(env):
    w = Watch()
    v = env.wife.version
    actions.register_move_within(env.actor(), env.wife, expected_version=v, address="豆田町5番1号",
                                 address_katagaki="コーポ豆田101", change_date=D(2024, 4, 1),
                                 notification_date=D(2024, 4, 5), note="単身転居", new_household_head=env.wife)
    rows = w.check(ChangeKind.MOVE_WITHIN, [env.wife])
    wife = env.fresh(env.wife)
    assert wife.address == "豆田町5番1号" and wife.address_katagaki == "コーポ豆田101"
    assert wife.previous_address == "三本松二丁目3番5号" and wife.address_date == D(2024, 4, 1)
    assert wife.version == v + 1 and wife.last_change_date == D(2024, 4, 1)
    assert env.fresh(env.head).address == "三本松二丁目3番5号"  # the others did not move
    h = rows[wife.pk]
    assert h.history_no == 2 and h.change_kind == ChangeKind.MOVE_WITHIN and h.note == "単身転居"
    assert h.change_date == D(2024, 4, 1) and h.notification_date == D(2024, 4, 5)
    assert h.snapshot["address"] == "豆田町5番1号" and h.snapshot["previous_address"] == "三本松二丁目3番5号"
    # the earlier snapshot still holds the old address
    first = PersonHistory.objects.get(person=wife, history_no=1)
    assert first.snapshot["address"] == "三本松二丁目3番5号"


def test_move_within_with_household(env):
    w = Watch()
    actions.register_move_within(env.actor(), env.head, expected_version=env.head.version, address="豆田町5番1号",
                                 change_date=D(2024, 4, 1), notification_date=D(2024, 4, 5), with_household=True)
    rows = w.check(ChangeKind.MOVE_WITHIN, [env.head, env.wife, env.child])
    for p in (env.head, env.wife, env.child):
        assert env.fresh(p).address == "豆田町5番1号"
        assert rows[p.pk].change_kind == ChangeKind.MOVE_WITHIN
    assert rows[env.head.pk].history_no == 2 and rows[env.child.pk].history_no == 2


def test_move_out_planned_then_confirmed(env):
    w = Watch()
    actions.register_move_out(env.actor(), env.wife, expected_version=env.wife.version,
                              destination="東京都千代田区一丁目1番", planned_date=D(2024, 5, 1),
                              notification_date=D(2024, 4, 20))
    rows = w.check(ChangeKind.MOVE_OUT_PLANNED, [env.wife])
    wife = env.fresh(env.wife)
    assert wife.status == Status.REMOVED and wife.removal_reason == "転出" and wife.removal_date == D(2024, 5, 1)
    assert wife.move_out_state == "予定" and wife.move_out_destination == "東京都千代田区一丁目1番"
    h = rows[wife.pk]
    assert h.history_no == 2 and h.change_kind == ChangeKind.MOVE_OUT_PLANNED
    assert h.snapshot["status"] == "removed" and h.snapshot["move_out_state"] == "予定"

    w = Watch()
    actions.confirm_move_out(env.actor(), wife, expected_version=wife.version, destination="東京都千代田区一丁目1番1号",
                             notice_date=D(2024, 5, 10))
    rows = w.check(ChangeKind.MOVE_OUT_CONFIRMED, [wife])
    wife = env.fresh(wife)
    assert wife.status == Status.REMOVED and wife.move_out_state == "確定"
    assert wife.move_out_destination == "東京都千代田区一丁目1番1号" and wife.move_in_notice_date == D(2024, 5, 10)
    h = rows[wife.pk]
    assert h.history_no == 3 and h.change_kind == ChangeKind.MOVE_OUT_CONFIRMED
    assert h.snapshot["move_out_state"] == "確定" and h.snapshot["move_in_notice_date"] == "2024-05-10"


def test_move_out_of_head_names_new_head(env):
    w = Watch()
    actions.register_move_out(env.actor(), env.head, expected_version=env.head.version, destination="福岡市",
                              planned_date=D(2024, 5, 1), notification_date=D(2024, 4, 20), new_head=env.wife)
    rows = w.check(ChangeKind.MOVE_OUT_PLANNED, [env.head, env.wife])
    head, wife = env.fresh(env.head), env.fresh(env.wife)
    assert head.status == Status.REMOVED and not head.is_head
    assert wife.is_head and wife.relationship == "世帯主" and wife.household.head_id == wife.pk
    assert rows[wife.pk].change_kind == ChangeKind.HEAD_CHANGE
    assert rows[head.pk].change_kind == ChangeKind.MOVE_OUT_PLANNED


def test_death(env):
    w = Watch()
    actions.register_death(env.actor(), env.wife, expected_version=env.wife.version, death_date=D(2024, 3, 1),
                           notification_date=D(2024, 3, 2))
    rows = w.check(ChangeKind.DEATH, [env.wife])
    wife = env.fresh(env.wife)
    assert wife.status == Status.REMOVED and wife.removal_reason == "死亡" and wife.removal_date == D(2024, 3, 1)
    assert rows[wife.pk].history_no == 2 and rows[wife.pk].change_kind == ChangeKind.DEATH
    assert rows[wife.pk].snapshot["removal_reason"] == "死亡"
    assert Person.objects.filter(pk=wife.pk).exists()  # a 除票, not deleted


@sees_all_tenants
def test_death_of_last_member_dissolves_household(env):
    p = actions.register_move_in(env.actor(), values=person_values(family_name="独居", family_name_kana="ドッキョ"),
                                 change_date=D(2022, 1, 1), notification_date=D(2022, 1, 1))
    w = Watch()
    actions.register_death(env.actor(), p, expected_version=1, death_date=D(2024, 3, 1),
                           notification_date=D(2024, 3, 2))
    w.check(ChangeKind.DEATH, [p])
    hh = Household.objects.get(pk=p.household_id)
    assert not hh.is_active and hh.head_id is None
    assert Household.all_tenants.count() == w.households  # the household row stays


def test_head_change(env):
    w = Watch()
    actions.change_head(env.actor(), env.head.household, new_head=env.wife, former_head_relationship="夫",
                        relationships={env.child.pk: "子"}, change_date=D(2024, 4, 1),
                        notification_date=D(2024, 4, 1))
    rows = w.check(ChangeKind.HEAD_CHANGE, [env.head, env.wife])
    head, wife = env.fresh(env.head), env.fresh(env.wife)
    assert wife.is_head and wife.relationship == "世帯主" and wife.household.head_id == wife.pk
    assert not head.is_head and head.relationship == "夫" and head.status == Status.RESIDENT
    assert rows[head.pk].history_no == 2 and rows[wife.pk].history_no == 2
    assert rows[head.pk].snapshot["relationship"] == "夫" and rows[wife.pk].snapshot["is_head"] is True


def test_head_change_restates_other_members_relationships(env):
    other = actions.register_move_in(env.actor(), household=env.head.household,
                                     values=person_values(given_name="梅", given_name_kana="ウメ", sex="2",
                                                          birth_date=D(1950, 1, 1), relationship="母"),
                                     change_date=D(2022, 1, 1), notification_date=D(2022, 1, 1))
    w = Watch()
    # the child keeps 子 (unchanged, so no history row); the mother becomes 夫の母 relative to the new head
    actions.change_head(env.actor(), env.head.household, new_head=env.wife, former_head_relationship="夫",
                        relationships={env.child.pk: "子", other.pk: "夫の母"}, change_date=D(2024, 4, 1),
                        notification_date=D(2024, 4, 1))
    rows = w.check(ChangeKind.HEAD_CHANGE, [env.head, env.wife, other])
    assert env.fresh(other).relationship == "夫の母" and rows[other.pk].snapshot["relationship"] == "夫の母"
    assert env.fresh(env.child).relationship == "子"


@sees_all_tenants
def test_household_split(env):
    w = Watch()
    new_hh = actions.split_household(env.actor(), env.head.household, members=[env.wife, env.child],
                                     new_head=env.wife, relationships={env.child.pk: "子"},
                                     change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2))
    rows = w.check(ChangeKind.HOUSEHOLD_SPLIT, [env.wife, env.child])
    assert Household.all_tenants.count() == w.households + 1
    wife, child, head = env.fresh(env.wife), env.fresh(env.child), env.fresh(env.head)
    assert wife.household_id == new_hh.pk == child.household_id
    assert wife.is_head and wife.relationship == "世帯主" and child.relationship == "子" and not child.is_head
    assert Household.objects.get(pk=new_hh.pk).head_id == wife.pk
    assert head.household_id == env.head.household_id and head.is_head
    assert rows[wife.pk].snapshot["household_no"] == new_hh.household_no
    assert rows[child.pk].snapshot["household_no"] == new_hh.household_no


def test_household_split_of_the_head(env):
    w = Watch()
    new_hh = actions.split_household(env.actor(), env.head.household, members=[env.head], new_head=env.head,
                                     relationships={}, remaining_head=env.wife, change_date=D(2024, 4, 1),
                                     notification_date=D(2024, 4, 2))
    w.check(ChangeKind.HOUSEHOLD_SPLIT, [env.head, env.wife])
    head, wife = env.fresh(env.head), env.fresh(env.wife)
    assert head.household_id == new_hh.pk and head.is_head
    assert wife.is_head and wife.household_id == env.head.household_id
    assert Household.objects.get(pk=env.head.household_id).head_id == wife.pk


@sees_all_tenants
def test_household_merge(env):
    other = actions.register_move_in(env.actor(), values=person_values(family_name="鈴木", family_name_kana="スズキ",
                                                                       given_name="梅", given_name_kana="ウメ"),
                                     change_date=D(2022, 1, 1), notification_date=D(2022, 1, 1))
    source = other.household
    w = Watch()
    target = actions.merge_household(env.actor(), source, target=env.head.household,
                                     relationships={other.pk: "妻の母"}, change_date=D(2024, 4, 1),
                                     notification_date=D(2024, 4, 1))
    rows = w.check(ChangeKind.HOUSEHOLD_MERGE, [other])
    other = env.fresh(other)
    assert target.pk == env.head.household_id
    assert other.household_id == env.head.household_id and not other.is_head and other.relationship == "妻の母"
    src = Household.objects.get(pk=source.pk)
    assert not src.is_active and src.head_id is None
    assert Household.all_tenants.count() == w.households
    assert rows[other.pk].history_no == 2 and rows[other.pk].snapshot["household_no"] == target.household_no


def test_ex_officio_entry(env):
    w = Watch()
    p = actions.register_move_in(env.actor(), values=person_values(family_name="職権", family_name_kana="ショッケン",
                                                                   previous_address=""),
                                 change_date=D(2024, 4, 1), notification_date=None,
                                 kind=ChangeKind.EX_OFFICIO_ENTRY, note="実態調査により記載")
    rows = w.check(ChangeKind.EX_OFFICIO_ENTRY, [p], new_persons=1)
    h = rows[p.pk]
    assert h.change_kind == ChangeKind.EX_OFFICIO_ENTRY and h.note == "実態調査により記載" and h.history_no == 1
    assert env.fresh(p).status == Status.RESIDENT


def test_ex_officio_correction(env):
    w = Watch()
    v = env.wife.version
    actions.correct_person(env.actor(), env.wife, expected_version=v,
                           changes={"given_name": "華子", "given_name_kana": "ハナコ"}, change_date=D(2024, 4, 1),
                           note="戸籍照合による修正")
    rows = w.check(ChangeKind.EX_OFFICIO_CORRECTION, [env.wife])
    wife = env.fresh(env.wife)
    assert wife.given_name == "華子" and wife.version == v + 1 and wife.name_key == "山田華子"
    h = rows[wife.pk]
    assert h.history_no == 2 and h.change_kind == ChangeKind.EX_OFFICIO_CORRECTION and h.note == "戸籍照合による修正"
    assert h.snapshot["given_name"] == "華子"
    assert PersonHistory.objects.get(person=wife, history_no=1).snapshot["given_name"] == "花子"
    e = w.new_audit()[0]
    assert json.loads(e.detail)["changed"] == ["given_name"]


def test_ex_officio_removal(env):
    w = Watch()
    actions.remove_ex_officio(env.actor(), env.head, expected_version=env.head.version, change_date=D(2024, 4, 1),
                              note="居住実態なし", new_head=env.wife)
    rows = w.check(ChangeKind.EX_OFFICIO_REMOVAL, [env.head, env.wife])
    head = env.fresh(env.head)
    assert head.status == Status.REMOVED and head.removal_reason == "職権消除" and head.removal_date == D(2024, 4, 1)
    assert rows[head.pk].note == "居住実態なし" and rows[head.pk].change_kind == ChangeKind.EX_OFFICIO_REMOVAL
    assert env.fresh(env.wife).is_head


@sees_all_tenants
def test_full_life_never_deletes_anything(env):
    """A sequence of changes: the person count only grows and every history row stays, numbered 1..n."""
    a = env.actor()
    counts = [Person.all_tenants.count()]
    actions.register_move_within(a, env.head, expected_version=env.head.version, address="豆田町1番",
                                 change_date=D(2023, 1, 1), notification_date=D(2023, 1, 2), with_household=True)
    counts.append(Person.all_tenants.count())
    actions.register_death(a, env.fresh(env.head), expected_version=env.fresh(env.head).version,
                           death_date=D(2023, 6, 1), notification_date=D(2023, 6, 2), new_head=env.fresh(env.wife))
    counts.append(Person.all_tenants.count())
    actions.register_move_out(a, env.fresh(env.child), expected_version=env.fresh(env.child).version,
                              destination="福岡市", planned_date=D(2023, 7, 1), notification_date=D(2023, 6, 20))
    counts.append(Person.all_tenants.count())
    assert counts == sorted(counts) and counts[-1] == counts[0]
    for p in (env.head, env.wife, env.child):
        nos = list(PersonHistory.objects.filter(person_id=p.pk).values_list("history_no", flat=True))
        assert nos == list(range(1, len(nos) + 1)) and len(nos) >= 3
    assert Person.objects.filter(status=Status.REMOVED).count() == 2


def test_history_rows_are_append_only(env):
    h = PersonHistory.objects.filter(person=env.head).first()
    h.note = "書き換え"
    with pytest.raises(RuntimeError):
        h.save()
    with pytest.raises(RuntimeError):
        h.delete()
    assert PersonHistory.objects.get(pk=h.pk).note == ""


def test_versions_increase_by_one_per_change(env):
    v = env.wife.version
    actions.register_move_within(env.actor(), env.wife, expected_version=v, address="豆田町2番",
                                 change_date=D(2024, 1, 1), notification_date=D(2024, 1, 1),
                                 new_household_head=env.wife)
    actions.register_move_within(env.actor(), env.wife, expected_version=v + 1, address="豆田町3番",
                                 change_date=D(2024, 2, 1), notification_date=D(2024, 2, 1))
    assert env.fresh(env.wife).version == v + 2


def test_viewer_cannot_be_an_actor(env, staff):
    with pytest.raises(actions.RuleError):
        actions.Actor(user=staff["viewer_a"], terminal="x", municipality=env.m)
    with pytest.raises(actions.RuleError):  # staff of B cannot change A's register
        actions.Actor(user=staff["clerk_b"], terminal="x", municipality=env.m)
