"""Every change to the register (異動). One function per change kind; each runs in one transaction, checks the
business rules with Japanese messages, appends a full history snapshot per person changed, and writes one audit
event. Views and commands call these functions; nothing else writes residents.
"""
import datetime as dt
import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from jichitai import moji
from jichitai.audit.actions import append as audit_append
from jichitai.audit.actions import terminal_of
from jichitai.common.checkdigits import validate_individual_number, validate_resident_code
from jichitai.moji.kana import kana_key, name_key
from jichitai.tenancy.models import NumberSequence, next_number
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from . import config, rows
from .models import (SNAPSHOT_FIELDS, ChangeKind, Household, IdDocument, Intake, IntakeStatus, NotifierKind, Person,
                     PersonHistory, Status)


class RuleError(Exception):
    """A change broke a business rule. `errors` maps a field name (or "__all__") to Japanese messages."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
        super().__init__("; ".join(m for msgs in self.errors.values() for m in msgs))


class ConflictError(RuleError):
    """Someone else changed the person since the form was opened."""


CONFLICT_MESSAGE = (
    "この住民は、画面を開いた後に他の職員が更新しました。入力内容は保存していません。"
    "最新の内容を確認してから、もう一度入力してください。"
)


@dataclass
class IntakeInput:
    """届出の受付 as typed at the counter: who filed the notification (届出人) and which identity document
    (本人確認書類) was checked. Checked by every action (`_check_intake`), on the confirmation page and at commit."""

    notifier_kind: str = ""
    id_document: str = ""
    notifier_name: str = ""
    notifier_address: str = ""
    id_document_other: str = ""

    @classmethod
    def in_person(cls):
        """本人 with a 個人番号カード (demo seed, tests, batch callers that record a counter visit)."""
        return cls(notifier_kind=NotifierKind.SELF, id_document=IdDocument.MY_NUMBER_CARD)


@dataclass
class Actor:
    """Who is changing what, from where, on whose notification: passed to every action."""

    user: object
    terminal: str = "system"
    municipality: object = field(default=None)
    intake: IntakeInput | None = None

    def __post_init__(self):
        if self.municipality is None:
            self.municipality = require_municipality()
        if getattr(self.user, "municipality_id", None) != self.municipality.pk:
            raise RuleError("この自治体の住民記録を変更する権限がありません")
        if not has_perm(self.user, Perm.CHANGE_RESIDENTS):
            raise RuleError("住民記録を変更する権限がありません")
        self._intake_row = None  # the Intake of the change being written (set by _change_action)

    @classmethod
    def from_request(cls, request, intake: IntakeInput | None = None):
        return cls(user=request.user, terminal=terminal_of(request), intake=intake)


# ---------------------------------------------------------------- helpers shared by the actions

PERSON_INPUT_FIELDS = [
    "family_name", "given_name", "family_name_kana", "given_name_kana", "former_family_name",
    "former_family_name_kana", "birth_date", "sex", "relationship", "honseki", "hittosha", "postal_code", "address",
    "address_katagaki", "previous_address", "resident_code", "individual_number",
    "elector", "nhi", "late_elderly_medical", "care_insurance", "national_pension", "child_allowance",
    "adult_ward", "dv_protected", "is_foreign", "nationality", "foreign_category", "residence_status",
    "period_of_stay", "stay_expiry", "residence_card_no", "alias_name", "alias_name_kana",
]
CORRECTABLE_FIELDS = [f for f in PERSON_INPUT_FIELDS if f not in ("resident_code",)]


def address_key(text: str) -> str:
    """The one address normalisation (kanji, arabic and full-width numerals alike), for stored keys and search."""
    from jichitai.chouaza.normalize import address_key as key

    return key(text)


def search_keys(family_name, given_name, family_name_kana, given_name_kana, address) -> dict:
    """The derived search-key columns of a person; the registered text itself is never normalised.
    Bulk loaders (demo, standard-layout import, legacy migration) call this on plain rows."""
    nk, sel, deg, var = moji.name_keys(name_key(family_name + given_name))
    kana, loose = moji.kana_keys(family_name_kana + given_name_kana)
    return {"name_key": nk, "name_sel_key": sel, "name_deg_key": deg, "name_var_key": var,
            "given_key": name_key(given_name), "kana_key": kana, "kana_loose_key": loose,
            "address_key": address_key(address)}


def row_search_keys(row: dict) -> dict:
    return search_keys(row["family_name"], row["given_name"], row["family_name_kana"], row["given_name_kana"],
                       row["address"])


def compute_keys(p: Person) -> None:
    """Set the search keys on a model instance."""
    for k, v in search_keys(p.family_name, p.given_name, p.family_name_kana, p.given_name_kana, p.address).items():
        setattr(p, k, v)


def snapshot(p: Person) -> dict:
    out = {}
    for f in SNAPSHOT_FIELDS:
        v = p.household.household_no if f == "household_no" else getattr(p, f)
        out[f] = v.isoformat() if isinstance(v, dt.date) else v
    return out


def _today():
    return timezone.localdate()


def _check_dates(change_date, notification_date, *, person=None, notification_after_change=True, future_ok=False):
    errors = {}
    today = _today()
    if change_date is None:
        errors["change_date"] = "異動日を入力してください"
    elif change_date > today and not future_ok:
        errors["change_date"] = "異動日に未来の日付は指定できません"
    if notification_date is not None:
        if notification_date > today:
            errors["notification_date"] = "届出日に未来の日付は指定できません"
        elif notification_after_change and change_date and notification_date < change_date:
            errors["notification_date"] = "届出日が異動日より前になっています"
    if person is not None and change_date and person.last_change_date and change_date < person.last_change_date:
        errors["change_date"] = (
            f"異動日が前回の異動日（{person.last_change_date:%Y-%m-%d}）より前になっています。"
            "日付の順序を確認してください"
        )
    if errors:
        raise RuleError(errors)


def _require_resident(person: Person):
    if person.status == Status.REMOVED:
        raise RuleError("この住民は消除されています（除票）。除票に異動は登録できません")


def _validate_person_fields(values: dict, *, exclude_pk=None):
    errors = {}
    if not (values.get("family_name") or "").strip():
        errors["family_name"] = "氏を入力してください"
    if "birth_date" in values and values["birth_date"] is None:
        errors["birth_date"] = "生年月日を入力してください"
    elif values.get("birth_date") and values["birth_date"] > _today():
        errors["birth_date"] = "生年月日に未来の日付は指定できません"
    if values.get("sex") not in ("1", "2"):
        errors["sex"] = "性別を選択してください"
    if "address" in values and not (values.get("address") or "").strip():
        errors["address"] = "住所を入力してください"
    for key in ("family_name", "given_name", "family_name_kana", "given_name_kana", "address", "honseki"):
        text = values.get(key) or ""
        if any(0xE000 <= ord(c) <= 0xF8FF for c in text):
            errors[key] = "外字（私用領域の文字）は登録できません。文字の登録手続きをしてください"
    if values.get("individual_number"):
        try:
            values["individual_number"] = validate_individual_number(values["individual_number"])
        except ValueError as e:
            errors["individual_number"] = str(e).split(" / ")[0]
    if values.get("resident_code"):
        try:
            values["resident_code"] = validate_resident_code(values["resident_code"])
        except ValueError as e:
            errors["resident_code"] = str(e).split(" / ")[0]
        else:
            dup = Person.objects.filter(resident_code=values["resident_code"], status=Status.RESIDENT)
            if exclude_pk:
                dup = dup.exclude(pk=exclude_pk)
            if dup.exists():
                errors["resident_code"] = "この住民票コードは既に他の住民に記載されています（重複）"
    if values.get("is_foreign") and not values.get("nationality"):
        errors["nationality"] = "外国人住民は国籍・地域を入力してください"
    if errors:
        raise RuleError(errors)


def _check_address_in_master(address, field="address"):
    """An address entered inside the municipality names a 町字 of its master (町字 + 丁目 + 番地・号); free text
    where the municipality has no master (chouaza.validation)."""
    from jichitai.chouaza.validation import address_errors

    errors = address_errors(address or "")
    if errors:
        raise RuleError({field: errors})


def _check_names(values: dict, fields=None):
    """Names and readings: registrable characters, the standard's lengths, katakana (residents.name_rules).
    `fields`: only these (a correction checks what it changes, so a legacy name never blocks another change)."""
    from .name_rules import name_errors

    errors = name_errors(values if fields is None else {k: values.get(k) for k in fields})
    if errors:
        raise RuleError(errors)


def _new_resident_code() -> str:
    for _ in range(20):
        code = str(secrets.randbelow(10**11)).zfill(11)
        if not Person.objects.filter(resident_code=code).exists():
            return code
    raise RuleError("住民票コードを採番できませんでした")


_UPDATABLE = [f for f in Person._meta.concrete_fields if f.attname not in ("id", "municipality_id", "version")]


def _save(actor: Actor, person: Person, kind, change_date, notification_date, *, expected_version=None, note=""):
    """Write the person's new state and append its history snapshot.

    The UPDATE is conditional on the version the clerk's form was opened with (optimistic lock): if anyone changed
    the person since, nothing is written and ConflictError is raised, so rules checked on the state read before
    are still valid when the row is written. Only changed columns are sent. history_no equals the new version
    (every version has exactly one snapshot)."""
    compute_keys(person)
    person.last_change_date = max(filter(None, [person.last_change_date, change_date]))
    if person.pk is None:
        person.version = 1
        person.save(force_insert=True)
    else:
        expected = person.version if expected_version is None else expected_version
        loaded = getattr(person, "_loaded", None)
        values = {f.attname: getattr(person, f.attname) for f in _UPDATABLE
                  if loaded is None or f.attname not in loaded or loaded[f.attname] != getattr(person, f.attname)}
        if not rows.update_person(person, expected, values):
            raise ConflictError(CONFLICT_MESSAGE)
        person.version = expected + 1
        if loaded is not None:
            loaded.update(values, version=person.version)
    rows.insert_history(
        person_id=person.pk, history_no=person.version, change_kind=kind, change_date=change_date,
        notification_date=notification_date, processed_at=timezone.now(), operator=actor.user.username,
        terminal=actor.terminal, note=note, snapshot=snapshot(person),
        intake_id=actor._intake_row.pk if actor._intake_row is not None else None,
    )
    return person.version


def _audit(actor: Actor, kind, persons, detail=None):
    detail = {"kind": str(kind), **(detail or {})}
    row = actor._intake_row
    if row is not None:  # the 届出の受付 of this change, and the persons it touched
        detail["intake"] = intake_detail(row)
        Intake.objects.filter(pk=row.pk).update(person_ids=[p.pk for p in persons])
    audit_append(
        actor.municipality, f"resident.change.{kind}", actor=actor.user, terminal=actor.terminal,
        object_type="person", object_id=",".join(str(p.pk) for p in persons), detail=detail,
    )


def _active_members(household, exclude=()):
    ids = [p.pk for p in exclude]
    return list(Person.objects.filter(household=household, status=Status.RESIDENT).exclude(pk__in=ids)
                .order_by("pk"))


def _check_head_leaving(person, new_head):
    """A head leaving a household with members left behind must name the new head among them."""
    if not person.is_head:
        return
    remaining = _active_members(person.household, exclude=[person])
    if not remaining:
        return
    if new_head is None:
        raise RuleError({"new_head": "世帯主が抜けると、世帯に世帯主がいなくなります。新しい世帯主を指定してください"})
    if new_head.pk not in {m.pk for m in remaining}:
        raise RuleError({"new_head": "新しい世帯主は、同じ世帯に残る住民から選んでください"})


def _handle_head_leaving(actor, person, new_head, kind, change_date, notification_date, note=""):
    """Record the head leaving (checked before by _check_head_leaving): the new head, or the household ends."""
    if not person.is_head:
        return []
    remaining = _active_members(person.household, exclude=[person])
    if not remaining:
        Household.objects.filter(pk=person.household_id).update(is_active=False, head=None)
        return []
    new_head.is_head = True
    new_head.relationship = "世帯主"
    _save(actor, new_head, ChangeKind.HEAD_CHANGE, change_date, notification_date, note=note or "世帯主の異動に伴う変更")
    Household.objects.filter(pk=person.household_id).update(head=new_head)
    return [new_head]


VERSION_MISSING = "画面の版数（expected_version）がありません。画面を開き直してから入力してください"


def household_version(household) -> int:
    """The version of a household as the clerk's form saw it: a fingerprint of its head, whether it exists, and
    the id and version of every member (current and removed). Any change to a member, a member joining or
    leaving, or a new head changes it. Household forms carry it as `expected_version`."""
    import hashlib

    members = list(Person.objects.filter(household_id=household.pk).order_by("pk").values_list("pk", "version"))
    h = Household.objects.filter(pk=household.pk).values_list("head_id", "is_active").first()
    text = repr((h, members)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:6], "big")


def _check_household_version(household, expected_version):
    if expected_version is not None and household_version(household) != int(expected_version):
        raise ConflictError(CONFLICT_MESSAGE)


_PREFECTURE_PREFIX = re.compile(r"^(北海道|東京都|京都府|大阪府|[^\d0-9]{2,3}県)")


def in_this_municipality(municipality, text) -> bool:
    """Whether an address (as typed for 転出先 or 前住所) names the clerk's own municipality: with its prefecture
    (大分県日田市…) or without one (日田市…). Another prefecture's town of the same name (府中市) is not."""
    t = address_key(text)
    pref = municipality.prefecture.name
    if t.startswith(pref):
        return t[len(pref):].startswith(municipality.name)
    if _PREFECTURE_PREFIX.match(t):
        return False
    return t.startswith(municipality.name)


