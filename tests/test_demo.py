"""`jichitai seed_demo` and the bulk loader: the demo register must be as consistent as one built by the actions."""
import collections
import io
import random
import re

import pytest
from conftest import sees_all_tenants
from django.core.management import call_command

from jichitai.audit.models import AuditEvent
from jichitai.audit.verify import verify_chain
from jichitai.common.checkdigits import validate_individual_number
from jichitai.demo.bulk import generate_municipality
from jichitai.demo.seed import DEMO_PASSWORD
from jichitai.moji.kana import kana_key, name_key
from jichitai.residents import actions
from jichitai.residents.models import SNAPSHOT_FIELDS, Household, Person, PersonHistory, Status
from jichitai.tenancy.models import Municipality, NumberSequence, Prefecture, StaffUser
from jichitai.tenancy.scope import tenant_scope

CODES = ["44204", "45383"]
SCALE = 0.002
EXPECTED = {"44204": round(70685 * SCALE), "45383": round(7294 * SCALE)}


def seed(*extra):
    out = io.StringIO()
    call_command("seed_demo", "--scale", str(SCALE), "--municipalities", ",".join(CODES), *extra, stdout=out)
    return out.getvalue()


@sees_all_tenants
def check_register(m):
    """Every invariant the actions keep, checked over one municipality's whole register."""
    persons = list(Person.all_tenants.filter(municipality=m).select_related("household").order_by("pk"))
    assert persons
    history = collections.defaultdict(list)
    for h in PersonHistory.all_tenants.filter(municipality=m).order_by("person_id", "history_no"):
        history[h.person_id].append(h)

    codes = set()
    for p in persons:
        # search keys exactly as compute_keys makes them
        assert p.kana_key == kana_key(p.family_name_kana + p.given_name_kana)
        assert p.name_key == name_key(p.family_name + p.given_name)
        assert p.given_key == name_key(p.given_name)
        assert p.address_key == actions.address_key(p.address)
        assert p.family_name and p.family_name_kana and p.address
        if p.individual_number:
            assert validate_individual_number(p.individual_number) == p.individual_number
        assert re.fullmatch(r"[0-9]{11}", p.resident_code)
        assert p.resident_code not in codes
        codes.add(p.resident_code)
        assert re.fullmatch(r"[0-9]{10}", p.atena_no)
        if p.is_foreign:
            assert p.nationality and p.foreign_category
            if p.residence_card_no:
                assert re.fullmatch(r"[A-Z]{2}[0-9]{8}[A-Z]{2}", p.residence_card_no)
        else:
            assert p.honseki and p.hittosha
            assert re.fullmatch(r"[\u30A0-\u30FF]+", p.family_name_kana)

        rows = history[p.pk]
        assert [h.history_no for h in rows] == list(range(1, len(rows) + 1))
        assert rows[0].change_kind in ("birth", "move_in")
        if rows[0].change_kind == "move_in" and rows[0].operator == "migration":
            assert rows[0].snapshot["previous_address"]
        assert p.version == len(rows)
        for h in rows:
            assert sorted(h.snapshot) == sorted(SNAPSHOT_FIELDS)  # jsonb does not keep key order
        # the current row is the projection of the latest snapshot
        assert rows[-1].snapshot == actions.snapshot(p)
        assert rows[0].snapshot["status"] == "resident"
        if p.status == Status.REMOVED:
            assert p.removal_reason in ("転出", "死亡") and p.removal_date
            assert len(rows) >= 2
            if p.removal_reason == "転出":
                assert p.move_out_state in ("予定", "確定") and p.move_out_destination
        assert p.last_change_date == max(h.change_date for h in rows)

    # households: exactly one active head among the active members, and it is the household's head
    members = collections.defaultdict(list)
    for p in persons:
        members[p.household_id].append(p)
    households = list(Household.all_tenants.filter(municipality=m))
    assert {h.pk for h in households} == set(members)
    for hh in households:
        active = [p for p in members[hh.pk] if p.status == Status.RESIDENT]
        if hh.is_active:
            heads = [p for p in active if p.is_head]
            assert len(heads) == 1, hh.household_no
            assert hh.head_id == heads[0].pk
            assert len({(p.address, p.address_katagaki) for p in active}) == 1
        else:
            assert not active and hh.head_id is None

    # the number series continue after the last number used
    seq = {s.name: s.last_value for s in NumberSequence.all_tenants.filter(municipality=m)}
    assert seq["atena"] == max(int(p.atena_no) for p in persons)
    assert seq["household"] == max(int(h.household_no) for h in households)
    assert len({p.atena_no for p in persons}) == len(persons)
    return persons


