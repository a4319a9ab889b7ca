"""Every write of the 避難行動要支援者名簿 and the 被災者台帳: one function, one transaction, one audit event, validation
with clear Japanese messages (django ValidationError keyed by field, like disaster.actions)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.certificates import actions as certificate_actions
from jichitai.common.wareki import DateInputError, parse_date
from jichitai.residents.models import Household, Person, Status
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from . import support_queries as sq
from .models import Disaster, DisasterActivation
from .models.support import (CareLevel, ConsentStatus, DamageAssessment, DisabilityType, LedgerProvision,
                             ReliefKind, ReliefMeasure, Supporter, SupporterKind, SurveyKind, VictimLedger,
                             VulnerablePerson, grade_for_ratio)

ROSTER_FIELDS = ("care_level", "physical_disability_grade", "disability_type", "intellectual_disability",
                 "mental_disability_grade", "intractable_disease", "pregnant", "infant", "other_reason", "phone",
                 "other_contact", "consent", "consent_date", "plan_destination", "plan_route", "plan_notes",
                 "plan_date")
_REASON_FIELDS = ("care_level", "physical_disability_grade", "intellectual_disability", "mental_disability_grade",
                  "intractable_disease", "pregnant", "infant", "other_reason")
_LENGTHS = {"other_reason": 200, "phone": 30, "other_contact": 120, "plan_destination": 120, "plan_route": 300,
            "plan_notes": 300}


def _require(user, *perms):
    m = require_municipality()
    if getattr(user, "municipality_id", None) != m.pk or not all(has_perm(user, p) for p in perms):
        raise PermissionDenied
    return m


def _roster_user(user):
    return _require(user, Perm.VIEW_VULNERABLE_PERSONS, Perm.DISASTER_RESPONSE)


PROTECTED_ENTRY = ("DV等支援措置の対象の方の名簿情報（避難先・避難支援等関係者を含む）は、支援措置対象者の住所を閲覧できる"
                   "職員が入力してください。")


def _check_protected(user, person):
    if sq.entry_withheld(user, person):
        raise ValidationError(PROTECTED_ENTRY)


def clean_roster_values(data: dict, today: dt.date | None = None) -> tuple[dict, dict]:
    """(cleaned values, errors by field) for a 名簿 entry — from the form or a CSV row alike."""
    today = today or timezone.localdate()
    v, errors = {}, {}
    for f in ROSTER_FIELDS:
        v[f] = data.get(f)
    v["care_level"] = v["care_level"] or ""
    if v["care_level"] not in CareLevel.values:
        errors["care_level"] = "要介護度は 要支援1・2、要介護1〜5 のいずれかです"
    v["disability_type"] = v["disability_type"] or ""
    if v["disability_type"] not in DisabilityType.values:
        errors["disability_type"] = "障害の種別を一覧から選んでください"
    for f, top, label in (("physical_disability_grade", 6, "身体障害者手帳の等級は1〜6級"),
                          ("mental_disability_grade", 3, "精神障害者保健福祉手帳の等級は1〜3級")):
        raw = v[f]
        if raw in (None, ""):
            v[f] = None
            continue
        try:
            n = int(unicodedata.normalize("NFKC", str(raw)).strip().rstrip("級"))
        except ValueError:
            n = 0
        if not 1 <= n <= top:
            errors[f] = f"{label}です"
        v[f] = n
    if v["physical_disability_grade"] and not v["disability_type"]:
        errors["disability_type"] = "身体障害者手帳の等級を入力したときは、障害の種別も選んでください"
    if v["disability_type"] and not v["physical_disability_grade"] and "physical_disability_grade" not in errors:
        errors["physical_disability_grade"] = "障害の種別を選んだときは、身体障害者手帳の等級も入力してください"
    v["intellectual_disability"] = unicodedata.normalize("NFKC", v["intellectual_disability"] or "").strip().upper()
    if v["intellectual_disability"] not in ("", "A", "B"):
        errors["intellectual_disability"] = "療育手帳は A または B です"
    for f in ("intractable_disease", "pregnant", "infant"):
        v[f] = bool(v[f])
    for f, n in _LENGTHS.items():
        v[f] = (v[f] or "").strip()
        if len(v[f]) > n:
            errors[f] = f"{n}文字以内で入力してください"
    if v["phone"] and not all(c.isdigit() or c in "-()（）ー－ " for c in unicodedata.normalize("NFKC", v["phone"])):
        errors["phone"] = "電話番号は数字とハイフンで入力してください"
    if not any(v[f] for f in _REASON_FIELDS if f not in errors):
        errors.setdefault("__all__", "避難支援等を必要とする事由（要介護度、障害、難病、妊産婦、乳幼児、その他）を1つ以上入力してください")
    v["consent"] = v["consent"] or ConsentStatus.UNKNOWN
    if v["consent"] not in ConsentStatus.values:
        errors["consent"] = "同意は 同意・不同意・未確認 のいずれかです"
    for f in ("consent_date", "plan_date"):
        if v[f] in ("", None):
            v[f] = None
        elif not isinstance(v[f], dt.date):
            try:
                v[f] = parse_date(str(v[f]))
            except DateInputError as e:
                errors[f] = str(e).split(" / ")[0]
                v[f] = None
        if v[f] and v[f] > today:
            errors[f] = "未来の日付は入力できません"
    if v["consent"] in (ConsentStatus.AGREED, ConsentStatus.REFUSED) and not v["consent_date"] \
            and "consent_date" not in errors:
        errors["consent_date"] = "同意・不同意を記録するときは、その日付を入力してください"
    if v["consent"] == ConsentStatus.UNKNOWN:
        v["consent_date"] = None
    return v, errors


def _changed(vp, values):
    return sorted(f for f in ROSTER_FIELDS if getattr(vp, f) != values[f])


def save_vulnerable_person(user, person_id: int, data: dict, *, expected_version: int | None = None,
                           terminal: str = "system") -> VulnerablePerson:
    """Put a resident on the 名簿, or edit his entry (`expected_version`: the entry's version the form was opened
    with; a stale one is a conflict)."""
    m = _roster_user(user)
    values, errors = clean_roster_values(data)
    with transaction.atomic():
        person = Person.objects.select_for_update().filter(pk=person_id).first()
        if person is None:
            raise ValidationError("指定された住民が見つかりません。")
        _check_protected(user, person)
        vp = VulnerablePerson.objects.select_for_update().filter(person=person).first()
        if vp is None and person.status != Status.RESIDENT:
            errors["__all__"] = "消除された方は名簿に掲載できません。"
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        if vp is None:
            vp = VulnerablePerson(person=person, **values, updated_by=user.username, updated_at=now)
            vp.save()
            action, changed = "disaster.vulnerable_create", sorted(ROSTER_FIELDS)
        else:
            if expected_version is not None and vp.version != expected_version:
                raise ValidationError("この名簿情報は他の職員が更新しました。画面を開き直してから入力してください。")
            changed = _changed(vp, values)
            for f, val in values.items():
                setattr(vp, f, val)
            vp.is_listed, vp.delisted_reason = True, ""
            vp.version += 1
            vp.updated_by, vp.updated_at = user.username, now
            vp.save()
            action = "disaster.vulnerable_update"
        append(m, action, actor=user, terminal=terminal, object_type="vulnerable_person", object_id=str(vp.pk),
               detail={"atena_no": person.atena_no, "changed": changed, "consent": vp.consent})
    return vp


def delist_vulnerable_person(user, vp_id: int, *, reason: str, terminal: str = "system") -> VulnerablePerson:
    """掲載の終了 (施設入所、転出 …): the entry stays, off the list."""
    m = _roster_user(user)
    reason = (reason or "").strip()
    if not reason or len(reason) > 100:
        raise ValidationError({"reason": "掲載を終了する理由を100文字以内で入力してください。"})
    with transaction.atomic():
        vp = VulnerablePerson.objects.select_for_update().filter(pk=vp_id).first()
        if vp is None:
            raise ValidationError("指定された名簿情報が見つかりません。")
        if not vp.is_listed:
            raise ValidationError("この方の掲載はすでに終了しています。")
        vp.is_listed, vp.delisted_reason = False, reason
        vp.version += 1
        vp.updated_by, vp.updated_at = user.username, timezone.now()
        vp.save()
        append(m, "disaster.vulnerable_delist", actor=user, terminal=terminal, object_type="vulnerable_person",
               object_id=str(vp.pk), detail={"reason": reason})
    return vp


def add_supporter(user, vp_id: int, data: dict, *, terminal: str = "system") -> Supporter:
    """An 避難支援等関係者 for a person (民生委員, 消防団, 自主防災組織 …)."""
    m = _roster_user(user)
    kind = data.get("kind") or ""
    name, contact = (data.get("name") or "").strip(), (data.get("contact") or "").strip()
    errors = {}
    if kind not in SupporterKind.values:
        errors["kind"] = "区分を選んでください。"
    if not name or len(name) > 100:
        errors["name"] = "氏名又は名称を100文字以内で入力してください。"
    if len(contact) > 100:
        errors["contact"] = "連絡先は100文字以内で入力してください。"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        vp = VulnerablePerson.objects.select_for_update().filter(pk=vp_id).select_related("person").first()
        if vp is None:
            raise ValidationError("指定された名簿情報が見つかりません。")
        _check_protected(user, vp.person)
        s = Supporter.objects.create(vulnerable=vp, kind=kind, name=name, contact=contact,
                                     implements_plan=bool(data.get("implements_plan")))
        append(m, "disaster.supporter_add", actor=user, terminal=terminal, object_type="vulnerable_person",
               object_id=str(vp.pk), detail={"supporter": s.pk, "kind": kind})
    return s


def remove_supporter(user, supporter_id: int, *, terminal: str = "system") -> None:
    m = _roster_user(user)
    with transaction.atomic():
        s = Supporter.objects.select_for_update().filter(pk=supporter_id).select_related("vulnerable__person").first()
        if s is None:
            raise ValidationError("指定された避難支援等関係者が見つかりません。")
        _check_protected(user, s.vulnerable.person)
        vp_id, kind = s.vulnerable_id, s.kind
        s.delete()
        append(m, "disaster.supporter_remove", actor=user, terminal=terminal, object_type="vulnerable_person",
               object_id=str(vp_id), detail={"supporter": supporter_id, "kind": kind})


# ---------------------------------------------------------------- CSV import (福祉部局の名簿)

CSV_COLUMNS = {  # column of the welfare department's list → field
    "宛名番号": "atena_no", "要介護度": "care_level", "身体障害者手帳等級": "physical_disability_grade",
    "障害の種別": "disability_type", "療育手帳": "intellectual_disability",
    "精神障害者保健福祉手帳等級": "mental_disability_grade", "難病": "intractable_disease", "妊産婦": "pregnant",
    "乳幼児": "infant", "その他の事由": "other_reason", "電話番号": "phone", "同意": "consent", "同意日": "consent_date",
}
_TRUE = {"1", "○", "〇", "はい", "有", "あり", "true", "yes"}
_FALSE = {"", "0", "×", "いいえ", "無", "なし", "false", "no"}
_CARE_BY_LABEL = {c.label: c.value for c in CareLevel}
_TYPE_BY_LABEL = {c.label: c.value for c in DisabilityType} | {"聴覚障害": DisabilityType.HEARING,
                                                               "音声・言語障害": DisabilityType.SPEECH}
_CONSENT_BY_LABEL = {c.label: c.value for c in ConsentStatus} | {"": ConsentStatus.UNKNOWN}
MAX_IMPORT_ROWS = 50_000


class ImportRefused(ValidationError):
    """The file had bad rows; nothing was written. `lines`: (line number, message) pairs."""

    def __init__(self, lines):
        self.lines = lines
        super().__init__([f"{n}行目: {msg}" for n, msg in lines])


@dataclass
class ImportResult:
    created: int
    updated: int


def _csv_row(raw: dict, n: int, errors: list):
    vals = {}
    for col, f in CSV_COLUMNS.items():
        vals[f] = unicodedata.normalize("NFKC", (raw.get(col) or "")).strip() if f != "other_reason" \
            else (raw.get(col) or "").strip()
    care = vals["care_level"]
    vals["care_level"] = _CARE_BY_LABEL.get(care, care)  # a label or a code; anything else is refused by cleaning
    dtype = vals["disability_type"]
    vals["disability_type"] = _TYPE_BY_LABEL.get(dtype, dtype)
    vals["consent"] = _CONSENT_BY_LABEL.get(vals["consent"], vals["consent"] or "?")
    for f in ("intractable_disease", "pregnant", "infant"):
        s = vals[f].lower()
        if s in _TRUE:
            vals[f] = True
        elif s in _FALSE:
            vals[f] = False
        else:
            errors.append((n, f"「{[c for c, x in CSV_COLUMNS.items() if x == f][0]}」は 1/0 または ○/空欄 で入力してください"))
            vals[f] = False
    return vals


def import_vulnerable_csv(user, text: str, *, terminal: str = "system") -> ImportResult:
    """Load the welfare department's list (CSV with a header row, keyed by 宛名番号): a person not yet on the 名簿 is
    added, one already on it is updated. All or nothing: any bad row refuses the whole file with line numbers."""
    m = _roster_user(user)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in ("宛名番号",) if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        msg = []
        if missing:
            msg.append("列「宛名番号」がありません")
        if unknown:
            msg.append(f"不明な列です: {'、'.join(unknown)}（使える列: {'、'.join(CSV_COLUMNS)}）")
        raise ImportRefused([(1, "。".join(msg))])
    errors, rows = [], []
    try:
        for raw in reader:
            n = reader.line_num
            if len(rows) >= MAX_IMPORT_ROWS:
                raise ImportRefused([(n, f"1回に取り込めるのは{MAX_IMPORT_ROWS:,}行までです")])
            if None in raw:
                errors.append((n, "列の数が見出し行より多くなっています"))
                continue
            vals = _csv_row(raw, n, errors)
            rows.append((n, vals))
    except csv.Error as e:
        raise ImportRefused([(reader.line_num, f"CSVとして読めません（{e}）")]) from None
    if not rows and not errors:
        raise ImportRefused([(1, "データ行がありません")])
    atenas = [v["atena_no"] for _, v in rows]
    found = dict(Person.objects.filter(atena_no__in=atenas, status=Status.RESIDENT).values_list("atena_no", "pk"))
    seen = {}
    cleaned = []
    today = timezone.localdate()
    for n, vals in rows:
        atena = vals.pop("atena_no")
        if not atena:
            errors.append((n, "宛名番号が空欄です"))
            continue
        if atena not in found:
            errors.append((n, f"宛名番号 {atena} の住民（住民票のある方）が見つかりません"))
            continue
        if atena in seen:
            errors.append((n, f"宛名番号 {atena} が{seen[atena]}行目と重複しています"))
            continue
        seen[atena] = n
        v, errs = clean_roster_values(vals, today)
        for f, msg in errs.items():
            errors.append((n, msg))
        cleaned.append((found[atena], v))
    if errors:
        raise ImportRefused(sorted(errors))
    now = timezone.now()
    with transaction.atomic():
        existing = {vp.person_id: vp for vp in VulnerablePerson.objects.select_for_update().filter(
            person_id__in=[pid for pid, _ in cleaned])}
        new, changed = [], []
        plan_fields = ("plan_destination", "plan_route", "plan_notes", "plan_date")
        for pid, v in cleaned:
            vp = existing.get(pid)
            if vp is None:
                new.append(VulnerablePerson(municipality=m, person_id=pid, updated_by=user.username,
                                            updated_at=now, **v))
            else:
                for f, val in v.items():
                    if f not in plan_fields:  # the welfare list has no 個別避難計画: keep what was entered
                        setattr(vp, f, val)
                vp.is_listed, vp.delisted_reason = True, ""
                vp.version += 1
                vp.updated_by, vp.updated_at = user.username, now
                changed.append(vp)
        VulnerablePerson.objects.bulk_create(new, batch_size=500)
        fields = [f for f in ROSTER_FIELDS if f not in plan_fields] + ["is_listed", "delisted_reason", "version",
                                                                       "updated_by", "updated_at"]
        VulnerablePerson.objects.bulk_update(changed, fields, batch_size=500)
        append(m, "disaster.vulnerable_import", actor=user, terminal=terminal, object_type="vulnerable_person",
               detail={"created": len(new), "updated": len(changed)})
    return ImportResult(created=len(new), updated=len(changed))


# ---------------------------------------------------------------- 被災者台帳

def _ledger_user(user):
    return _require(user, Perm.DISASTER_RESPONSE)


def _activation(disaster_id) -> DisasterActivation:
    act = DisasterActivation.objects.filter(disaster_id=disaster_id).select_related("disaster").first()
    if act is None:
        raise ValidationError("この団体に宣言された災害ではありません。")
    return act


LEDGER_FIELDS = ("whereabouts", "phone", "other_damage", "consent_to_provide", "consent_recipients", "consent_date",
                 "notes")
_LEDGER_LENGTHS = {"whereabouts": 200, "phone": 100, "other_damage": 300, "consent_recipients": 200, "notes": 300}


def save_ledger(user, disaster_id: int, household_id: int, data: dict, *, expected_version: int | None = None,
                terminal: str = "system") -> VictimLedger:
    """Open (作成) or edit a household's 被災者台帳 for a disaster declared for the municipality."""
    m = _ledger_user(user)
    errors, v = {}, {}
    for f, n in _LEDGER_LENGTHS.items():
        v[f] = (data.get(f) or "").strip()
        if len(v[f]) > n:
            errors[f] = f"{n}文字以内で入力してください"
    v["consent_to_provide"] = bool(data.get("consent_to_provide"))
    cd = data.get("consent_date")
    if cd in (None, ""):
        cd = None
    elif not isinstance(cd, dt.date):
        try:
            cd = parse_date(str(cd))
        except DateInputError as e:
            errors["consent_date"] = str(e).split(" / ")[0]
            cd = None
    if cd and cd > timezone.localdate():
        errors["consent_date"] = "未来の日付は入力できません"
    if v["consent_to_provide"] and (not cd or not v["consent_recipients"]) and "consent_date" not in errors:
        errors["consent_recipients"] = "提供への同意を記録するときは、同意を得た提供先と同意の日を入力してください"
    v["consent_date"] = cd if v["consent_to_provide"] else None
    if not v["consent_to_provide"]:
        v["consent_recipients"] = ""
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        act = _activation(disaster_id)
        hh = Household.objects.filter(pk=household_id).first()
        if hh is None:
            raise ValidationError("指定された世帯が見つかりません。")
        led = VictimLedger.objects.select_for_update().filter(disaster_id=act.disaster_id, household=hh).first()
        now = timezone.now()
        if led is None:
            led = VictimLedger.objects.create(disaster=act.disaster, household=hh, created_at=now,
                                              updated_by=user.username, updated_at=now, **v)
            action = "disaster.ledger_create"
        else:
            if expected_version is not None and led.version != expected_version:
                raise ValidationError("この被災者台帳は他の職員が更新しました。画面を開き直してから入力してください。")
            for f, val in v.items():
                if f == "whereabouts" and f not in data:
                    continue  # not offered to a reader from whom it is withheld (DV): kept as it is
                setattr(led, f, val)
            led.version += 1
            led.updated_by, led.updated_at = user.username, now
            led.save()
            action = "disaster.ledger_update"
        append(m, action, actor=user, terminal=terminal, object_type="victim_ledger", object_id=str(led.pk),
               detail={"household_no": hh.household_no, "disaster": act.disaster_id,
                       "consent_to_provide": led.consent_to_provide})
    return led