def _not_this_municipality(actor, field, text, what):
    if text and in_this_municipality(actor.municipality, text):
        raise RuleError({field: f"{what}が{actor.municipality.name}内の住所です。同じ市区町村の中での住所の変更は、"
                                f"転出・転入ではなく「転居」として登録してください"})


def _lock(person: Person, expected_version):
    """The person as of the clerk's form. A row read in this request (with its household) at the version the form
    was opened with is used as it is: every write below is conditional on that version, so a concurrent change
    still ends in ConflictError. Otherwise the row is (re-)read, locked where the engine can. The version is
    mandatory: a change without it would skip the conflict check."""
    if expected_version is None:
        raise RuleError({"expected_version": VERSION_MISSING})
    if (expected_version is not None and getattr(person, "_loaded", None) is not None
            and person.version == expected_version and "household" in person._state.fields_cache):
        return person
    fresh = Person.objects.select_for_update().select_related("household").get(pk=person.pk)
    if expected_version is not None and fresh.version != expected_version:
        raise ConflictError(CONFLICT_MESSAGE)
    return fresh


# ---------------------------------------------------------------- 届出の受付 and 審査・決裁
#
# Every public action below is wrapped by `_change_action`: it checks the 届出の受付 (届出人, 本人確認書類) with the
# change's own rules — on the confirmation page (check_only) and at commit alike — and at commit it records the
# Intake with its 受付番号 in the same transaction as the change. While the municipality requires 審査・決裁
# (config.approval_required), 登録する runs every rule, writes nothing to the register and holds the change as
# 決裁待ち: the action's arguments are kept (`Intake.payload`) and replayed by `approve_change`, which runs every rule
# again against the register as it then is.

