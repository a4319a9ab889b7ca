"""The one read policy for residents' personal data.

Every reader of the register — the person page, its history and household, search, the dashboard, certificates,
lists, the standard-layout export, the change feed, and every reader added later (PDF and CSV lists, PFIF, offline
copies) — asks this module, and nothing else, three questions:

1. **Who is reading?** A `Reader`: staff (by role and the DV right), an API client (by its scopes) or an export
   (by its purpose). `for_staff`, `for_api_client` and `for_export` are the only ways to make one.
2. **Is this person protected?** DV等支援措置 applies to the person's *current* flag and to *every earlier
   snapshot*: a person protected today has every address ever recorded withheld — the ones recorded before
   protection began included — and a snapshot taken while the person was protected stays withheld after the
   protection ends. When the municipality's setting `protect_household_members` is on (standard value off), the
   current members of a household that has a protected resident are protected too. `protected_q` (querysets),
   `protected_person_ids` (a batch of rows) and `sql_person_protected` (raw SQL readers such as the export's COPY)
   are three spellings of that one rule, tested against each other. With the rule on, a member who *left* such a
   household keeps the addresses recorded there withheld: his snapshots with that household's 世帯番号, and a
   前住所 that is a protected household's current address (the household-leaver rule, in `withholds_address` and
   `redact`; `sql_withholding` is its SQL spelling for raw readers, tested against `redact`).
3. **What of the row may this reader see?** `redact` withholds the address fields of a protected person from a
   reader without the DV right, masks 個人番号 for readers without that right, and keeps only the fields an API
   client's scopes grant. Staff see `WITHHELD` in place of a withheld value; machines (API, export) get none.

Address search is governed here too (`address_search_excludes_protected`): matching a withheld address would reveal
it, so such readers never find a protected person by address.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from jichitai.common.checkdigits import mask_individual_number
from jichitai.tenancy.roles import Perm, has_perm

WITHHELD = "（支援措置のため表示しません）"

# Every field that says where a person lives or lived. Withheld together, from every snapshot.
ADDRESS_FIELDS = ("address", "address_katagaki", "postal_code", "previous_address", "move_out_destination")


class ProtectedExportRefused(PermissionDenied):
    """An export with DV-protected addresses was asked for by someone without the right."""

    message = ("支援措置対象者の住所を含めて出力できるのは、支援措置対象者の住所を閲覧できる職員だけです / "
               "only staff with the DV right may export protected addresses")

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class Reader:
    """Who reads, and what they may see. Make one with for_staff / for_api_client / for_export."""

    kind: str  # "staff", "api" or "export"
    name: str  # who, for the audit log: a username, an API client's name, "export:<purpose>"
    dv_addresses: bool  # may see a DV-protected person's address
    individual_number: bool  # may see 個人番号 unmasked
    fields: tuple | None = None  # the only snapshot fields this reader receives (API scopes); None: all

    @property
    def withheld_value(self):
        """What stands in for a withheld value: words for people, nothing for machines."""
        return WITHHELD if self.kind == "staff" else None

    @property
    def address_search_excludes_protected(self) -> bool:
        return not self.dv_addresses


def for_staff(user) -> Reader:
    sees_residents = has_perm(user, Perm.VIEW_RESIDENTS)
    return Reader(
        kind="staff", name=getattr(user, "username", "") or "",
        dv_addresses=bool(getattr(user, "can_view_dv_protected", False)) and sees_residents,
        individual_number=has_perm(user, Perm.VIEW_INDIVIDUAL_NUMBER),
    )


def identifies_persons(user) -> bool:
    """Whether a staff member may see who a record is about (宛名番号 and name), e.g. on the audit screen:
    those who may view residents. Addresses stay governed by `redact`."""
    return has_perm(user, Perm.VIEW_RESIDENTS)


def for_api_client(client) -> Reader:
    from jichitai.api.scopes import allowed_fields, sees_dv_addresses

    fields = tuple(allowed_fields(client.scopes))
    return Reader(kind="api", name=f"api:{client.system_name}", dv_addresses=sees_dv_addresses(client.scopes),
                  individual_number="individual_number" in fields, fields=fields)


def for_export(user, *, include_protected_addresses: bool, purpose: str = "standard-layout",
               system: bool = False) -> Reader:
    """A whole-register export. Protected addresses are withheld unless asked for, and asking needs the DV right
    (`system=True`: the operator's shell command, which has no signed-in user and says so in the audit log)."""
    if include_protected_addresses and not system and not for_staff(user).dv_addresses:
        raise ProtectedExportRefused()
    numbers = True if system else has_perm(user, Perm.VIEW_INDIVIDUAL_NUMBER)
    return Reader(kind="export", name=f"export:{purpose}", dv_addresses=include_protected_addresses,
                  individual_number=numbers)


def for_certificate(requester_kind: str) -> Reader:
    """Whoever a certificate is printed for. Only the person and their household (本人・同一世帯) get addresses
    recorded while the person was protected; for anyone else (代理人, 第三者, 公用) they are left out. (A third party
    asking for a person protected now is refused before printing; staff issuing need the DV right.)"""
    own = requester_kind in ("self", "same_household")
    return Reader(kind="certificate", name=f"certificate:{requester_kind}", dv_addresses=own, individual_number=own)


# ---------------------------------------------------------------- who is protected

def household_rule() -> bool:
    """The municipality's (in scope) setting: are household members of a protected person protected too?
    Read once per municipality object (a request, a tenant_scope block), so a page's many rows cost one query."""
    from jichitai.platform import engine
    from jichitai.tenancy.scope import require_municipality

    m = require_municipality()
    cached = getattr(m, "_privacy_household_rule", None)
    if cached is None:
        cached = bool(engine.effective("privacy.protect_household_members", m))
        m._privacy_household_rule = cached
    return cached


def _protected_households_q():
    from jichitai.residents.models import Person, Status

    return Person.objects.filter(dv_protected=True, status=Status.RESIDENT).values("household_id")


def protected_q(rule: bool | None = None) -> Q:
    """A filter on Person querysets matching the persons protected now."""
    q = Q(dv_protected=True)
    if household_rule() if rule is None else rule:
        q |= Q(household_id__in=_protected_households_q())
    return q


def protected_person_ids(persons) -> set:
    """The pks of those of `persons` (Person rows) who are protected now."""
    persons = list(persons)
    out = {p.pk for p in persons if p.dv_protected}
    if household_rule():
        households = {p.household_id for p in persons if p.pk not in out}
        if households:
            hit = set(_protected_households_q().filter(household_id__in=households)
                      .values_list("household_id", flat=True))
            out |= {p.pk for p in persons if p.household_id in hit}
    return out


def person_is_protected(person) -> bool:
    return person.pk in protected_person_ids([person])


def sql_person_protected(alias: str, municipality_id: int) -> str:
    """The same rule as a SQL predicate on the person table aliased `alias`, for raw readers (COPY, bulk reads).
    No bind parameters (the readers put it in their select lists): the municipality id is an int literal."""
    from jichitai.residents.models import Person, Status

    if not household_rule():
        return f"{alias}.dv_protected"
    t = Person._meta.db_table
    return (f"({alias}.dv_protected OR {alias}.household_id IN (SELECT q.household_id FROM {t} q "
            f"WHERE q.municipality_id = {int(municipality_id)} AND q.dv_protected "
            f"AND q.status = '{Status.RESIDENT.value}'))")


def sql_protected_household_nos(municipality_id: int) -> str | None:
    """`_protected_household_nos` as a sub-select of 世帯番号 (None when the household rule is off), for raw
    readers. An int literal, no bind parameters, like sql_person_protected."""
    from jichitai.residents.models import Household, Person, Status

    if not household_rule():
        return None
    m = int(municipality_id)
    return (f"SELECT qh.household_no FROM {Household._meta.db_table} qh WHERE qh.municipality_id = {m} "
            f"AND qh.id IN (SELECT q.household_id FROM {Person._meta.db_table} q WHERE q.municipality_id = {m} "
            f"AND q.dv_protected AND q.status = '{Status.RESIDENT.value}')")


def sql_protected_addresses(municipality_id: int) -> str | None:
    """`_protected_addresses` as a sub-select of addresses (None when the household rule is off)."""
    from jichitai.residents.models import Person, Status

    if not household_rule():
        return None
    m = int(municipality_id)
    t = Person._meta.db_table
    return (f"SELECT qa.address FROM {t} qa WHERE qa.municipality_id = {m} AND qa.address IS NOT NULL "
            f"AND qa.address <> '' AND qa.household_id IN (SELECT q.household_id FROM {t} q "
            f"WHERE q.municipality_id = {m} AND q.dv_protected AND q.status = '{Status.RESIDENT.value}')")


@dataclass(frozen=True)
class SqlWithholding:
    """What `redact` withholds from a reader without the DV right, as two SQL predicates for raw readers (the
    standard-layout export's COPY): `addresses` — every field of ADDRESS_FIELDS is withheld (withholds_address);
    `previous_address` — 前住所 is withheld (the former, or the household-leaver rule: it is a protected
    household's address). Made by `sql_withholding`, the one SQL spelling of the policy's row rule."""

    addresses: str
    previous_address: str


def sql_withholding(reader: Reader, alias: str, municipality_id: int, *, snapshot_dv: str | None = None,
                    snapshot_household_no: str | None = None, previous_address: str | None = None
                    ) -> SqlWithholding | None:
    """`withholds_address` and `redact`'s 前住所 rule as SQL, for rows of the person table aliased `alias`: its
    current row (no snapshot expressions: then the household rule is the person's own household) or one of its
    history snapshots (`snapshot_dv`: a boolean SQL expression for the snapshot's DV flag; `snapshot_household_no`:
    the snapshot's 世帯番号 as text). `previous_address`: the row's 前住所 as text (default `alias.previous_address`).
    None when the reader may see protected addresses. Engine-neutral SQL; the JSON extraction is the reader's."""
    if reader.dv_addresses:
        return None
    parts = [sql_person_protected(alias, municipality_id)]
    if snapshot_dv:
        parts.append(f"({snapshot_dv})")
    households = sql_protected_household_nos(municipality_id)
    if households and snapshot_household_no:
        parts.append(f"({snapshot_household_no}) IN ({households})")
    addresses = "(" + " OR ".join(parts) + ")"
    prev = previous_address or f"{alias}.previous_address"
    held = sql_protected_addresses(municipality_id)
    return SqlWithholding(addresses=addresses, previous_address=(
        f"({addresses} OR ({prev}) IN ({held}))" if held else addresses))


def manifest_entry(reader: Reader) -> dict:
    """What an export's manifest says about what the read policy left out."""
    return {"dv_protected_addresses": "included" if reader.dv_addresses else "withheld",
            "individual_numbers": "included" if reader.individual_number else "withheld",
            "household_members_protected": household_rule()}


# ---------------------------------------------------------------- what of a row a reader sees

def _protected_household_nos() -> frozenset:
    """The 世帯番号 of the households with a protected resident now (household rule on), read once per municipality
    object like household_rule()."""
    from jichitai.residents.models import Household
    from jichitai.tenancy.scope import require_municipality

    m = require_municipality()
    cached = getattr(m, "_privacy_protected_household_nos", None)
    if cached is None:
        cached = frozenset(Household.objects.filter(id__in=_protected_households_q())
                           .values_list("household_no", flat=True))
        m._privacy_protected_household_nos = cached
    return cached


def _protected_addresses() -> frozenset:
    """The current addresses of the protected households (household rule on), once per municipality object."""
    from jichitai.residents.models import Person
    from jichitai.tenancy.scope import require_municipality

    m = require_municipality()
    cached = getattr(m, "_privacy_protected_addresses", None)
    if cached is None:
        cached = frozenset(a for a in Person.objects.filter(household_id__in=_protected_households_q())
                           .values_list("address", flat=True).distinct() if a)
        m._privacy_protected_addresses = cached
    return cached


def withholds_address(reader: Reader, *, person_protected: bool, snapshot: dict | None = None) -> bool:
    """Whether this reader gets no address for this row: the person is protected now, or the snapshot was recorded
    while they were, or (household rule on) it was recorded in a household that has a protected resident now — a
    member who has left that household still has its protected address in his earlier snapshots."""
    if reader.dv_addresses:
        return False
    if person_protected or (snapshot and snapshot.get("dv_protected")):
        return True
    hh = snapshot.get("household_no") if snapshot else None
    return bool(hh) and household_rule() and hh in _protected_household_nos()


def withholds_previous_address(reader: Reader, previous_address) -> bool:
    """The household-leaver rule for 前住所 (household rule on): a member who left a protected household has that
    household's protected address as his 前住所, withheld from a reader without the DV right even though his own
    address is not. (redact applies it; a reader printing one item, like a certificate, asks here.)"""
    return bool(previous_address) and not reader.dv_addresses and household_rule() \
        and previous_address in _protected_addresses()


def redact(data: dict, reader: Reader, *, person_protected: bool) -> tuple[dict, bool]:
    """(what `reader` may see of `data` — a person's current row or any history snapshot as a dict of snapshot
    fields —, whether addresses were withheld). `person_protected` is the person's protection now
    (protected_person_ids / person_is_protected): it is required so that no reader can judge a snapshot by its own
    flag alone."""
    withheld = withholds_address(reader, person_protected=person_protected, snapshot=data)
    out = dict(data) if reader.fields is None else {f: data.get(f) for f in reader.fields}
    if withheld:
        for f in ADDRESS_FIELDS:
            if f in out:
                out[f] = reader.withheld_value if out[f] else (out[f] if reader.kind == "staff" else None)
    elif withholds_previous_address(reader, out.get("previous_address")):
        out["previous_address"] = reader.withheld_value
        withheld = True
    if not reader.individual_number and "individual_number" in out:
        out["individual_number"] = mask_individual_number(out["individual_number"]) if reader.kind == "staff" \
            else None
    return out, withheld