def _ledger_for_update(ledger_id) -> VictimLedger:
    led = VictimLedger.objects.select_for_update().filter(pk=ledger_id).select_related("household").first()
    if led is None:
        raise ValidationError("指定された被災者台帳が見つかりません。")
    return led


def _date(data, f, errors, label, *, required=True):
    raw = data.get(f)
    if raw in (None, ""):
        if required:
            errors[f] = f"{label}を入力してください"
        return None
    if isinstance(raw, dt.date):
        d = raw
    else:
        try:
            d = parse_date(str(raw))
        except DateInputError as e:
            errors[f] = str(e).split(" / ")[0]
            return None
    if d > timezone.localdate():
        errors[f] = f"{label}が未来になっています"
    return d


def record_damage_assessment(user, ledger_id: int, data: dict, *, terminal: str = "system") -> DamageAssessment:
    """住家の被害認定: 損害割合 → 被害の程度 by the 運用指針's rule (models.grade_for_ratio). A re-survey is a new row."""
    m = _ledger_user(user)
    errors = {}
    survey_kind = data.get("survey_kind") or ""
    if survey_kind not in SurveyKind.values:
        errors["survey_kind"] = "調査の別を選んでください"
    surveyed_on = _date(data, "surveyed_on", errors, "調査日")
    surveyor = (data.get("surveyor") or "").strip()
    if not surveyor or len(surveyor) > 100:
        errors["surveyor"] = "調査員を100文字以内で入力してください"
    try:
        ratio = Decimal(unicodedata.normalize("NFKC", str(data.get("damage_ratio", ""))).strip().rstrip("%"))
        if not ratio.is_finite() or ratio <= 0 or ratio > 100 or ratio != ratio.quantize(Decimal("0.1")):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["damage_ratio"] = "損害割合は0より大きく100以下の数（小数点以下1桁まで、単位 %）で入力してください"
        ratio = None
    address = (data.get("building_address") or "").strip()
    flooding, note = (data.get("flooding") or "").strip(), (data.get("note") or "").strip()
    if len(address) > 200:
        errors["building_address"] = "200文字以内で入力してください"
    if len(flooding) > 40:
        errors["flooding"] = "40文字以内で入力してください"
    if len(note) > 300:
        errors["note"] = "300文字以内で入力してください"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        led = _ledger_for_update(ledger_id)
        if surveyed_on < timezone.localdate(led.disaster.occurred_at):
            raise ValidationError({"surveyed_on": "調査日が災害の発生日より前になっています"})
        if not address:
            head = led.household.head
            address = head.address if head else ""
        if not address:
            raise ValidationError({"building_address": "被災住家の所在地を入力してください"})
        a = DamageAssessment.objects.create(
            ledger=led, building_address=address, survey_kind=survey_kind, surveyed_on=surveyed_on,
            surveyor=surveyor, damage_ratio=ratio, grade=grade_for_ratio(ratio), flooding=flooding, note=note,
            recorded_by=user.username, recorded_at=timezone.now())
        append(m, "disaster.damage_assess", actor=user, terminal=terminal, object_type="victim_ledger",
               object_id=str(led.pk), detail={"assessment": a.pk, "ratio": str(ratio), "grade": a.grade,
                                              "survey_kind": survey_kind})
    return a