# changes with no 届出 (made ex officio, or on another municipality's 転入通知): the notifier is 職権
NO_NOTIFIER_KINDS = {ChangeKind.EX_OFFICIO_ENTRY, ChangeKind.EX_OFFICIO_CORRECTION, ChangeKind.EX_OFFICIO_REMOVAL,
                     ChangeKind.MOVE_OUT_CONFIRMED}
NOTIFIER_CHOICES = [NotifierKind.SELF, NotifierKind.HEAD, NotifierKind.SAME_HOUSEHOLD, NotifierKind.AGENT]
ID_DOCUMENT_CHOICES = [IdDocument.MY_NUMBER_CARD, IdDocument.DRIVING_LICENCE, IdDocument.PASSPORT,
                       IdDocument.RESIDENCE_CARD, IdDocument.OTHER]
APPROVAL_CONFLICT = ("受付の後に、この住民（世帯）の記録が他の異動で更新されました。この届出は今の記録と合わないため"
                     "決裁できません。差し戻して、受付からやり直してください")
_ACTIONS = {}


def _check_intake(actor, kind) -> IntakeInput:
    """The 届出の受付's rules; returns the input as it will be recorded."""
    if kind in NO_NOTIFIER_KINDS:
        return IntakeInput(notifier_kind=NotifierKind.EX_OFFICIO, id_document=IdDocument.NONE)
    i = actor.intake or IntakeInput()
    errors = {}
    name = (i.notifier_name or "").strip()
    address = (i.notifier_address or "").strip()
    other = (i.id_document_other or "").strip()
    if i.notifier_kind not in NOTIFIER_CHOICES:
        errors["notifier_kind"] = "届出人を選んでください（本人・世帯主・同一世帯の者・代理人）"
    elif i.notifier_kind == NotifierKind.AGENT:
        if not name:
            errors["notifier_name"] = "代理人の氏名を入力してください"
        if not address:
            errors["notifier_address"] = "代理人の住所を入力してください"
    elif i.notifier_kind in (NotifierKind.HEAD, NotifierKind.SAME_HOUSEHOLD) and not name:
        errors["notifier_name"] = "届出人（世帯主・同一世帯の者）の氏名を入力してください"
    if len(name) > 60:
        errors["notifier_name"] = "届出人の氏名は60文字以内で入力してください"
    if len(address) > 200:
        errors["notifier_address"] = "届出人の住所は200文字以内で入力してください"
    if i.id_document not in ID_DOCUMENT_CHOICES:
        errors["id_document"] = "確認した本人確認書類を選んでください"
    elif i.id_document == IdDocument.OTHER and not other:
        errors["id_document_other"] = "「その他」の本人確認書類の名称を入力してください"
    if len(other) > 60:
        errors["id_document_other"] = "本人確認書類の名称は60文字以内で入力してください"
    if any(0xE000 <= ord(c) <= 0xF8FF for c in name + address + other):
        errors["notifier_name"] = "外字（私用領域の文字）は入力できません"
    if errors:
        raise RuleError(errors)
    return IntakeInput(notifier_kind=i.notifier_kind, id_document=i.id_document, notifier_name=name,
                       notifier_address=address if i.notifier_kind == NotifierKind.AGENT else "",
                       id_document_other=other if i.id_document == IdDocument.OTHER else "")


def next_receipt_no(municipality, day) -> int:
    """The day's next 受付番号 of a municipality. The increment is one UPDATE (… = last_value + 1), which takes the
    row's write lock before reading, so two counters never get the same number on either engine; the first number
    of a day creates the row (a concurrent creator's duplicate is caught and the UPDATE retried)."""
    name = f"receipt:{day:%Y%m%d}"
    series = NumberSequence.objects.filter(municipality=municipality, name=name)
    if not series.update(last_value=F("last_value") + 1):
        try:
            with transaction.atomic():
                NumberSequence.objects.create(municipality=municipality, name=name, last_value=1)
            return 1
        except IntegrityError:
            series.update(last_value=F("last_value") + 1)
    return int(series.values_list("last_value", flat=True).get())


def _subject(args, kwargs) -> tuple[str, list]:
    target = args[0] if args else kwargs.get("household")
    if isinstance(target, Person):
        return f"{target.full_name}（宛名番号 {target.atena_no}）", [target.pk]
    if isinstance(target, Household):
        return f"世帯番号 {target.household_no}", []
    values = kwargs.get("values") or {}
    return f"{values.get('family_name', '')}　{values.get('given_name', '')}".strip("　") + "（新規）", []


def _open_intake(actor, kind, intake: IntakeInput, status, *, subject="", person_ids=(), action="",
                 payload=None) -> Intake:
    now = timezone.now()
    day = timezone.localdate(now)
    return Intake.objects.create(
        received_on=day, receipt_no=next_receipt_no(actor.municipality, day), received_at=now,
        received_by=actor.user, terminal=actor.terminal[:120], change_kind=kind,
        notifier_kind=intake.notifier_kind, notifier_name=intake.notifier_name,
        notifier_address=intake.notifier_address, id_document=intake.id_document,
        id_document_other=intake.id_document_other, status=status, subject=subject[:200],
        person_ids=list(person_ids), action=action, payload=payload)


