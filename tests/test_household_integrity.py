"""Household integrity in every 異動 (issue 10, item 1): after any change every household has exactly one head and
one address among its current members; and the confirmation (check_only) accepts and refuses exactly what the
commit accepts and refuses."""
import datetime as dt
import random

import pytest
from conftest import INTAKE, person_values
from django.test import Client
from test_rules import NothingWritten, expect_rule

from jichitai.audit.models import AuditEvent
from jichitai.chouaza.normalize import kanji_of
from jichitai.residents import actions
from jichitai.residents.actions import RuleError
from jichitai.residents.models import Household, Person, PersonHistory, Status

D = dt.date


def assert_households_whole(m):
    """Every existing household: ≥ 1 current member, exactly one head (the household's head, 続柄 世帯主) and one
    address; a household that no longer exists has no current member."""
    for hh in Household.all_tenants.filter(municipality=m):
        members = list(Person.all_tenants.filter(household=hh, status=Status.RESIDENT))
        if not hh.is_active:
            assert not members, f"世帯 {hh.household_no} は現存しないのに住民がいます"
            continue
        assert members, f"世帯 {hh.household_no} に住民がいません"
        heads = [p for p in members if p.is_head]
        assert len(heads) == 1, f"世帯 {hh.household_no} の世帯主: {[p.pk for p in heads]}"
        assert hh.head_id == heads[0].pk and heads[0].relationship == "世帯主"
        addresses = {(p.address_key, p.address_katagaki) for p in members}
        assert len(addresses) == 1, f"世帯 {hh.household_no} の住所: {addresses}"


# ---------------------------------------------------------------- 転居 of part of a household

def test_part_of_a_household_moves_into_a_new_household(env):
    actions.register_move_within(env.actor(), env.fresh(env.wife), expected_version=env.fresh(env.wife).version,
                                 address="豆田町5番1号", companions=[env.fresh(env.child)],
                                 new_household_head=env.fresh(env.wife), relationships={env.child.pk: "子"},
                                 change_date=D(2024, 4, 1), notification_date=D(2024, 4, 2))
    wife, child, head = env.fresh(env.wife), env.fresh(env.child), env.fresh(env.head)
    assert wife.household_id == child.household_id != head.household_id
    assert wife.is_head and wife.relationship == "世帯主" and child.relationship == "子" and not child.is_head
    assert child.address == wife.address == "豆田町5番1号" and head.address == "三本松二丁目3番5号"
    assert head.is_head and Household.objects.get(pk=head.household_id).head_id == head.pk
    assert_households_whole(env.m)


def test_part_of_a_household_must_say_where_it_goes(env):
    expect_rule(env.move(env.wife, with_household=False), "転居先で新しい世帯を作る", "household_mode")
    expect_rule(env.move(env.wife, new_household_head=env.fresh(env.head)),
                "新しい世帯の世帯主は、転居する住民から選んでください", "new_household_head")
    expect_rule(env.move(env.wife, companions=[env.fresh(env.child)], new_household_head=env.fresh(env.wife)),
                "の新しい世帯主との続柄を入力してください", "relationships")


def test_the_head_moving_alone_names_the_remaining_head(env):
    head = env.fresh(env.head)
    expect_rule(env.move(head, new_household_head=head), "元の世帯に残る住民から新しい世帯主を指定してください",
                "remaining_head")
    expect_rule(env.move(head, new_household_head=head, remaining_head=head), "元の世帯に残る住民から",
                "remaining_head")
    env.move(head, new_household_head=head, remaining_head=env.fresh(env.wife))()
    wife, head = env.fresh(env.wife), env.fresh(env.head)
    assert wife.is_head and wife.household_id == env.head.household_id
    assert head.is_head and head.household_id != wife.household_id and head.address == "豆田町5番1号"
    assert_households_whole(env.m)


