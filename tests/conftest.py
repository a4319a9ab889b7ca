"""Shared fixtures: two municipalities (tenants), staff of each role, and residents made through the actions."""
import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password

from jichitai.residents import actions
from jichitai.tenancy.models import Municipality, Prefecture, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope

PASSWORD = "correct-horse-9"
_HASH = {}


def _hash():
    if "h" not in _HASH:
        _HASH["h"] = make_password(PASSWORD)
    return _HASH["h"]


@pytest.fixture
def munis(db):
    oita = Prefecture.objects.create(code="44", name="大分県")
    miyazaki = Prefecture.objects.create(code="45", name="宮崎県")
    a = Municipality.objects.create(code="44204", name="日田市", prefecture=oita)
    b = Municipality.objects.create(code="45383", name="綾町", prefecture=miyazaki)
    return a, b


def make_user(username, role, municipality, **extra):
    return StaffUser.objects.create(username=username, password=_hash(), role=role, municipality=municipality,
                                    **extra)


@pytest.fixture
def staff(munis):
    a, b = munis
    return {
        "admin_a": make_user("admin-a", Role.ADMIN, a, can_view_dv_protected=True),
        "clerk_a": make_user("clerk-a", Role.CLERK, a),
        "viewer_a": make_user("viewer-a", Role.VIEWER, a),
        "disaster_a": make_user("disaster-a", Role.DISASTER, a),
        "admin_b": make_user("admin-b", Role.ADMIN, b, can_view_dv_protected=True),
        "clerk_b": make_user("clerk-b", Role.CLERK, b),
        "operator": make_user("operator", Role.OPERATOR, None),
    }


def person_values(**kw):
    v = {"family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ", "given_name_kana": "タロウ",
         "birth_date": dt.date(1975, 4, 1), "sex": "1", "address": "三本松二丁目3番5号",
         "previous_address": "福岡県福岡市中央区天神一丁目1番1号", "honseki": "大分県日田市三本松二丁目3番",
         "hittosha": "山田　太郎"}
    v.update(kw)
    return v


class Town:
    """Helper to build residents in one municipality through the real actions."""

    def __init__(self, municipality, user):
        self.m = municipality
        self.user = user

    def actor(self):
        return actions.Actor(user=self.user, terminal="test", municipality=self.m)

    def family(self, family_name="山田", kana="ヤマダ", address="三本松二丁目3番5号", **kw):
        with tenant_scope(self.m):
            head = actions.register_move_in(
                self.actor(), values=person_values(family_name=family_name, family_name_kana=kana, address=address,
                                                   **kw),
                change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
            wife = actions.register_move_in(
                self.actor(), household=head.household,
                values=person_values(family_name=family_name, family_name_kana=kana, given_name="花子",
                                     given_name_kana="ハナコ", sex="2", birth_date=dt.date(1977, 8, 15),
                                     relationship="妻", address=address),
                change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
            child = actions.register_birth(
                self.actor(), household=head.household,
                values={"family_name": family_name, "given_name": "一郎", "family_name_kana": kana,
                        "given_name_kana": "イチロウ", "birth_date": dt.date(2021, 6, 10), "sex": "1"},
                notification_date=dt.date(2021, 6, 20))
            head.refresh_from_db()
            return head, wife, child


@pytest.fixture
def town_a(munis, staff):
    return Town(munis[0], staff["admin_a"])


@pytest.fixture
def town_b(munis, staff):
    return Town(munis[1], staff["admin_b"])


@pytest.fixture
def login(client):
    def _login(user):
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return _login


TERMINAL = "窓口3@10.0.0.3"


class Env:
    """One family in town A, with A's clerk; tests using `env` run inside A's tenant scope."""

    def __init__(self, m, clerk, head, wife, child):
        self.m, self.clerk, self.head, self.wife, self.child = m, clerk, head, wife, child

    def actor(self):
        return actions.Actor(user=self.clerk, terminal=TERMINAL, municipality=self.m)

    def fresh(self, p):
        from jichitai.residents.models import Person

        return Person.objects.select_related("household").get(pk=p.pk)

    def move(self, p, **kw):
        """A 転居 of `p` (fresh version) ready to run: returns a callable, so a test can expect it to raise.
        Unless told otherwise, a head moves with the whole household and a member moves alone into a new household
        (one household, one address)."""
        p = self.fresh(p)
        args = dict(expected_version=p.version, address="豆田町5番1号", change_date=dt.date(2024, 4, 1),
                    notification_date=dt.date(2024, 4, 5))
        if not {"with_household", "new_household_head", "join_household"} & set(kw):
            args.update(with_household=True) if p.is_head else args.update(new_household_head=p)
        args.update(kw)
        return lambda: actions.register_move_within(self.actor(), p, **args)


@pytest.fixture
def env(town_a, staff):
    head, wife, child = town_a.family()
    with tenant_scope(town_a.m):
        yield Env(town_a.m, staff["clerk_a"], head, wife, child)