def intake_detail(row: Intake) -> dict:
    """What the audit event says of the 受付 (the 代理人's address stays in the Intake row)."""
    d = {"receipt_no": row.receipt_label, "received_at": row.received_at.isoformat(),
         "received_by": row.received_by.username, "notifier": row.notifier_kind, "id_document": row.id_document}
    if row.notifier_name:
        d["notifier_name"] = row.notifier_name
    if row.id_document_other:
        d["id_document_other"] = row.id_document_other
    if row.decided_by_id:
        d["approved_by"] = row.decided_by.username
    return d


def _encode(v):
    """An action's arguments as JSON (the held change): persons and households by id, dates as ISO text."""
    if isinstance(v, Person):
        return {"$person": v.pk}
    if isinstance(v, Household):
        return {"$household": v.pk}
    if isinstance(v, dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, dict):
        return {"$dict": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, str):
        return str(v)
    if v is None or isinstance(v, (bool, int, float)):
        return v
    raise TypeError(f"cannot hold an argument of type {type(v).__name__}")


def _decode(v):
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if "$person" in v:
            return Person.objects.select_related("household").get(pk=v["$person"])
        if "$household" in v:
            return Household.objects.get(pk=v["$household"])
        if "$date" in v:
            return dt.date.fromisoformat(v["$date"])
        if "$dict" in v:
            return {_decode(k): _decode(x) for k, x in v["$dict"]}
    return v


def _change_action(kind):
    """Wrap an action: the 届出の受付's rules, the Intake, and the hold while 審査・決裁 is required."""

    def decorate(fn):
        @functools.wraps(fn)
        @transaction.atomic
        def wrapper(actor, *args, check_only=False, **kwargs):
            k = kwargs.get("kind", kind)
            if actor._intake_row is not None:  # replayed by approve_change: its Intake is already there
                return fn(actor, *args, check_only=check_only, **kwargs)
            intake = _check_intake(actor, k)
            if check_only:
                return fn(actor, *args, check_only=True, **kwargs)
            subject, ids = _subject(args, kwargs)
            if config.approval_required(actor.municipality):
                fn(actor, *args, check_only=True, **kwargs)  # every rule; the register is not written
                row = _open_intake(actor, k, intake, IntakeStatus.PENDING, subject=subject, person_ids=ids,
                                   action=fn.__name__, payload={"args": _encode(list(args)),
                                                                "kwargs": _encode(kwargs)})
                audit_append(actor.municipality, "resident.intake.pending", actor=actor.user,
                             terminal=actor.terminal, object_type="intake", object_id=row.pk,
                             detail={"kind": str(k), "subject_ids": ids, **intake_detail(row)})
                return row
            actor._intake_row = _open_intake(actor, k, intake, IntakeStatus.REGISTERED, subject=subject,
                                             person_ids=ids, action=fn.__name__)
            try:
                return fn(actor, *args, **kwargs)
            finally:
                actor._intake_row = None

        _ACTIONS[fn.__name__] = wrapper
        return wrapper

    return decorate


def _check_decider(actor, intake):
    if not has_perm(actor.user, Perm.APPROVE_CHANGES):
        raise RuleError("異動を決裁する権限がありません")
    row = Intake.objects.select_for_update().select_related("received_by").get(pk=intake.pk)
    if row.status != IntakeStatus.PENDING:
        raise RuleError(f"この届出は「{IntakeStatus(row.status).label}」です。決裁・差し戻しができるのは決裁待ちの届出だけです")
    if row.received_by_id == actor.user.pk:
        raise RuleError("自分が受け付けた届出は決裁・差し戻しできません。受付者とは別の職員が審査してください")
    return row


@transaction.atomic
def approve_change(actor: Actor, intake: Intake, *, check_only=False):
    """審査・決裁: a second staff member approves a held change. Every rule runs again against the register as it is
    now, with the version the clerk's form had: a change made in between refuses with APPROVAL_CONFLICT."""
    row = _check_decider(actor, intake)
    args, kwargs = _decode(row.payload["args"]), _decode(row.payload["kwargs"])
    fn = _ACTIONS[row.action]
    replay = Actor(user=actor.user, terminal=actor.terminal, municipality=actor.municipality)
    row.status, row.decided_by, row.decided_at = IntakeStatus.APPROVED, actor.user, timezone.now()
    replay._intake_row = row
    try:
        result = fn(replay, *args, check_only=check_only, **kwargs)
    except ConflictError:
        raise ConflictError(APPROVAL_CONFLICT) from None
    except RuleError as e:
        raise RuleError({"__all__": ["今の住民記録では、この届出を登録できません: " + str(e)]}) from None
    if check_only:
        return None
    Intake.objects.filter(pk=row.pk).update(status=row.status, decided_by=actor.user, decided_at=row.decided_at)
    return result


@transaction.atomic
def return_change(actor: Actor, intake: Intake, *, reason):
    """差し戻し: the held change is not registered; the receiving clerk sees it with the reason."""
    row = _check_decider(actor, intake)
    reason = (reason or "").strip()
    if not reason:
        raise RuleError({"reason": "差し戻しの理由を入力してください"})
    if len(reason) > 200:
        raise RuleError({"reason": "差し戻しの理由は200文字以内で入力してください"})
    Intake.objects.filter(pk=row.pk).update(status=IntakeStatus.RETURNED, decided_by=actor.user,
                                            decided_at=timezone.now(), return_reason=reason)
    audit_append(actor.municipality, "resident.intake.returned", actor=actor.user, terminal=actor.terminal,
                 object_type="intake", object_id=row.pk,
                 detail={"kind": row.change_kind, "receipt_no": row.receipt_label,
                         "received_by": row.received_by.username, "reason": reason})
    row.refresh_from_db()
    return row


@transaction.atomic
def set_approval_required(actor: Actor, value: bool):
    """受付・決裁の設定: whether changes wait for 審査・決裁 (an admin's setting, the municipality's 個別 value in the
    tier engine, which audits it with old and new)."""
    from jichitai.platform import engine

    if not has_perm(actor.user, Perm.MANAGE_CHANGE_SETTINGS):
        raise RuleError("受付・決裁の設定を変更する権限がありません")
    return engine.set_value(actor.user, config.KEY_APPROVAL, bool(value), tier=engine.Tier.MUNICIPALITY,
                            municipality=actor.municipality, terminal=actor.terminal)


# ---------------------------------------------------------------- 記載: births and arrivals
#
# Every action takes `check_only`: with it, the action reads and locks what it would change and runs every rule,
# then returns None without writing anything. The confirmation page calls the action that way, so it refuses
# exactly what 登録する would refuse; 登録する calls it again without `check_only`, which runs the same rules once
# more inside the transaction that writes.

