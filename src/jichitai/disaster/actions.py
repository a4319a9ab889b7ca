"""Every write of the disaster app: one function, one transaction, one audit event, validation with clear messages."""
import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality, tenant_scope

from .models import Disaster, DisasterActivation, Shelter
from .models.core import DisasterKind


def _validate_disaster(name: str, kind: str, occurred_at):
    errors = {}
    if not (name or "").strip():
        errors["name"] = "災害名を入力してください。"
    elif len(name.strip()) > 100:
        errors["name"] = "災害名は100文字以内で入力してください。"
    if kind not in DisasterKind.values:
        errors["kind"] = "種別を選んでください。"
    if not isinstance(occurred_at, dt.datetime):
        errors["occurred_at"] = "発生日時を入力してください。"
    elif occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = "発生日時が未来になっています。"
    if errors:
        raise ValidationError(errors)


def declare_disaster(user, *, name: str, kind: str, occurred_at, terminal: str = "system") -> DisasterActivation:
    """A municipality declares a disaster for itself (災害の宣言)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    _validate_disaster(name, kind, occurred_at)
    now = timezone.now()
    with transaction.atomic():
        d = Disaster.objects.create(name=name.strip(), kind=kind, occurred_at=occurred_at,
                                    created_by=user.username)
        act = DisasterActivation.objects.create(disaster=d, declared_at=now, declared_by=user.username)
        append(m, "disaster.declare", actor=user, terminal=terminal, object_type="disaster", object_id=str(d.pk),
               detail={"name": d.name, "kind": kind})
    return act


def declare_disaster_for(user, municipalities, *, name: str, kind: str, occurred_at,
                         terminal: str = "system") -> Disaster:
    """The platform operator declares one disaster for several municipalities at once; each municipality's own
    audit chain records it."""
    if not has_perm(user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    _validate_disaster(name, kind, occurred_at)
    munis = list(municipalities)
    if not munis:
        raise ValidationError({"municipalities": "対象の団体を1つ以上選んでください。"})
    now = timezone.now()
    with transaction.atomic():
        d = Disaster.objects.create(name=name.strip(), kind=kind, occurred_at=occurred_at,
                                    declared_by_operator=True, created_by=user.username)
        for m in munis:
            with tenant_scope(m):
                DisasterActivation.objects.create(disaster=d, declared_at=now, declared_by=user.username)
                append(m, "disaster.declare", actor=user, terminal=terminal, object_type="disaster",
                       object_id=str(d.pk), detail={"name": d.name, "kind": kind, "by_operator": True})
    return d


def end_disaster(user, activation_id: int, *, terminal: str = "system") -> DisasterActivation:
    """The municipality ends the disaster for itself (its records stay)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        act = DisasterActivation.objects.select_for_update().filter(pk=activation_id).first()
        if act is None:
            raise ValidationError("指定された災害が見つかりません。")
        if act.ended_at is not None:
            raise ValidationError("この災害はすでに終了しています。")
        act.ended_at = timezone.now()
        act.ended_by = user.username
        act.save(update_fields=["ended_at", "ended_by"])
        append(m, "disaster.end", actor=user, terminal=terminal, object_type="disaster",
               object_id=str(act.disaster_id))
    return act


SHELTER_FIELDS = ("code", "name", "kind", "address", "latitude", "longitude", "capacity_day", "capacity_night",
                  "contact_name", "contact_phone")


def save_shelter(user, data: dict, *, shelter_id: int | None = None, terminal: str = "system") -> Shelter:
    """Create or edit a shelter (the values come from a validated form or a CSV row)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        if shelter_id is None:
            s = Shelter(municipality=m)
        else:
            s = Shelter.objects.select_for_update().filter(pk=shelter_id).first()
            if s is None:
                raise ValidationError("指定された避難所が見つかりません。")
        for f in SHELTER_FIELDS:
            if f in data:
                setattr(s, f, data[f])
        if Shelter.objects.filter(code=s.code).exclude(pk=s.pk).exists():
            raise ValidationError({"code": f"避難所コード {s.code} はすでに使われています。"})
        s.full_clean(exclude=["municipality"])
        created = s.pk is None
        s.save()
        append(m, "disaster.shelter_create" if created else "disaster.shelter_update", actor=user,
               terminal=terminal, object_type="shelter", object_id=str(s.pk), detail={"code": s.code})
    return s


def set_shelter_open(user, shelter_id: int, is_open: bool, *, terminal: str = "system") -> Shelter:
    """Open (開設) or close (閉鎖) a shelter."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        s = Shelter.objects.select_for_update().filter(pk=shelter_id).first()
        if s is None:
            raise ValidationError("指定された避難所が見つかりません。")
        if s.is_open == bool(is_open):
            raise ValidationError("この避難所はすでに開設中です。" if is_open else "この避難所はすでに閉鎖されています。")
        now = timezone.now()
        s.is_open = bool(is_open)
        if is_open:
            s.opened_at, s.closed_at = now, None
        else:
            s.closed_at = now
        s.save(update_fields=["is_open", "opened_at", "closed_at", "updated_at"])
        append(m, "disaster.shelter_open" if is_open else "disaster.shelter_close", actor=user, terminal=terminal,
               object_type="shelter", object_id=str(s.pk), detail={"code": s.code})
    return s


def municipalities_by_code(codes):
    """For the operator's declaration form and command: the municipalities named by their codes."""
    found = {m.code: m for m in Municipality.objects.filter(code__in=list(codes))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationError(f"団体コードが見つかりません / unknown municipality code: {', '.join(missing)}")
    return [found[c] for c in codes]


# Japanese labels of this app's audit event codes (the audit screen's filter and 操作 column).
AUDIT_LABELS = {
    "disaster.declare": "災害の宣言", "disaster.end": "災害対応の終了",
    "disaster.shelter_create": "避難所の登録", "disaster.shelter_update": "避難所の変更",
    "disaster.shelter_open": "避難所の開設", "disaster.shelter_close": "避難所の閉鎖",
}

from .support_actions import AUDIT_LABELS as _SUPPORT_LABELS  # noqa: E402  (名簿・被災者台帳)

AUDIT_LABELS.update(_SUPPORT_LABELS)