@sees_all_tenants
@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_a_consistent_register(caplog):
    out = seed("--quiet")
    assert "clerk-44204" in out and "http://127.0.0.1:8000/" in out

    assert dict(Prefecture.objects.values_list("code", "name")) == {"44": "大分県", "45": "宮崎県"}
    for code in CODES:
        m = Municipality.objects.get(code=code)
        assert m.name_kana
        persons = check_register(m)
        assert len(persons) == EXPECTED[code]
        with tenant_scope(m):
            kinds = set(AuditEvent.objects.values_list("action", flat=True))
            assert "demo.seeded" in kinds
            assert "resident.change.move_within" in kinds
        assert verify_chain(code).ok

    hita = Municipality.objects.get(code="44204")
    # the stories ran through the actions
    done = PersonHistory.all_tenants.filter(municipality=hita).exclude(operator="migration")
    assert set(done.values_list("change_kind", flat=True)) >= {"move_within", "head_change", "death",
                                                                "move_out_planned"}
    assert set(done.values_list("operator", flat=True)) == {"admin-44204"}
    # 綾町's 受付・決裁 stories went through (their new addresses are in the 町字 master): changes wait for 決裁
    from jichitai.residents.models import Intake
    aya = Municipality.objects.get(code="45383")
    statuses = sorted(Intake.all_tenants.filter(municipality=aya).exclude(status="registered")
                      .values_list("status", flat=True))
    assert statuses.count("pending") >= 2, statuses
    assert not [r.getMessage() for r in caplog.records if "demo story" in r.getMessage()]

    # one demo disaster for 日田市: evacuees, shelters' people and the 被災者台帳 belong to the same declared disaster
    from jichitai.disaster.models import DisasterActivation, Evacuee, VictimLedger
    open_ = DisasterActivation.all_tenants.filter(municipality=hita, ended_at__isnull=True)
    assert open_.count() == 1, list(open_.values_list("disaster__name", flat=True))
    act = open_.get()
    assert set(Evacuee.all_tenants.filter(municipality=hita).values_list("activation_id", flat=True)) == {act.pk}
    ledgers = set(VictimLedger.all_tenants.filter(municipality=hita).values_list("disaster_id", flat=True))
    assert ledgers == {act.disaster_id}
    # the review screen has something to show: evacuees written with too little to confirm them (要確認)
    assert Evacuee.all_tenants.filter(municipality=hita, match_state="review").exists()

    # logins: roles and the well-known password
    users = {u.username: u for u in StaffUser.objects.all()}
    assert users["operator"].role == "operator" and users["operator"].municipality is None
    assert users["admin-44204"].can_view_dv_protected and users["admin-44204"].municipality == hita
    assert {"clerk-44204", "viewer-44204", "disaster-44204", "admin-45383", "clerk-45383"} <= set(users)
    assert len({u.password for u in users.values()}) == 1  # hashed once


@sees_all_tenants
@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_login_works(client):
    seed("--quiet")
    counts = {c: Person.all_tenants.filter(municipality__code=c).count() for c in CODES}
    events = AuditEvent.all_chains.count()

    out = seed()
    assert "既にあります" in out
    assert "clerk-44204" in out and "clerk-45383" in out  # `make demo` run again still tells the logins
    assert {c: Person.all_tenants.filter(municipality__code=c).count() for c in CODES} == counts
    assert AuditEvent.all_chains.count() == events
    assert StaffUser.objects.filter(username="clerk-44204").count() == 1

    assert client.login(username="clerk-44204", password=DEMO_PASSWORD)
    client.logout()
    assert not client.login(username="clerk-44204", password="wrong-password")

    seed("--quiet", "--reset")
    assert {c: Person.all_tenants.filter(municipality__code=c).count() for c in CODES} == counts
    for code in CODES:
        check_register(Municipality.objects.get(code=code))
        assert verify_chain(code).ok


@pytest.mark.django_db(transaction=True)
def test_generate_municipality_streams_batches_and_continues_the_series():
    pref = Prefecture.objects.create(code="44", name="大分県")
    m = Municipality.objects.create(code="44204", name="日田市", prefecture=pref)
    first = generate_municipality(m, 700, random.Random(1), batch_size=250)
    second = generate_municipality(m, 300, random.Random(2), batch_size=1000)
    assert first["persons"] == 700 and second["persons"] == 300
    persons = check_register(m)
    assert len(persons) == 1000
    assert max(int(p.atena_no) for p in persons) == 1000

    # the real actions carry on from the bulk-loaded numbers
    admin = StaffUser.objects.create(username="admin-x", role="admin", municipality=m)
    with tenant_scope(m):
        actor = actions.Actor(intake=actions.IntakeInput.in_person(), user=admin, terminal="test")
        head = Person.objects.filter(is_head=True, status=Status.RESIDENT).first()
        import datetime as dt

        from django.utils import timezone
        today = timezone.localdate()
        p = actions.register_move_in(actor, values={
            "family_name": "日田", "given_name": "太郎", "family_name_kana": "ヒタ", "given_name_kana": "タロウ",
            "birth_date": dt.date(1990, 1, 2), "sex": "1", "address": head.address, "previous_address": "大分県大分市",
        }, change_date=today, notification_date=today)
        assert p.atena_no == "0000001001"
        assert int(p.household.household_no) == first["households"] + second["households"] + 1