def _create_person(actor, kind, household, values, change_date, notification_date, note="", is_head=False):
    """Write a new person (values already checked by _validate_person_fields)."""
    person = Person(household=household, is_head=is_head,
                    **{k: v for k, v in values.items() if k in PERSON_INPUT_FIELDS})
    for f in ("given_name", "family_name_kana", "given_name_kana", "former_family_name", "former_family_name_kana",
              "honseki", "hittosha", "postal_code", "address_katagaki", "previous_address", "individual_number",
              "nationality", "foreign_category", "residence_status", "period_of_stay", "residence_card_no",
              "alias_name", "alias_name_kana"):
        if getattr(person, f) is None:
            setattr(person, f, "")
    person.atena_no = next_number(actor.municipality, "atena")
    person.resident_code = values.get("resident_code") or _new_resident_code()
    person.became_resident_date = change_date
    person.address_date = change_date
    person.notification_date = notification_date
    person.status = Status.RESIDENT
    try:
        with transaction.atomic():
            _save(actor, person, kind, change_date, notification_date, note=note)
    except IntegrityError:
        raise RuleError("宛名番号または住民票コードが重複しています") from None
    return person


def _new_household(actor, values):
    return Household.objects.create(household_no=next_number(actor.municipality, "household"))


@_change_action(ChangeKind.BIRTH)
def register_birth(actor: Actor, *, household: Household, values: dict, notification_date, note="",
                   expected_version=None, check_only=False):
    """出生: a child born into an existing household; the change date is the birth date. `expected_version` is the
    household's version (household_version) when the form was opened."""
    birth = values.get("birth_date")
    _check_dates(birth, notification_date)
    household = Household.objects.select_for_update().get(pk=household.pk)
    if not household.is_active or household.head_id is None:
        raise RuleError("この世帯は現存しません。出生は現存する世帯に記載してください")
    _check_household_version(household, expected_version)
    head = Person.objects.get(pk=household.head_id)
    values = {"address": head.address, "address_katagaki": head.address_katagaki, "postal_code": head.postal_code,
              **{k: v for k, v in values.items() if v not in (None, "")}}
    values.setdefault("relationship", "子")
    if values["relationship"] == "世帯主":
        raise RuleError({"relationship": "世帯には既に世帯主がいます。世帯主以外の続柄を入力してください"})
    _check_joins_at_household_address(household, values["address"], values.get("address_katagaki"))
    _validate_person_fields(values)
    _check_names(values)
    if check_only:
        return None
    person = _create_person(actor, ChangeKind.BIRTH, household, values, birth, notification_date, note)
    _audit(actor, ChangeKind.BIRTH, [person], {"household": household.household_no})
    return person


@_change_action(ChangeKind.MOVE_IN)
def register_move_in(actor: Actor, *, values: dict, change_date, notification_date, household=None,
                     kind=ChangeKind.MOVE_IN, note="", expected_version=None, check_only=False):
    """転入 (and 職権記載 with kind=EX_OFFICIO_ENTRY): a person arrives, into an existing household or as the head
    of a new one. A 前住所 in this municipality is refused (that is a 転居). `expected_version` is the joined
    household's version."""
    ex_officio = kind == ChangeKind.EX_OFFICIO_ENTRY
    if ex_officio and not note.strip():
        raise RuleError({"note": "職権記載の理由を入力してください"})
    _check_dates(change_date, notification_date, notification_after_change=not ex_officio)
    birth = values.get("birth_date")
    if birth and change_date and birth > change_date:
        raise RuleError({"birth_date": "生年月日が異動日より後になっています"})
    if kind == ChangeKind.MOVE_IN:
        if not (values.get("previous_address") or "").strip():
            raise RuleError({"previous_address": "転入前の住所（前住所）を入力してください"})
        _not_this_municipality(actor, "previous_address", values["previous_address"], "前住所")
    values = dict(values)
    if household is None:
        values["relationship"] = "世帯主"
    else:
        household = Household.objects.select_for_update().get(pk=household.pk)
        if not household.is_active:
            raise RuleError("この世帯は現存しません")
        _check_household_version(household, expected_version)
        if not (values.get("relationship") or "").strip():
            raise RuleError({"relationship": "世帯主との続柄を入力してください"})
        if values["relationship"].strip() == "世帯主":
            raise RuleError({"relationship": "世帯には既に世帯主がいます。世帯主以外の続柄を入力してください"})
        if (values.get("address") or "").strip():
            _check_joins_at_household_address(household, values["address"], values.get("address_katagaki"))
    if household is None and (values.get("address") or "").strip():
        _check_address_in_master(values["address"])
    _validate_person_fields(values)
    _check_names(values)
    if check_only:
        return None
    if household is None:
        household = _new_household(actor, values)
        person = _create_person(actor, kind, household, values, change_date, notification_date, note, is_head=True)
        Household.objects.filter(pk=household.pk).update(head=person)
    else:
        person = _create_person(actor, kind, household, values, change_date, notification_date, note)
    _audit(actor, kind, [person], {"household": household.household_no})
    return person


# ---------------------------------------------------------------- 修正: moves within, corrections

def _same_address(a_key, a_katagaki, b_key, b_katagaki):
    return a_key == b_key and (a_katagaki or "").strip() == (b_katagaki or "").strip()


def _household_head(household):
    return Person.objects.get(pk=household.head_id) if household.head_id else None


def _check_joins_at_household_address(household, address, katagaki, field="address"):
    """A person joining a household lives at its address: one household, one address."""
    head = _household_head(household)
    if head is not None and not _same_address(address_key(address), katagaki, head.address_key,
                                              head.address_katagaki):
        # the household's address is never put in the message: the actions do not know the reader, and a protected
        # household's address must not reach a clerk without the right (the household page shows it per the policy)
        raise RuleError({field: "加わる世帯の住所と異なります（世帯の住所は世帯の画面で確認できます）。"
                                "世帯員は世帯と同じ住所に記載します"})