def test_moving_into_an_existing_household_at_the_destination(env, town_a):
    host, _, _ = town_a.family(family_name="鈴木", kana="スズキ", address="豆田町5番1号")
    host_hh = Household.objects.get(pk=host.household_id)
    wife = env.fresh(env.wife)
    expect_rule(env.move(wife, join_household=host_hh, address="隈1番"), "加わる世帯の住所と異なります",
                "address")
    expect_rule(env.move(wife, join_household=host_hh), "の転居先の世帯主との続柄を入力してください", "relationships")
    expect_rule(env.move(wife, join_household=host_hh, relationships={wife.pk: "世帯主"}), "既に世帯主がいます",
                "relationships")
    expect_rule(env.move(wife, join_household=Household.objects.get(pk=wife.household_id)), "今の世帯には加われません",
                "join_household")
    env.move(wife, join_household=host_hh, relationships={wife.pk: "縁故者"})()
    wife = env.fresh(wife)
    assert wife.household_id == host_hh.pk and not wife.is_head and wife.relationship == "縁故者"
    assert_households_whole(env.m)


def test_a_whole_household_joining_another_ends_its_own(env, town_a):
    host, _, _ = town_a.family(family_name="鈴木", kana="スズキ", address="豆田町5番1号")
    host_hh = Household.objects.get(pk=host.household_id)
    head = env.fresh(env.head)
    rel = {env.head.pk: "縁故者", env.wife.pk: "縁故者", env.child.pk: "縁故者"}
    env.move(head, with_household=True, join_household=host_hh, relationships=rel)()
    old = Household.objects.get(pk=env.head.household_id)
    assert not old.is_active and old.head_id is None
    assert {p.household_id for p in map(env.fresh, (env.head, env.wife, env.child))} == {host_hh.pk}
    assert_households_whole(env.m)


# ---------------------------------------------------------------- 転入 / 出生 / 合併 keep one address

def test_move_in_into_a_household_at_another_address_is_refused(env):
    expect_rule(lambda: actions.register_move_in(
        env.actor(), household=env.head.household, values=person_values(address="隈1番", relationship="母"),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1)), "加わる世帯の住所", "address")
    expect_rule(lambda: actions.register_move_in(
        env.actor(), household=env.head.household, values=person_values(relationship="世帯主"),
        change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1)), "既に世帯主がいます", "relationship")


def test_merge_needs_the_same_address(env):
    other = actions.register_move_in(env.actor(), values=person_values(family_name="鈴木", address="隈1番"),
                                     change_date=D(2020, 4, 1), notification_date=D(2020, 4, 1))
    expect_rule(lambda: actions.merge_household(env.actor(), other.household, target=env.head.household,
                                                relationships={other.pk: "父"}, change_date=D(2024, 4, 1),
                                                notification_date=D(2024, 4, 1)),
                "合併先の世帯と住所が異なります", "target")


# ---------------------------------------------------------------- 世帯主変更 restates every 続柄

def test_head_change_restates_every_members_relationship(env, staff):
    expect_rule(lambda: actions.change_head(env.actor(), env.head.household, new_head=env.wife,
                                            former_head_relationship="夫", change_date=D(2024, 4, 1),
                                            notification_date=D(2024, 4, 1)),
                "一郎 の新しい世帯主から見た続柄を入力してください", "relationships")
    c = Client()
    c.force_login(staff["clerk_a"])
    url = f"/households/{env.head.household_id}/change/head_change/"
    body = c.get(url).content.decode()
    # every member other than the head gets a 続柄 field, prefilled with the current one for the clerk to confirm
    assert f'name="rel_{env.child.pk}"' in body and f'name="rel_{env.wife.pk}"' in body
    assert '<option value="子" selected>' in body
    version = actions.household_version(env.head.household)
    data = {"new_head": env.wife.pk, "former_head_relationship": "夫", f"rel_{env.child.pk}": "子",
            "change_date": "2024-04-01", "notification_date": "2024-04-02", "expected_version": version}
    r = c.post(url, {**INTAKE, **data, "step": "confirm"})
    assert r.status_code == 200 and "一郎 の新しい続柄" in r.content.decode()  # shown on the confirmation
    with NothingWritten():
        r = c.post(url, {**INTAKE, **data, f"rel_{env.child.pk}": "", "step": "commit"})
    assert r.status_code == 422 and "新しい世帯主から見た続柄を入力してください" in r.content.decode()


