"""Tenant-scoped reads of the issuance log."""
from django.core.paginator import Paginator
from django.http import Http404

from jichitai.residents.models import Person, Status

from .models import Issuance

PAGE_SIZE = 50


def get_issuance(issuance_id) -> Issuance:
    try:
        return Issuance.objects.select_related("issued_by", "voided_by", "reprint_of").get(pk=int(issuance_id))
    except (Issuance.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("no such issuance") from None


def issuance_log(*, date_from=None, date_to=None, status="", page=1):
    qs = Issuance.objects.select_related("issued_by").order_by("-issued_at", "-id")
    if date_from:
        qs = qs.filter(issued_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(issued_at__date__lte=date_to)
    if status:
        qs = qs.filter(status=status)
    return Paginator(qs, PAGE_SIZE).get_page(page)


def household_candidates(person: Person) -> list[Person]:
    """Who can go on one certificate with this person: the members of the household, head first; removed members
    appear only when the person is removed too (除票・転出証明書)."""
    qs = Person.objects.filter(household_id=person.household_id)
    if person.status == Status.RESIDENT:
        qs = qs.filter(status=Status.RESIDENT)
    return sorted(qs, key=lambda p: (not p.is_head, p.birth_date, p.pk))


def subjects(issuance: Issuance) -> list[Person]:
    found = {p.pk: p for p in Person.objects.filter(pk__in=issuance.person_ids)}
    return [found[i] for i in issuance.person_ids if i in found]