def record_relief(user, ledger_id: int, data: dict, *, terminal: str = "system") -> ReliefMeasure:
    """援護の実施の状況: one measure given (append-only)."""
    m = _ledger_user(user)
    errors = {}
    kind = data.get("kind") or ""
    if kind not in ReliefKind.values:
        errors["kind"] = "援護の種類を選んでください"
    given_on = _date(data, "given_on", errors, "実施日")
    amount = data.get("amount")
    if amount in (None, ""):
        amount = None
    else:
        try:
            amount = int(unicodedata.normalize("NFKC", str(amount)).replace(",", "").strip())
            if amount < 0 or amount > 100_000_000:
                raise ValueError
        except ValueError:
            errors["amount"] = "金額は0以上の整数（円）で入力してください"
    note = (data.get("note") or "").strip()
    if len(note) > 300:
        errors["note"] = "300文字以内で入力してください"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        led = _ledger_for_update(ledger_id)
        r = ReliefMeasure.objects.create(ledger=led, kind=kind, given_on=given_on, amount=amount, note=note,
                                         recorded_by=user.username, recorded_at=timezone.now())
        append(m, "disaster.relief_record", actor=user, terminal=terminal, object_type="victim_ledger",
               object_id=str(led.pk), detail={"relief": r.pk, "kind": kind, "amount": amount})
    return r