def test_the_move_form_asks_how_the_household_moves(env, staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    wife = env.fresh(env.wife)
    url = f"/residents/{wife.pk}/change/move_within/"
    body = c.get(url).content.decode()
    assert 'name="household_mode"' in body and "checked" not in body.split('name="household_mode"')[1][:80]
    with NothingWritten():
        r = c.post(url, {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "2024-04-01",
                         "notification_date": "2024-04-02", "step": "confirm"})
    assert r.status_code == 422 and "世帯全員で転居するか" in r.content.decode()
    r = c.post(url, {**INTAKE, "expected_version": wife.version, "address": "豆田町5番1号", "change_date": "2024-04-01",
                     "notification_date": "2024-04-02", "household_mode": "new", "new_household_head": wife.pk,
                     "companions": [env.child.pk], f"rel_{env.child.pk}": "子", "step": "commit"})
    assert r.status_code == 302
    assert env.fresh(env.child).household_id == env.fresh(wife).household_id != env.head.household_id
    assert_households_whole(env.m)


# ---------------------------------------------------------------- randomised: long sequences of 異動

ADDRESSES = ["三本松二丁目3番5号", "豆田町5番1号", "隈一丁目2番", "中本町1番", "淡窓一丁目4番"]
RELS = ["妻", "夫", "子", "母", "縁故者", "同居人"]


def _outcome(fn):
    try:
        fn()
    except RuleError as e:
        return type(e).__name__, e.errors
    return "ok", None


def _state():
    return (PersonHistory.all_tenants.count(), Household.all_tenants.count(), Person.all_tenants.count(),
            AuditEvent.all_chains.count())


class World:
    def __init__(self, env, rng):
        self.env, self.rng, self.day = env, rng, D(2021, 1, 1)
        self.n = 0

    def residents(self):
        return list(Person.objects.filter(status=Status.RESIDENT).select_related("household").order_by("pk"))

    def households(self):
        return list(Household.objects.filter(is_active=True).order_by("pk"))

    def dates(self):
        r = self.rng
        self.day += dt.timedelta(days=r.randint(1, 4))
        change = self.day - dt.timedelta(days=800) if r.random() < 0.07 else self.day
        notif = change + dt.timedelta(days=r.randint(0, 3))
        if r.random() < 0.05:
            notif = change - dt.timedelta(days=2)
        return change, notif

    def pick(self, seq, none_p=0.0):
        if not seq or self.rng.random() < none_p:
            return None
        return self.rng.choice(seq)

    def rels(self, people, miss_p=0.08):
        return {p.pk: self.rng.choice(RELS) for p in people if self.rng.random() >= miss_p}

    def step(self):
        """One random 異動 with random (sometimes wrong) input, as a callable taking check_only."""
        r, a = self.rng, self.env.actor()
        if r.random() < 0.04:  # a 受付 without the agent's name: refused by confirmation and commit alike
            a.intake = actions.IntakeInput(notifier_kind="agent", id_document="passport")
        change, notif = self.dates()
        residents, households = self.residents(), self.households()
        kind = r.choice(["move_in", "move_in_join", "birth", "move_within", "move_within", "move_within",
                         "move_out", "death", "head_change", "split", "merge"])
        self.n += 1
        if kind in ("move_in", "move_in_join"):
            hh = self.pick(households) if kind == "move_in_join" else None
            head = Person.objects.get(pk=hh.head_id) if hh else None
            address = head.address if head and r.random() < 0.8 else r.choice(ADDRESSES)
            prev = "大分県日田市隈1番" if r.random() < 0.05 else "福岡県福岡市中央区天神1番"
            values = person_values(family_name="乱数", given_name="太" + kanji_of(self.n), address=address, previous_address=prev,
                                   relationship=r.choice(RELS + ["", "世帯主"]) if hh else "",
                                   birth_date=D(1990, 1, 1))
            return lambda check_only: actions.register_move_in(
                a, values=values, household=hh, change_date=change, notification_date=notif,
                expected_version=actions.household_version(hh) if hh else None, check_only=check_only)
        if kind == "birth":
            hh = self.pick(households)
            if hh is None:
                return None
            values = {"family_name": "乱数", "given_name": kanji_of(self.n) + "子", "family_name_kana": "ランスウ",
                      "birth_date": change, "sex": r.choice(["1", "2"])}
            return lambda check_only: actions.register_birth(
                a, household=hh, values=values, notification_date=notif,
                expected_version=actions.household_version(hh), check_only=check_only)
        p = self.pick(residents)
        if p is None:
            return None
        members = [m for m in residents if m.household_id == p.household_id]
        others = [m for m in members if m.pk != p.pk]
        if kind == "move_within":
            mode = r.choice(["all", "new", "join", "none"])
            kw = {}
            companions = r.sample(others, r.randint(0, len(others))) if others else []
            movers = [p, *companions]
            if mode == "all":
                kw["with_household"] = True
            else:
                kw["companions"] = companions
            if mode == "new":
                kw["new_household_head"] = r.choice(movers if r.random() < 0.9 else members)
                kw["relationships"] = self.rels(movers)
            target = None
            if mode == "join":
                target = self.pick([h for h in households if h.pk != p.household_id] or households)
                kw["join_household"] = target
                kw["relationships"] = self.rels(members if mode == "join" and kw.get("with_household") else movers)
            if others and r.random() < 0.8:
                kw["remaining_head"] = self.pick(others)
            address = r.choice(ADDRESSES)
            if target is not None and r.random() < 0.8:
                address = Person.objects.get(pk=target.head_id).address
            return lambda check_only: actions.register_move_within(
                a, p, expected_version=p.version, address=address, change_date=change, notification_date=notif,
                check_only=check_only, **kw)
        if kind in ("move_out", "death"):
            new_head = self.pick(others if r.random() < 0.9 else members, none_p=0.15)
            if kind == "move_out":
                dest = "日田市豆田町1番" if r.random() < 0.05 else "福岡県福岡市博多区1番"
                # 複数転出: some members leave with him (now and then a stranger, which is refused)
                companions = r.sample(others, r.randint(0, len(others))) if others and r.random() < 0.5 else []
                if r.random() < 0.05:
                    companions.append(self.pick([q for q in residents if q.household_id != p.household_id] or [p]))
                return lambda check_only: actions.register_move_out(
                    a, p, expected_version=p.version, destination=dest, planned_date=change,
                    notification_date=notif, new_head=new_head, companions=companions, check_only=check_only)
            return lambda check_only: actions.register_death(
                a, p, expected_version=p.version, death_date=change, notification_date=notif, new_head=new_head,
                check_only=check_only)
        hh = p.household
        version = actions.household_version(hh)
        if kind == "head_change":
            new_head = self.pick(members if r.random() < 0.9 else residents)
            kw = dict(new_head=new_head, former_head_relationship=r.choice(RELS + [""]), relationships=self.rels(members))
            return lambda check_only: actions.change_head(
                a, hh, change_date=change, notification_date=notif, expected_version=version, check_only=check_only,
                **kw)
        if kind == "split":
            leaving = r.sample(members, r.randint(0, len(members)))
            kw = dict(members=leaving, new_head=self.pick(leaving or members), relationships=self.rels(leaving),
                      remaining_head=self.pick(members, none_p=0.1))
            return lambda check_only: actions.split_household(
                a, hh, change_date=change, notification_date=notif, expected_version=version, check_only=check_only,
                **kw)
        kw = dict(target=self.pick(households), relationships=self.rels(members))
        return lambda check_only: actions.merge_household(
            a, hh, change_date=change, notification_date=notif, expected_version=version, check_only=check_only, **kw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_keep_every_household_whole(env, town_a, seed):
    town_a.family(family_name="鈴木", kana="スズキ", address="豆田町5番1号")
    town_a.family(family_name="田中", kana="タナカ", address="隈一丁目2番")
    world = World(env, random.Random(seed))
    accepted = refused = 0
    for _ in range(120):
        run = world.step()
        if run is None:
            continue
        before = _state()
        confirmed = _outcome(lambda: run(True))
        assert _state() == before, "the confirmation wrote something"
        committed = _outcome(lambda: run(False))
        assert confirmed == committed, (confirmed, committed)
        if committed[0] == "ok":
            accepted += 1
        else:
            refused += 1
            assert _state() == before  # a refused change leaves nothing behind
        assert_households_whole(env.m)
    assert accepted > 20 and refused > 20, (accepted, refused)  # both paths really exercised


def _result(fn):
    try:
        return ("ok", None), fn()
    except RuleError as e:
        return (type(e).__name__, e.errors), None


@pytest.mark.parametrize("seed", [4, 5])
def test_random_sequences_with_approval_keep_the_register_untouched_until_approved(env, town_a, staff, seed):
    """審査・決裁 on: an accepted change is held (nothing of the register written); approving it later — after other
    changes were approved in between — runs the rules again: the check and the approval agree, a stale one is
    refused and leaves nothing behind, and every household stays whole after each step."""
    from jichitai.residents.models import Intake, IntakeStatus

    town_a.family(family_name="鈴木", kana="スズキ", address="豆田町5番1号")
    town_a.family(family_name="田中", kana="タナカ", address="隈一丁目2番")
    approver = actions.Actor(user=staff["admin_a"], terminal="決裁", municipality=env.m)
    actions.set_approval_required(approver, True)
    rng = random.Random(seed)
    world = World(env, random.Random(seed * 7))
    held, counts = [], {"held": 0, "approved": 0, "stale": 0, "returned": 0}
    for _ in range(120):
        run = world.step()
        if run is None:
            continue
        before = _state()
        confirmed = _outcome(lambda: run(True))
        assert _state() == before, "the confirmation wrote something"
        committed, row = _result(lambda: run(False))
        assert confirmed == committed, (confirmed, committed)
        if committed[0] == "ok":
            assert isinstance(row, Intake) and row.status == IntakeStatus.PENDING
            assert _state()[:3] == before[:3], "a held change wrote to the register"
            held.append(row)
            counts["held"] += 1
        else:
            assert _state() == before
        while held and rng.random() < 0.3:  # decide some held changes, in random order (some go stale)
            row = held.pop(rng.randrange(len(held)))
            if rng.random() < 0.1:
                actions.return_change(approver, row, reason="差し戻し（試験）")
                counts["returned"] += 1
                continue
            before = _state()
            checked = _outcome(lambda: actions.approve_change(approver, row, check_only=True))
            assert _state() == before, "the approval check wrote something"
            decided = _outcome(lambda: actions.approve_change(approver, row))
            assert checked == decided, (checked, decided)
            row.refresh_from_db()
            if decided[0] == "ok":
                counts["approved"] += 1
                assert row.status == IntakeStatus.APPROVED
            else:
                counts["stale"] += 1
                assert _state() == before and row.status == IntakeStatus.PENDING
            assert_households_whole(env.m)
        assert_households_whole(env.m)
    assert counts["approved"] > 10 and counts["stale"] > 0 and counts["held"] > 20, counts
