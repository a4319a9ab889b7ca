"""届出 received offline are read through the read policy: the notifier and the memo (the new address is in there)
of an intake naming a DV-protected person are withheld from staff without the DV right."""
import datetime as dt

from conftest import client_for
from django.urls import reverse
from django.utils import timezone

from jichitai.continuity import offline, queries
from jichitai.continuity.offline_models import OfflineIntake
from jichitai.privacy import policy
from jichitai.residents import actions as ractions
from jichitai.residents.models import Person
from jichitai.tenancy.scope import tenant_scope

MEMO = "新住所: 秘匿町九丁目9番9号"


def _setup(town_a, staff):
    head, wife, child = town_a.family()
    with tenant_scope(town_a.m):
        p = Person.objects.get(pk=wife.pk)
        ractions.correct_person(town_a.actor(), p, expected_version=p.version, changes={"dv_protected": True},
                                change_date=dt.date(2024, 1, 10), note="支援措置の申出")
        kit = offline.reserve_kit(staff["admin_a"], device="hita-1", block_size=10)
        for uuid, who, memo in (("i-prot", p, MEMO), ("i-open", head, "転居の届出（本人）")):
            OfflineIntake.objects.create(uuid=uuid, kit=kit, received_at=timezone.now(), received_by="clerk-a",
                                         kind="other", atena_no=who.atena_no, notifier="届出人　花子", memo=memo)


def test_a_clerk_without_the_dv_right_does_not_see_the_memo_of_a_protected_persons_intake(town_a, staff):
    _setup(town_a, staff)
    page = client_for(staff["clerk_a"]).get(reverse("offline_intakes")).content.decode()
    assert MEMO not in page and policy.WITHHELD in page and "転居の届出（本人）" in page
    with tenant_scope(town_a.m):
        rows = {i.uuid: i for i in queries.offline_intakes(policy.for_staff(staff["clerk_a"]), status="pending")}
    assert rows["i-prot"].shown_memo == policy.WITHHELD == rows["i-prot"].shown_notifier
    assert rows["i-open"].shown_memo == "転居の届出（本人）"


def test_staff_with_the_dv_right_see_the_memo(town_a, staff):
    _setup(town_a, staff)
    for name in ("offline_intakes", "offline_kits"):
        page = client_for(staff["admin_a"]).get(reverse(name)).content.decode()
        assert MEMO in page and policy.WITHHELD not in page