def test_generation_is_reproducible_and_believable():
    import datetime as dt

    from jichitai.demo.generate import TownGenerator, age_on

    today = dt.date(2026, 4, 1)

    def town(seed):
        g = TownGenerator(code="44204", name="日田市", rng=random.Random(seed), today=today, n_hint=20000)
        people = []
        while len(people) < 20000:
            people += g.household()
        return people

    a, b = town(5), town(5)
    assert [(p["family_name"], p["given_name"], p["birth_date"]) for p in a] == \
        [(p["family_name"], p["given_name"], p["birth_date"]) for p in b]
    active = [p for p in a if p.get("status") != "removed"]
    old = sum(age_on(p["birth_date"], today) >= 65 for p in active) / len(active)
    assert 0.28 < old < 0.42  # an ageing rural town
    foreign = sum(p["is_foreign"] for p in a) / len(a)
    assert 0.01 < foreign < 0.035
    removed = (len(a) - len(active)) / len(a)
    assert 0.015 < removed < 0.05
    assert 0.001 < sum(p["dv_protected"] for p in a) / len(a) < 0.008
    # married couples share the family name (foreign wives keep theirs)
    by_rel = collections.Counter(p["relationship"] for p in a)
    assert by_rel["世帯主"] > by_rel["妻"] > 0 and by_rel["孫"] > 0 and by_rel["同居人"] > 0


# ---------------------------------------------------------------- production is not the demo

def _rows_of(m):
    with tenant_scope(m):
        return (Person.objects.count(), PersonHistory.objects.count(), Household.objects.count(),
                AuditEvent.objects.count())


def test_seeding_refuses_a_database_holding_a_real_municipality_and_deletes_nothing(town_a):
    """日田市 created by the platform (not by seed_demo), with residents: seeding and --reset both refuse, in
    Japanese and English, and every row of it survives."""
    from django.core.management.base import CommandError

    town_a.family()
    before = _rows_of(town_a.m)
    assert before[0] == 3 and before[1] >= 3 and before[3] >= 3
    for extra in ((), ("--reset",)):
        with pytest.raises(CommandError) as e:
            seed("--quiet", *extra)
        assert "デモ用でない自治体があります" in str(e.value) and "not created as demo tenants" in str(e.value)
        assert "日田市(44204)" in str(e.value)
    assert _rows_of(town_a.m) == before
    assert not Municipality.objects.filter(is_demo=True).exists()  # nothing was seeded either
    assert not StaffUser.objects.filter(username="clerk-44204").exists()


def test_reset_of_a_real_municipality_is_refused_even_when_called_directly(town_a):
    from jichitai.demo.seed import NotADemoDatabase, reset_municipality

    town_a.family()
    before = _rows_of(town_a.m)
    with pytest.raises(NotADemoDatabase):
        reset_municipality(town_a.m)
    assert _rows_of(town_a.m) == before


@pytest.mark.django_db(transaction=True)
def test_seeded_tenants_are_demo_and_reset_goes_through_the_purge_path():
    seed("--quiet")
    assert set(Municipality.objects.values_list("is_demo", flat=True)) == {True}
    seed("--quiet", "--reset")
    with tenant_scope(None):
        purged = list(AuditEvent.all_chains.filter(municipality=None, action="tenant.purged")
                      .values_list("object_id", flat=True))
    assert sorted(purged) == CODES  # one audited purge per demo tenant, on the platform chain
    # a real municipality added later makes the database not a demo one any more
    Municipality.objects.create(code="44201", name="大分市", prefecture=Prefecture.objects.get(code="44"))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        seed("--quiet", "--reset")
    for code in CODES:  # and the refused reset deleted nothing of the demo tenants either
        assert _rows_of(Municipality.objects.get(code=code))[0] > 0


def test_demo_tenants_are_marked_in_the_header_and_the_operator_list(staff, login, client):
    a, b = staff["clerk_a"].municipality, staff["clerk_b"].municipality
    Municipality.objects.filter(pk=b.pk).update(is_demo=True)
    c = login(staff["clerk_b"])
    assert 'class="demo-badge"' in c.get("/").content.decode()
    c.logout()
    c = login(staff["clerk_a"])
    assert 'class="demo-badge"' not in c.get("/").content.decode()  # a real tenant: no badge
    c.logout()
    from django.urls import reverse

    page = login(staff["operator"]).get(reverse("platform_tenants")).content.decode()
    rows = [r.split("</tr>")[0] for r in page.split("<tr>")[1:]]
    row_b = next(r for r in rows if b.name in r)
    row_a = next(r for r in rows if a.name in r)
    assert "デモ" in row_b and "デモ" not in row_a