@_change_action(ChangeKind.MOVE_WITHIN)
def register_move_within(actor: Actor, person: Person, *, expected_version, address, address_katagaki="",
                         postal_code="", change_date, notification_date, with_household=False, companions=(),
                         new_household_head=None, join_household=None, relationships=None, remaining_head=None,
                         note="", check_only=False):
    """転居: a new address in the same municipality, for the person and, with `with_household`, every current
    member of the household, or the `companions` named.

    One household has one address, so when members stay behind the movers either start a new household at the
    new address (`new_household_head`, one of the movers; `relationships` gives the others' 続柄 to him) or join
    an existing household there (`join_household`, 世帯合併; `relationships` gives every mover's 続柄 to its
    head). If the head moves and members stay, `remaining_head` names the household's new head. A whole household
    may also join an existing household at the destination; its own household then ends."""
    person = _lock(person, expected_version)
    _require_resident(person)
    _check_dates(change_date, notification_date, person=person)
    if not (address or "").strip():
        raise RuleError({"address": "新しい住所を入力してください"})
    if address_key(address) == person.address_key and (address_katagaki or "") == person.address_katagaki:
        raise RuleError({"address": "新しい住所が現在の住所と同じです"})
    household = person.household
    current = {m.pk: m for m in _active_members(household, exclude=[person])}
    if with_household:
        movers = [person, *current.values()]
    else:
        if any(c.pk not in current for c in companions):
            raise RuleError({"companions": "一緒に転居できるのは、同じ世帯の現存する住民だけです"})
        movers = [person, *(current[c.pk] for c in companions)]
    mover_ids = {p.pk for p in movers}
    staying = [m for m in current.values() if m.pk not in mover_ids]
    for p in movers[1:]:
        _check_dates(change_date, notification_date, person=p)
    relationships = relationships or {}
    if new_household_head is not None and join_household is not None:
        raise RuleError({"household_mode": "新しい世帯を作るか、転居先の世帯に加わるかのどちらかを選んでください"})
    if staying and new_household_head is None and join_household is None:
        raise RuleError({"household_mode": "世帯の一部の人だけが転居します。転居先で新しい世帯を作る（世帯主を指定）か、"
                                           "転居先の世帯に加わるかを選んでください"})
    if not staying and new_household_head is not None:
        raise RuleError({"household_mode": "世帯全員が転居するため、新しい世帯は作りません（世帯はそのまま転居します）"})
    rh = None
    if staying and household.head_id in mover_ids:
        if remaining_head is None or remaining_head.pk not in {m.pk for m in staying}:
            raise RuleError({"remaining_head": "世帯主が転居するため、元の世帯に残る住民から新しい世帯主を指定してください"})
        rh = next(m for m in staying if m.pk == remaining_head.pk)
        _check_dates(change_date, notification_date, person=rh)
    target = None
    if new_household_head is not None:
        if new_household_head.pk not in mover_ids:
            raise RuleError({"new_household_head": "新しい世帯の世帯主は、転居する住民から選んでください"})
        for p in movers:
            if p.pk != new_household_head.pk and not (relationships.get(p.pk) or "").strip():
                raise RuleError({"relationships": f"{p.full_name} の新しい世帯主との続柄を入力してください"})
    if join_household is None:  # joining: the household's address (checked below) is the address
        _check_address_in_master(address)
    if join_household is not None:
        target = Household.objects.select_for_update().get(pk=join_household.pk)
        if target.pk == household.pk:
            raise RuleError({"join_household": "今の世帯には加われません。転居先の別の世帯を指定してください"})
        if not target.is_active:
            raise RuleError({"join_household": "転居先の世帯が現存しません"})
        _check_joins_at_household_address(target, address, address_katagaki)
        for p in movers:
            rel = (relationships.get(p.pk) or "").strip()
            if not rel:
                raise RuleError({"relationships": f"{p.full_name} の転居先の世帯主との続柄を入力してください"})
            if rel == "世帯主":
                raise RuleError({"relationships": "転居先の世帯には既に世帯主がいます。世帯主以外の続柄を入力してください"})
    if check_only:
        return None
    touched = []
    if rh is not None:
        rh.is_head, rh.relationship = True, "世帯主"
        _save(actor, rh, ChangeKind.HEAD_CHANGE, change_date, notification_date, note=note or "世帯主の転居に伴う変更")
        Household.objects.filter(pk=household.pk).update(head=rh)
        touched.append(rh)
    new_household = _new_household(actor, {}) if new_household_head is not None else None
    for p in movers:
        p.previous_address = p.address
        p.address = address.strip()
        p.address_katagaki = (address_katagaki or "").strip()
        p.postal_code = (postal_code or "").strip()
        p.address_date = change_date
        p.notification_date = notification_date
        if new_household is not None:
            p.household = new_household
            p.is_head = p.pk == new_household_head.pk
            p.relationship = "世帯主" if p.is_head else relationships[p.pk].strip()
        elif target is not None:
            p.household, p.is_head, p.relationship = target, False, relationships[p.pk].strip()
        _save(actor, p, ChangeKind.MOVE_WITHIN, change_date, notification_date,
              expected_version=p.version, note=note)
        touched.append(p)
    detail = {}
    if new_household is not None:
        Household.objects.filter(pk=new_household.pk).update(head=new_household_head)
        detail = {"from": household.household_no, "to": new_household.household_no}
    elif target is not None:
        if not staying:
            Household.objects.filter(pk=household.pk).update(is_active=False, head=None)
        detail = {"from": household.household_no, "to": target.household_no}
    _audit(actor, ChangeKind.MOVE_WITHIN, touched, detail)
    return person


@_change_action(ChangeKind.EX_OFFICIO_CORRECTION)
def correct_person(actor: Actor, person: Person, *, expected_version, changes: dict, change_date, note,
                   check_only=False):
    """職権修正: correct recorded items, with the reason."""
    person = _lock(person, expected_version)
    if not (note or "").strip():
        raise RuleError({"note": "職権修正の理由を入力してください"})
    _check_dates(change_date, None, person=person)
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise RuleError(f"修正できない項目です: {', '.join(sorted(unknown))}")
    changed = [k for k, v in changes.items() if getattr(person, k) != v]
    if not changed:
        raise RuleError("変更された項目がありません")
    merged = {f: getattr(person, f) for f in PERSON_INPUT_FIELDS}
    merged.update(changes)
    if "address" in changed:
        _check_address_in_master(merged["address"])
    _validate_person_fields(merged, exclude_pk=person.pk)
    _check_names(merged, changed)
    if check_only:
        return None
    for k in changed:
        setattr(person, k, merged[k])
    _save(actor, person, ChangeKind.EX_OFFICIO_CORRECTION, change_date, None, expected_version=expected_version,
          note=note)
    _audit(actor, ChangeKind.EX_OFFICIO_CORRECTION, [person], {"changed": sorted(changed)})
    return person


# ---------------------------------------------------------------- 消除: departures, deaths, removals

def _check_remove(person, *, change_date, notification_date, new_head, future_ok=False, expected_version=None,
                  notification_after_change=True):
    person = _lock(person, expected_version)
    _require_resident(person)
    _check_dates(change_date, notification_date, person=person, future_ok=future_ok,
                 notification_after_change=notification_after_change)
    if new_head is not None:
        new_head = Person.objects.select_for_update().get(pk=new_head.pk)
    _check_head_leaving(person, new_head)
    return person, new_head


def _remove(actor, person, new_head, *, kind, reason, change_date, notification_date):
    touched = _handle_head_leaving(actor, person, new_head, kind, change_date, notification_date)
    person.status = Status.REMOVED
    person.removal_reason = reason
    person.removal_date = change_date
    person.notification_date = notification_date
    if person.is_head and touched:
        person.is_head = False
    return touched


