"""Every tenant-scoped read of the 避難行動要支援者名簿 and the 被災者台帳.

Who reads decides what is shown, through the read policy (privacy/policy.py), never a copied rule:
- the municipality's own screens and internal outputs take `policy.for_staff(user)`: a DV-protected person is
  listed, his address (and the district derived from it) withheld unless the reader has the right;
- the list provided to 避難支援等関係者 (PDF, CSV) leaves the municipality: it takes `policy.for_export(...)` without
  protected addresses, and DV-protected persons (`policy.protected_q()`) are left out altogether — their presence on
  a list of addresses would be a lead. In normal times only persons who consented are on it (第49条の11 第2項); while
  a disaster is declared, everyone (第3項, `queries.disaster_declared()`).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from jichitai.certificates.models import Issuance, Kind
from jichitai.privacy import policy
from jichitai.residents.models import Household, Person, Sex, Status

from . import queries
from .models.support import (CareLevel, ConsentStatus, DamageAssessment, DisabilityType, LedgerProvision,
                             ReliefMeasure, Supporter, VictimLedger, VulnerablePerson)

ELDERLY_AGE = 65
PROTECTED_DISTRICT = "（支援措置のため住所非表示）"
PURPOSE_INTERNAL = "internal"
NO_RIGHT = "（名簿の閲覧権限がないため表示しません）"
PURPOSE_PROVISION = "provision"

# 町字 from the address text, until a 町字 master lands: everything before the first 番地 number
# ("三本松二丁目3番5号" → "三本松二丁目", "大字小野1234番地" → "大字小野").


def district_of(address: str) -> str:
    """The 町字 of an address (the disaster app's one function, disaster.districts), 「（町字不明）」 when none."""
    from .districts import district_of as of

    return of(address) or "（町字不明）"


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def reasons(vp: VulnerablePerson) -> list[str]:
    """避難支援等を必要とする事由 (第49条の10 第2項第6号), in words."""
    out = []
    if vp.care_level:
        out.append(CareLevel(vp.care_level).label)
    if vp.physical_disability_grade:
        kind = f"・{DisabilityType(vp.disability_type).label}" if vp.disability_type else ""
        out.append(f"身体障害者手帳{vp.physical_disability_grade}級{kind}")
    if vp.intellectual_disability:
        out.append(f"療育手帳{vp.intellectual_disability}")
    if vp.mental_disability_grade:
        out.append(f"精神障害者保健福祉手帳{vp.mental_disability_grade}級")
    if vp.intractable_disease:
        out.append("難病")
    if vp.pregnant:
        out.append("妊産婦")
    if vp.infant:
        out.append("乳幼児")
    if vp.other_reason:
        out.append(vp.other_reason)
    return out


@dataclass
class RosterRow:
    id: int
    person_id: int
    atena_no: str
    name: str
    kana: str
    birth_date: dt.date
    age: int
    sex: str
    address: str | None
    district: str
    phone: str
    other_contact: str
    reasons: list
    elderly_only_household: bool
    consent: str
    consent_date: dt.date | None
    supporters: list = field(default_factory=list)
    plan_destination: str = ""
    plan_route: str = ""
    plan_notes: str = ""
    plan_date: dt.date | None = None
    address_withheld: bool = False
    version: int = 1

    @property
    def reason_text(self):
        r = list(self.reasons)
        if self.elderly_only_household:
            r.append("高齢者のみ世帯")
        return "、".join(r)


def _listed():
    return VulnerablePerson.objects.filter(is_listed=True, person__status=Status.RESIDENT)


def vulnerable_person_ids() -> set[int]:
    """The person ids on the 避難行動要支援者名簿 of the municipality in scope (for the safety-confirmation screens)."""
    return set(_listed().values_list("person_id", flat=True))


def _elderly_only(household_ids, today) -> set:
    ages = {}
    for hh, birth in Person.objects.filter(household_id__in=household_ids, status=Status.RESIDENT).values_list(
            "household_id", "birth_date"):
        ages.setdefault(hh, []).append(age_on(birth, today))
    return {hh for hh, a in ages.items() if a and min(a) >= ELDERLY_AGE}


def provision_basis() -> dict:
    """Who is on the list provided to 避難支援等関係者 today, and on what legal basis."""
    act = queries.current_activation()
    if act is not None:
        return {"declared": True, "disaster": act.disaster.name,
                "text": f"災害（{act.disaster.name}）の発生により、同意の有無にかかわらず提供（災害対策基本法第49条の11第3項）"}
    return {"declared": False, "disaster": "",
            "text": "平常時のため、名簿情報の提供に同意した方のみ掲載（災害対策基本法第49条の11第2項）"}


def roster(reader: policy.Reader, *, purpose: str = PURPOSE_INTERNAL, district: str = "",
           today: dt.date | None = None) -> list[RosterRow]:
    """The 名簿 as `reader` may see it, ordered by district, then 五十音. `purpose` provision: the list that leaves
    the municipality (consent rule, protected persons left out)."""
    today = today or timezone.localdate()
    qs = _listed().select_related("person")
    if purpose == PURPOSE_PROVISION:
        if reader.dv_addresses:
            raise ValueError("the provided list never carries protected addresses")
        qs = qs.exclude(person__in=Person.objects.filter(policy.protected_q()))
        if not queries.disaster_declared():
            qs = qs.filter(consent=ConsentStatus.AGREED)
    vps = list(qs)
    persons = [vp.person for vp in vps]
    protected = policy.protected_person_ids(persons)
    elderly = _elderly_only({p.household_id for p in persons}, today)
    sups = {}
    for s in Supporter.objects.filter(vulnerable__in=[vp.pk for vp in vps]).order_by("id"):
        sups.setdefault(s.vulnerable_id, []).append(s)
    rows = []
    for vp in vps:
        p = vp.person
        data, withheld = policy.redact({"address": p.address, "address_katagaki": p.address_katagaki}, reader,
                                       person_protected=p.pk in protected)
        address = " ".join(x for x in (data["address"], data.get("address_katagaki")) if x) or data["address"]
        dist = PROTECTED_DISTRICT if withheld else district_of(p.address)
        hidden = reader.withheld_value if withheld else None  # the 避難先・経路 and supporters tell whereabouts too
        rows.append(RosterRow(
            id=vp.pk, person_id=p.pk, atena_no=p.atena_no, name=p.full_name, kana=p.full_kana,
            birth_date=p.birth_date, age=age_on(p.birth_date, today), sex=Sex(p.sex).label,
            address=address, district=dist, phone=vp.phone, other_contact=vp.other_contact, reasons=reasons(vp),
            elderly_only_household=p.household_id in elderly, consent=ConsentStatus(vp.consent).label,
            consent_date=vp.consent_date, supporters=[] if withheld else sups.get(vp.pk, []),
            plan_destination=hidden if withheld else vp.plan_destination,
            plan_route=hidden if withheld else vp.plan_route, plan_notes=hidden if withheld else vp.plan_notes,
            plan_date=vp.plan_date,
            address_withheld=withheld,
            version=vp.version))
    if district:
        rows = [r for r in rows if r.district == district]
    rows.sort(key=lambda r: (r.district == PROTECTED_DISTRICT, r.district, r.kana, r.atena_no))
    return rows


def by_district(rows: list[RosterRow]) -> list[tuple[str, list[RosterRow]]]:
    out = []
    for r in rows:
        if not out or out[-1][0] != r.district:
            out.append((r.district, []))
        out[-1][1].append(r)
    return out


def entry_withheld(user, person: Person) -> bool:
    """Whether this staff member gets a protected person's entry without its whereabouts (address, 避難先・経路,
    避難支援等関係者) — and so may not edit it."""
    return policy.withholds_address(policy.for_staff(user), person_protected=policy.person_is_protected(person))


def vulnerable_entry(vp_id) -> VulnerablePerson | None:
    try:
        return VulnerablePerson.objects.select_related("person").filter(pk=int(vp_id)).first()
    except (TypeError, ValueError):
        return None


def entry_for_person(person_id) -> VulnerablePerson | None:
    return VulnerablePerson.objects.select_related("person").filter(person_id=person_id).first()


def supporters_of(vp: VulnerablePerson):
    return list(Supporter.objects.filter(vulnerable=vp).order_by("id"))


def person_for_entry(person_id) -> Person | None:
    return Person.objects.filter(pk=person_id).select_related("household").first()


def person_by_atena(atena_no: str) -> Person | None:
    return Person.objects.filter(atena_no=(atena_no or "").strip()).select_related("household").first()


# ---------------------------------------------------------------- 被災者台帳

def ledgers(disaster_id):
    return (VictimLedger.objects.filter(disaster_id=disaster_id).select_related("household", "household__head")
            .order_by("household__household_no"))


def ledger(ledger_id) -> VictimLedger | None:
    try:
        return VictimLedger.objects.select_related("household", "household__head", "disaster").filter(
            pk=int(ledger_id)).first()
    except (TypeError, ValueError):
        return None


def ledger_for(disaster_id, household_id) -> VictimLedger | None:
    return VictimLedger.objects.filter(disaster_id=disaster_id, household_id=household_id).first()


def household_members(household: Household) -> list[Person]:
    """The household's current members, head first (世帯の構成)."""
    return sorted(Person.objects.filter(household=household, status=Status.RESIDENT),
                  key=lambda p: (not p.is_head, p.birth_date, p.pk))


def latest_assessment(ledger_obj: VictimLedger) -> DamageAssessment | None:
    return DamageAssessment.objects.filter(ledger=ledger_obj).order_by("-recorded_at", "-id").first()


def certificate_issuances(ledger_obj: VictimLedger) -> list[Issuance]:
    """罹災証明書の交付の状況: the 交付簿 rows of this household's 罹災証明書 for this disaster."""
    rows = Issuance.objects.filter(kind=Kind.DISASTER_VICTIM, household_no=ledger_obj.household.household_no)
    return [i for i in rows.order_by("issued_at", "id") if i.options.get("disaster_id") == ledger_obj.disaster_id]


@dataclass
class LedgerView:
    ledger: VictimLedger
    members: list          # dicts: the register's items as the reader may see them, + 要配慮者の事由
    address: str | None
    address_withheld: bool
    whereabouts: str | None
    assessments: list
    latest: DamageAssessment | None
    relief: list
    provisions: list
    issuances: list


def ledger_view(ledger_obj: VictimLedger, reader: policy.Reader, today: dt.date | None = None, *,
                show_vulnerable: bool = True) -> LedgerView:
    """The 被災者台帳 of one household, every statutory item, as `reader` may see it (`show_vulnerable`: the reader
    may see the 名簿's 事由, Perm.VIEW_VULNERABLE_PERSONS)."""
    today = today or timezone.localdate()
    members = household_members(ledger_obj.household)
    protected = policy.protected_person_ids(members)
    vps = {vp.person_id: vp for vp in VulnerablePerson.objects.filter(person__in=members, is_listed=True)} \
        if show_vulnerable else {}
    rows, withheld_any, address = [], False, None
    for p in members:
        data, withheld = policy.redact({"address": p.address, "address_katagaki": p.address_katagaki,
                                        "individual_number": p.individual_number}, reader,
                                       person_protected=p.pk in protected)
        withheld_any = withheld_any or withheld
        if address is None:
            address = " ".join(x for x in (data["address"], data.get("address_katagaki")) if x) or data["address"]
        vp = vps.get(p.pk)
        rows.append({"person": p, "name": p.full_name, "kana": p.full_kana, "birth_date": p.birth_date,
                     "age": age_on(p.birth_date, today), "sex": Sex(p.sex).label, "relationship": p.relationship,
                     "individual_number": data["individual_number"],
                     "vulnerable": "、".join(reasons(vp)) if vp else "" if show_vulnerable else NO_RIGHT})
    whereabouts = ledger_obj.whereabouts
    if withheld_any and whereabouts:
        whereabouts = reader.withheld_value
    assessments = list(DamageAssessment.objects.filter(ledger=ledger_obj).order_by("recorded_at", "id"))
    return LedgerView(
        ledger=ledger_obj, members=rows, address=reader.withheld_value if withheld_any else address,
        address_withheld=withheld_any, whereabouts=whereabouts, assessments=assessments,
        latest=assessments[-1] if assessments else None,
        relief=list(ReliefMeasure.objects.filter(ledger=ledger_obj).order_by("given_on", "id")),
        provisions=list(LedgerProvision.objects.filter(ledger=ledger_obj).order_by("provided_at", "id")),
        issuances=certificate_issuances(ledger_obj))


def find_household(text: str) -> Household | None:
    """A household by 世帯番号, or by the 宛名番号 of a current member."""
    text = (text or "").strip()
    if not text:
        return None
    hh = Household.objects.filter(household_no=text).first()
    if hh is None:
        p = Person.objects.filter(Q(atena_no=text), status=Status.RESIDENT).select_related("household").first()
        hh = p.household if p else None
    return hh