def record_ledger_provision(user, ledger_id: int, *, recipient: str, purpose: str,
                            terminal: str = "system") -> LedgerProvision:
    """台帳情報の提供 to someone outside the municipality: only with the household's consent (第90条の4 第1項第1号)
    and only to a recipient it consented to; the recipient and time are recorded (施行規則 第8条の5)."""
    m = _ledger_user(user)
    recipient, purpose = (recipient or "").strip(), (purpose or "").strip()
    errors = {}
    if not recipient or len(recipient) > 200:
        errors["recipient"] = "提供先を200文字以内で入力してください"
    if not purpose or len(purpose) > 200:
        errors["purpose"] = "利用目的を200文字以内で入力してください"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        led = _ledger_for_update(ledger_id)
        if not led.consent_to_provide:
            raise ValidationError("この世帯からは台帳情報の提供への同意を得ていないため、提供できません。")
        p = LedgerProvision.objects.create(ledger=led, recipient=recipient, purpose=purpose,
                                           provided_at=timezone.now(), recorded_by=user.username)
        append(m, "disaster.ledger_provide", actor=user, terminal=terminal, object_type="victim_ledger",
               object_id=str(led.pk), detail={"recipient": recipient})
    return p


def issue_victim_certificate(user, ledger_id: int, *, requester_kind: str, requester_name: str = "",
                             purpose: str = "", copies: int = 1, token: str = "", terminal: str = "system",
                             today=None):
    """罹災証明書 for the household of a 被災者台帳, from its latest damage assessment, through the certificate engine
    (交付簿, 発行番号, 照合コード, fee setting). Refused with a message when there is no assessment."""
    require_municipality()
    led = sq.ledger(ledger_id)
    if led is None:
        raise ValidationError("指定された被災者台帳が見つかりません。")
    a = sq.latest_assessment(led)
    if a is None:
        raise ValidationError("この世帯には住家の被害認定（調査結果）がないため、罹災証明書を発行できません。"
                              "先に被害認定を登録してください。")
    disaster: Disaster = led.disaster
    facts = {"assessment_id": a.pk, "disaster_id": disaster.pk, "disaster_name": disaster.name,
             "occurred_on": timezone.localdate(disaster.occurred_at).isoformat(),
             "building_address": a.building_address, "grade": a.grade, "grade_label": a.get_grade_display(),
             "survey_kind_label": a.get_survey_kind_display(), "surveyed_on": a.surveyed_on.isoformat(),
             "damage_ratio": str(a.damage_ratio)}
    persons = sq.household_members(led.household)
    return certificate_actions.issue_disaster_certificate(
        user, persons=persons, facts=facts, requester_kind=requester_kind, requester_name=requester_name,
        purpose=purpose, copies=copies, token=token, terminal=terminal, today=today)


AUDIT_LABELS = {
    "disaster.vulnerable_create": "避難行動要支援者名簿への掲載", "disaster.vulnerable_update": "避難行動要支援者名簿の変更",
    "disaster.vulnerable_delist": "避難行動要支援者名簿の掲載終了", "disaster.vulnerable_import": "避難行動要支援者名簿の取込み",
    "disaster.supporter_add": "避難支援等関係者の登録", "disaster.supporter_remove": "避難支援等関係者の削除",
    "disaster.vulnerable_view": "避難行動要支援者名簿の閲覧",
    "disaster.vulnerable_entry_view": "避難行動要支援者の名簿情報の閲覧", "disaster.ledger_list_view": "被災者台帳の一覧の閲覧", "disaster.vulnerable_output": "避難行動要支援者名簿の出力",
    "disaster.ledger_create": "被災者台帳の作成", "disaster.ledger_update": "被災者台帳の変更",
    "disaster.ledger_view": "被災者台帳の閲覧", "disaster.damage_assess": "住家の被害認定の登録",
    "disaster.relief_record": "援護の実施の記録", "disaster.ledger_provide": "台帳情報の提供",
}