@_change_action(ChangeKind.MOVE_OUT_PLANNED)
def register_move_out(actor: Actor, person: Person, *, expected_version, destination, planned_date,
                      notification_date, new_head=None, companions=(), note="", check_only=False):
    """転出（予定）: the 転出届, of the person and the `companions` (members of the same household leaving with
    him on the same notification: 複数転出). Each record becomes a 除票 on the planned date, destination 予定. If
    the head leaves and members stay, `new_head` (one who stays) becomes head; if everyone leaves the household
    ends. A destination in this municipality is refused (that is a 転居)."""
    if not (destination or "").strip():
        raise RuleError({"destination": "転出先の住所を入力してください"})
    _not_this_municipality(actor, "destination", destination, "転出先")
    person = _lock(person, expected_version)
    _require_resident(person)
    _check_dates(planned_date, notification_date, person=person, future_ok=True, notification_after_change=False)
    household = person.household
    current = {m.pk: m for m in _active_members(household, exclude=[person])}
    if any(c.pk not in current for c in companions):
        raise RuleError({"companions": "一緒に転出できるのは、同じ世帯の現存する住民だけです"})
    movers = [person, *{c.pk: current[c.pk] for c in companions}.values()]
    for p in movers[1:]:
        _check_dates(planned_date, notification_date, person=p, future_ok=True, notification_after_change=False)
    mover_ids = {p.pk for p in movers}
    staying = [m for m in current.values() if m.pk not in mover_ids]
    nh = None
    if household.head_id in mover_ids and staying:
        if new_head is None:
            raise RuleError({"new_head": "世帯主が抜けると、世帯に世帯主がいなくなります。新しい世帯主を指定してください"})
        nh = next((m for m in staying if m.pk == new_head.pk), None)
        if nh is None:
            raise RuleError({"new_head": "新しい世帯主は、同じ世帯に残る住民から選んでください"})
        _check_dates(planned_date, notification_date, person=nh, future_ok=True, notification_after_change=False)
    if check_only:
        return None
    touched = []
    if nh is not None:
        nh.is_head, nh.relationship = True, "世帯主"
        _save(actor, nh, ChangeKind.HEAD_CHANGE, planned_date, notification_date, note="世帯主の転出に伴う変更")
        Household.objects.filter(pk=household.pk).update(head=nh)
        touched.append(nh)
    elif not staying:
        Household.objects.filter(pk=household.pk).update(is_active=False, head=None)
    for p in movers:
        p.status = Status.REMOVED
        p.removal_reason = "転出"
        p.removal_date = planned_date
        p.notification_date = notification_date
        if p.is_head and nh is not None:
            p.is_head = False
        p.move_out_state = "予定"
        p.move_out_destination = destination.strip()
        _save(actor, p, ChangeKind.MOVE_OUT_PLANNED, planned_date, notification_date, expected_version=p.version,
              note=note)
    _audit(actor, ChangeKind.MOVE_OUT_PLANNED, [*movers, *touched],
           {"household": household.household_no, "members": len(movers)} if len(movers) > 1 else None)
    return person


@_change_action(ChangeKind.MOVE_OUT_CONFIRMED)
def confirm_move_out(actor: Actor, person: Person, *, expected_version, destination, notice_date, note="",
                     check_only=False):
    """転出（確定）: the 転入通知 from the new municipality arrived; the destination becomes 確定."""
    person = _lock(person, expected_version)
    if person.status != Status.REMOVED or person.move_out_state != "予定":
        raise RuleError("転出予定の除票ではありません。転出確定は転出予定の住民にのみ登録できます")
    if not (destination or "").strip():
        raise RuleError({"destination": "確定した転出先の住所を入力してください"})
    _not_this_municipality(actor, "destination", destination, "転出先")
    if notice_date is None:
        raise RuleError({"notice_date": "転入通知受理日を入力してください"})
    if notice_date > _today():
        raise RuleError({"notice_date": "転入通知受理日に未来の日付は指定できません"})
    if person.removal_date and notice_date < person.removal_date - dt.timedelta(days=14):
        raise RuleError({"notice_date": "転入通知受理日が転出予定日より大きく前になっています"})
    if check_only:
        return None
    person.move_out_state = "確定"
    person.move_out_destination = destination.strip()
    person.move_in_notice_date = notice_date
    _save(actor, person, ChangeKind.MOVE_OUT_CONFIRMED, max(notice_date, person.last_change_date or notice_date),
          None, expected_version=person.version, note=note)
    _audit(actor, ChangeKind.MOVE_OUT_CONFIRMED, [person])
    return person


@_change_action(ChangeKind.DEATH)
def register_death(actor: Actor, person: Person, *, expected_version, death_date, notification_date,
                   new_head=None, note="", check_only=False):
    """死亡."""
    person, new_head = _check_remove(person, change_date=death_date, notification_date=notification_date,
                                     new_head=new_head, expected_version=expected_version)
    if check_only:
        return None
    touched = _remove(actor, person, new_head, kind=ChangeKind.DEATH, reason="死亡", change_date=death_date,
                      notification_date=notification_date)
    _save(actor, person, ChangeKind.DEATH, death_date, notification_date, expected_version=person.version, note=note)
    _audit(actor, ChangeKind.DEATH, [person, *touched])
    return person


@_change_action(ChangeKind.EX_OFFICIO_REMOVAL)
def remove_ex_officio(actor: Actor, person: Person, *, expected_version, change_date, note, new_head=None,
                      check_only=False):
    """職権消除 (e.g. found not to live at the address), with the reason."""
    if not (note or "").strip():
        raise RuleError({"note": "職権消除の理由を入力してください"})
    person, new_head = _check_remove(person, change_date=change_date, notification_date=None, new_head=new_head,
                                     expected_version=expected_version)
    if check_only:
        return None
    touched = _remove(actor, person, new_head, kind=ChangeKind.EX_OFFICIO_REMOVAL, reason="職権消除",
                      change_date=change_date, notification_date=None)
    _save(actor, person, ChangeKind.EX_OFFICIO_REMOVAL, change_date, None, expected_version=person.version, note=note)
    _audit(actor, ChangeKind.EX_OFFICIO_REMOVAL, [person, *touched])
    return person


# ---------------------------------------------------------------- 世帯: head change, split, merge
#
# `expected_version` of a household change is the household's version (household_version) when the form was
# opened; programmatic callers may omit it, the web forms always send it.

@_change_action(ChangeKind.HEAD_CHANGE)
def change_head(actor: Actor, household: Household, *, new_head: Person, former_head_relationship, change_date,
                notification_date, expected_version=None, relationships=None, note="", check_only=False):
    """世帯主変更: another current member becomes head; the former head gets a new 続柄, and so may the other
    members (`relationships`: person id → 続柄 relative to the new head; members not named keep theirs)."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    _check_household_version(household, expected_version)
    new_head = Person.objects.select_for_update().select_related("household").get(pk=new_head.pk)
    _require_resident(new_head)
    if new_head.household_id != household.pk:
        raise RuleError({"new_head": "新しい世帯主は、この世帯の住民から選んでください"})
    if new_head.is_head:
        raise RuleError({"new_head": "この住民は既に世帯主です"})
    if not (former_head_relationship or "").strip():
        raise RuleError({"former_head_relationship": "元の世帯主の新しい続柄を入力してください"})
    old_head = (Person.objects.select_for_update().select_related("household").get(pk=household.head_id)
                if household.head_id else None)
    _check_dates(change_date, notification_date, person=new_head)
    if old_head is not None and old_head.status == Status.RESIDENT:
        _check_dates(change_date, notification_date, person=old_head)
    others = []
    for member in _active_members(household, exclude=[p for p in (new_head, old_head) if p is not None]):
        rel = ((relationships or {}).get(member.pk) or "").strip()
        if not rel:  # every member's 続柄 is restated relative to the new head (the clerk confirms each)
            raise RuleError({"relationships": f"{member.full_name} の新しい世帯主から見た続柄を入力してください"})
        if rel == "世帯主":
            raise RuleError({"relationships": f"{member.full_name} の続柄に世帯主は指定できません"})
        if rel == member.relationship:
            continue
        _check_dates(change_date, notification_date, person=member)
        others.append((member, rel))
    if check_only:
        return None
    changed = []
    if old_head is not None and old_head.status == Status.RESIDENT:
        old_head.is_head = False
        old_head.relationship = former_head_relationship.strip()
        _save(actor, old_head, ChangeKind.HEAD_CHANGE, change_date, notification_date, note=note)
        changed.append(old_head)
    new_head.is_head = True
    new_head.relationship = "世帯主"
    _save(actor, new_head, ChangeKind.HEAD_CHANGE, change_date, notification_date, note=note)
    changed.append(new_head)
    for member, rel in others:
        member.relationship = rel
        _save(actor, member, ChangeKind.HEAD_CHANGE, change_date, notification_date, note=note)
        changed.append(member)
    Household.objects.filter(pk=household.pk).update(head=new_head)
    _audit(actor, ChangeKind.HEAD_CHANGE, changed, {"household": household.household_no})
    return household


@_change_action(ChangeKind.HOUSEHOLD_SPLIT)
def split_household(actor: Actor, household: Household, *, members: list, new_head: Person, relationships: dict,
                    change_date, notification_date, remaining_head: Person | None = None, note="",
                    expected_version=None, check_only=False):
    """世帯分離: some members leave to form a new household at the same address, with their own head."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    _check_household_version(household, expected_version)
    current = {p.pk: p for p in _active_members(household)}
    if not members:
        raise RuleError({"members": "分離する住民を選んでください"})
    if any(m.pk not in current for m in members):
        raise RuleError({"members": "分離できるのは、この世帯の現存する住民だけです"})
    if len(members) == len(current):
        raise RuleError({"members": "世帯の全員を分離することはできません（世帯はそのままです）"})
    if new_head is None or new_head.pk not in {m.pk for m in members}:
        raise RuleError({"new_head": "新しい世帯の世帯主は、分離する住民から選んでください"})
    leaving = [current[m.pk] for m in members]
    for p in leaving:
        _check_dates(change_date, notification_date, person=p)
    rh = None
    if household.head_id in {p.pk for p in leaving}:
        if remaining_head is None or remaining_head.pk not in current or remaining_head.pk in {p.pk for p in leaving}:
            raise RuleError({"remaining_head": "世帯主が分離するため、元の世帯に残る住民から新しい世帯主を指定してください"})
        rh = current[remaining_head.pk]
    for p in leaving:
        if p.pk != new_head.pk and not (relationships.get(p.pk) or "").strip():
            raise RuleError({"relationships": f"{p.full_name} の新しい世帯主との続柄を入力してください"})
    if check_only:
        return None
    touched = []
    if rh is not None:
        rh.is_head, rh.relationship = True, "世帯主"
        _save(actor, rh, ChangeKind.HOUSEHOLD_SPLIT, change_date, notification_date, note=note)
        Household.objects.filter(pk=household.pk).update(head=rh)
        touched.append(rh)
    new_household = _new_household(actor, {})
    for p in leaving:
        p.household = new_household
        p.is_head = p.pk == new_head.pk
        p.relationship = "世帯主" if p.is_head else relationships[p.pk].strip()
        _save(actor, p, ChangeKind.HOUSEHOLD_SPLIT, change_date, notification_date, note=note)
        touched.append(p)
    Household.objects.filter(pk=new_household.pk).update(head=new_head)
    _audit(actor, ChangeKind.HOUSEHOLD_SPLIT, touched,
           {"from": household.household_no, "to": new_household.household_no})
    return new_household


@_change_action(ChangeKind.HOUSEHOLD_MERGE)
def merge_household(actor: Actor, source: Household, *, target: Household, relationships: dict, change_date,
                    notification_date, note="", expected_version=None, check_only=False):
    """世帯合併: every member of `source` joins `target` (under its head); `source` ceases to exist.
    `expected_version` is the version of `source` (the household whose form was opened)."""
    if target is None or source.pk == target.pk:
        raise RuleError({"target": "同じ世帯には合併できません"})
    source = Household.objects.select_for_update().get(pk=source.pk)
    target = Household.objects.select_for_update().get(pk=target.pk)
    _check_household_version(source, expected_version)
    if not source.is_active or not target.is_active:
        raise RuleError({"target": "現存しない世帯は合併できません"})
    movers = _active_members(source)
    if not movers:
        raise RuleError("合併する世帯に住民がいません")
    head = _household_head(target)
    if head is not None and any(not _same_address(p.address_key, p.address_katagaki, head.address_key,
                                                  head.address_katagaki) for p in movers):
        raise RuleError({"target": "合併先の世帯と住所が異なります。別の住所の世帯に加わるときは、"
                                   "転居（転居先の世帯に加わる）として登録してください"})
    for p in movers:
        _check_dates(change_date, notification_date, person=p)
        if not (relationships.get(p.pk) or "").strip():
            raise RuleError({"relationships": f"{p.full_name} の合併先の世帯主との続柄を入力してください"})
    if check_only:
        return None
    for p in movers:
        p.household, p.is_head, p.relationship = target, False, relationships[p.pk].strip()
        _save(actor, p, ChangeKind.HOUSEHOLD_MERGE, change_date, notification_date, note=note)
    Household.objects.filter(pk=source.pk).update(is_active=False, head=None)
    _audit(actor, ChangeKind.HOUSEHOLD_MERGE, movers, {"from": source.household_no, "to": target.household_no})
    return target
