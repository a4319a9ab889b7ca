"""The tier engine: one registry for every configurable behaviour of every app, one resolver, one writer.

Declaring a setting is one line (usually in the owning app's module listed in DECLARING_MODULES, or in
`platform/declarations.py`):

    declare("counter.approval_required", "bool", False, "異動の登録に決裁を要する", tiers=ALL_TIERS)

Values live at four tiers — 標準 (the platform's standard), 標準追加 (agreed by all participants and added for all),
県版 (one prefecture) and 個別 (one municipality) — and resolve, highest first, 個別 > 県版 > 標準追加 > 標準 > 組込み
(the declared standard value). Each value records who set it, when, and the requirement (要求番号) it answers. A
declaration says which tiers may hold a value. 個別 values of a setting declared `approval=True` do not take effect
until approved, by the operator or by the prefecture's coordinator — which of the two is itself a setting
(`platform.individual_approver`, 県版), as is who the coordinator is (`platform.prefecture_coordinator`).

Every change (set, clear, proposal, approval, rejection) is one transaction with one audit event. `SettingValue` and
`SettingProposal` rows are read and written only here (tests/test_platform_engine.py scans the source for other
reads). `effective(key, municipality)` answers a value; `resolve(...)` answers value + tier + who + when, which the
template tag `{% setting_tier "key" %}` shows wherever a setting acts.
"""
from __future__ import annotations

import datetime as dt
import importlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import ProposalStatus, SettingProposal, SettingValue, Tier

BUILTIN = "builtin"
TIER_LABELS = {Tier.STANDARD.value: "標準", Tier.STANDARD_ADDED.value: "標準追加", Tier.PREFECTURE.value: "県版",
               Tier.MUNICIPALITY.value: "個別", BUILTIN: "標準（組込み）"}
RANK = {Tier.STANDARD.value: 1, Tier.STANDARD_ADDED.value: 2, Tier.PREFECTURE.value: 3, Tier.MUNICIPALITY.value: 4}
ALL_TIERS = frozenset(RANK)
PLATFORM_TIERS = frozenset({Tier.STANDARD.value, Tier.STANDARD_ADDED.value})
NOT_INDIVIDUAL = frozenset({Tier.STANDARD.value, Tier.STANDARD_ADDED.value, Tier.PREFECTURE.value})

# Modules that declare settings; imported once before the registry is first used.
DECLARING_MODULES = (
    "jichitai.platform.declarations",
    "jichitai.certificates.config",
)


class SettingError(Exception):
    """A setting could not be set or cleared. `errors` maps a field ("key", "value", "tier", "__all__") to Japanese
    messages, like `residents.actions.RuleError`."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
        super().__init__("; ".join(m for msgs in self.errors.values() for m in msgs))


class SettingPermissionError(SettingError, PermissionDenied):
    """The user may not change this tier (a view that does not catch it answers 403)."""


# ------------------------------------------------------------------------------------------------ parsers

_TRUE = {"1", "true", "on", "yes", "はい", "有効", "表示する"}
_FALSE = {"0", "false", "off", "no", "いいえ", "無効", "表示しない", ""}


def parse_bool(d, raw):
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        s = raw.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise SettingError({"value": ["「はい」か「いいえ」を選んでください。"]})


def parse_int(d, raw):
    if isinstance(raw, bool):
        raise SettingError({"value": ["整数を入力してください。"]})
    if isinstance(raw, int):
        value = raw
    else:
        s = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "")
        if not re.fullmatch(r"-?[0-9]+", s):
            raise SettingError({"value": ["整数を半角または全角の数字で入力してください。"]})
        value = int(s)
    if (d.min is not None and value < d.min) or (d.max is not None and value > d.max):
        raise SettingError({"value": [f"{d.min}から{d.max}までの整数を入力してください。"]})
    return value


def parse_text(d, raw):
    if not isinstance(raw, str):
        raise SettingError({"value": ["文字列を入力してください。"]})
    text = raw.strip()
    if "\n" in text or any(unicodedata.category(c) == "Cc" for c in text):
        raise SettingError({"value": ["改行・制御文字は使えません。"]})
    if len(text) > d.max_length:
        raise SettingError({"value": [f"{d.max_length}文字以内で入力してください（{len(text)}文字）。"]})
    return text


def parse_choice(d, raw):
    allowed = [c for c, _ in d.choices]
    if raw not in allowed:
        raise SettingError({"value": ["選択肢から選んでください（" + "・".join(lbl for _, lbl in d.choices) + "）。"]})
    return raw


def parse_permset(d, raw):
    from jichitai.tenancy.roles import PERM_LABELS, Perm

    if isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,、]+", raw) if p]
    if not isinstance(raw, (list, tuple, set, frozenset)):
        raise SettingError({"value": ["権限の一覧を指定してください。"]})
    unknown = [p for p in raw if p not in PERM_LABELS]
    if unknown:
        raise SettingError({"value": [f"不明な権限です: {'、'.join(map(str, unknown))}"]})
    if Perm.MANAGE_TENANTS in raw:
        raise SettingError({"value": ["団体の管理（プラットフォーム）の権限は自治体の役割に付与できません。"]})
    return sorted(set(raw))


def _plausible_default(d, value):
    try:
        return d.parse(value) == value
    except SettingError:
        return False


PARSERS = {"bool": parse_bool, "int": parse_int, "text": parse_text, "choice": parse_choice,
           "permset": parse_permset}


# ------------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class SettingDef:
    key: str  # "namespace.name"
    type: str
    default: object  # the 組込み standard value, or a callable(municipality) -> value
    label: str
    help: str = ""
    tiers: frozenset = ALL_TIERS
    approval: bool = True  # 個別 values wait for an approver
    # For a protective setting declared approval=False: the protective value. A 個別 value that differs from it
    # while the tiers below (県版, 標準) hold it weakens what the prefecture or the standard decided, so that one
    # value waits for an approver like a setting declared approval=True.
    stricter: object = None
    manage_perm: str = "manage_staff"  # what a municipal admin needs to set a 個別 value
    min: int | None = None
    max: int | None = None
    max_length: int = 200
    choices: tuple = ()
    parser: Callable | None = None  # (def, raw) -> value, raises SettingError
    plausible: Callable | None = None  # (def, stored value) -> bool; a stale row is skipped, not used
    display: Callable | None = None  # (def, value) -> str for screens
    audit_name: str = "setting"  # the audit action prefix ("setting.set", "certificate_setting.set")
    audit_value: Callable | None = None  # what the audit log keeps of a value (e.g. an image's hash)
    ns_label: str = "設定"  # 「この階層の{ns_label}を変更する権限がありません」
    area: str = ""  # 業務 (for the settings screens and the fit-gap links)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def namespace(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def parse(self, raw):
        return (self.parser or PARSERS[self.type])(self, raw)

    def is_plausible(self, value) -> bool:
        if self.plausible is not None:
            return self.plausible(self, value)
        return _plausible_default(self, value)

    def builtin(self, municipality=None):
        return self.default(municipality) if callable(self.default) else self.default

    def show(self, value) -> str:
        if self.display is not None:
            return self.display(self, value)
        if self.type == "bool":
            return "有効" if value else "無効"
        if self.type == "choice":
            return dict(self.choices).get(value, str(value))
        if self.type == "permset":
            from jichitai.tenancy.roles import PERM_LABELS
            return "（標準の定義）" if value is None else "、".join(PERM_LABELS.get(p, p) for p in value) or "（なし）"
        return "（空欄）" if value in ("", None) else str(value)


_REGISTRY: dict[str, SettingDef] = {}
_loaded = False


def declare(key, type, default, label, **kw) -> SettingDef:
    """Declare one setting (one line per setting). Declaring the same key twice with a different definition is a
    programming error and raises."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*", key):
        raise ValueError(f"setting key must be 'namespace.name': {key!r}")
    if type not in PARSERS and kw.get("parser") is None:
        raise ValueError(f"setting {key}: unknown type {type!r} without a parser")
    kw["tiers"] = frozenset(getattr(t, "value", t) for t in kw.get("tiers", ALL_TIERS))
    d = SettingDef(key=key, type=type, default=default, label=label, **kw)
    old = _REGISTRY.get(key)
    if old is not None and old != d:
        raise ValueError(f"setting {key} declared twice with different definitions")
    _REGISTRY[key] = d
    return d


def registry() -> dict[str, SettingDef]:
    global _loaded
    if not _loaded:
        for mod in DECLARING_MODULES:
            importlib.import_module(mod)
        _loaded = True
    return _REGISTRY


def definition(key) -> SettingDef:
    d = registry().get(key)
    if d is None:
        raise SettingError({"key": ["不明な設定項目です。"]})
    return d


def namespace_defs(namespace) -> dict[str, SettingDef]:
    return {k: d for k, d in registry().items() if d.namespace == namespace}


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Resolved:
    key: str
    value: object  # as stored
    tier: str  # a Tier value, or BUILTIN
    set_by: str
    set_at: dt.datetime | None
    label: str
    requirement: str = ""
    approved_by: str = ""

    @property
    def tier_label(self) -> str:
        return TIER_LABELS[self.tier]

    @property
    def display(self) -> str:
        return definition(self.key).show(self.value)


def _scope_q(prefecture_id, municipality_id):
    q = Q(tier__in=[Tier.STANDARD, Tier.STANDARD_ADDED])
    if prefecture_id is not None:
        q |= Q(tier=Tier.PREFECTURE, prefecture_id=prefecture_id)
    if municipality_id is not None:
        q |= Q(tier=Tier.MUNICIPALITY, municipality_id=municipality_id)
    return q


def resolve_keys(keys, *, prefecture_id=None, municipality_id=None, municipality=None,
                 below=None) -> dict[str, Resolved]:
    """Resolution of `keys` for a scope in one query: standard only (no scope), a prefecture's, or a municipality's
    (give its prefecture_id too). `below` (a tier) leaves that tier and the ones above it out: what a value at that
    tier would override. A stored value that no longer passes its declaration is skipped."""
    reg = registry()
    defs = {k: reg[k] for k in keys}
    best: dict[str, SettingValue] = {}
    if defs:
        namespaces = {d.namespace for d in defs.values()}
        names = {d.name for d in defs.values()}
        rows = SettingValue.objects.filter(_scope_q(prefecture_id, municipality_id), namespace__in=namespaces,
                                           key__in=names)
        limit = RANK[getattr(below, "value", below)] if below else 99
        for row in rows:
            full = f"{row.namespace}.{row.key}"
            d = defs.get(full)
            if d is None or row.tier not in d.tiers or RANK[row.tier] >= limit or not d.is_plausible(row.value):
                continue
            if full not in best or RANK[row.tier] > RANK[best[full].tier]:
                best[full] = row
    out = {}
    for key, d in defs.items():
        row = best.get(key)
        if row is None:
            out[key] = Resolved(key, d.builtin(municipality), BUILTIN, "", None, d.label)
        else:
            out[key] = Resolved(key, row.value, row.tier, row.set_by, row.set_at, d.label, row.requirement,
                                row.approved_by)
    return out


def resolve_namespace(namespace, **scope) -> dict[str, Resolved]:
    return resolve_keys(list(namespace_defs(namespace)), **scope)


def resolve(key, municipality=None, *, prefecture=None) -> Resolved:
    """One setting for a municipality (or a prefecture, or the standard with neither)."""
    if municipality is not None:
        return resolve_keys([key], prefecture_id=municipality.prefecture_id, municipality_id=municipality.pk,
                            municipality=municipality)[key]
    return resolve_keys([key], prefecture_id=getattr(prefecture, "pk", None))[key]


def effective(key, municipality=None, *, prefecture=None):
    """The value in force. For settings read many times per request the caller keeps it (see `cached`)."""
    return resolve(key, municipality, prefecture=prefecture).value


def cached(key, municipality):
    """The value in force for `municipality`, kept on the municipality object (one request, one tenant_scope
    block), so a page that asks a hundred times costs one query. Writes through this engine refresh it."""
    store = municipality.__dict__.setdefault("_platform_settings", {})
    if key not in store:
        store[key] = effective(key, municipality)
    return store[key]


def municipality_values(municipality) -> dict[str, Resolved]:
    """Every declared setting for one municipality (the settings screens, the contract-exit export)."""
    return resolve_keys(list(registry()), prefecture_id=municipality.prefecture_id,
                        municipality_id=municipality.pk, municipality=municipality)


# ------------------------------------------------------------------------------------------------ permissions


def _owner(tier, prefecture, municipality) -> dict:
    if tier in PLATFORM_TIERS:
        if prefecture is not None or municipality is not None:
            raise SettingError({"tier": [f"{TIER_LABELS[tier]}の設定には都道府県・団体を指定しません。"]})
        return {"tier": tier, "prefecture": None, "municipality": None}
    if tier == Tier.PREFECTURE:
        if prefecture is None or municipality is not None:
            raise SettingError({"tier": ["県版の設定には都道府県だけを指定してください。"]})
        return {"tier": tier, "prefecture": prefecture, "municipality": None}
    if municipality is None or prefecture is not None:
        raise SettingError({"tier": ["個別の設定には団体だけを指定してください。"]})
    return {"tier": tier, "prefecture": None, "municipality": municipality}


def _tier(tier) -> str:
    value = getattr(tier, "value", tier)
    if value not in RANK:
        raise SettingError({"tier": ["不明な階層です。"]})
    return value


def _active(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def may_set(user, d: SettingDef, tier, *, municipality=None) -> bool:
    """The operator sets 標準, 標準追加 and 県版; a municipality's admin (with the declaration's permission) sets or
    proposes his own municipality's 個別 value."""
    from jichitai.tenancy.roles import Perm, Role, has_perm

    tier = getattr(tier, "value", tier)
    if not _active(user):
        return False
    if tier in NOT_INDIVIDUAL:
        return user.role == Role.OPERATOR and has_perm(user, Perm.MANAGE_TENANTS)
    if tier == Tier.MUNICIPALITY:
        return (municipality is not None and user.municipality_id is not None
                and user.municipality_id == municipality.pk and has_perm(user, d.manage_perm))
    return False


def approver_rule(municipality) -> tuple[str, str]:
    """(who approves 個別 values of this municipality: "operator" | "coordinator", the coordinator's username)."""
    rule = effective("platform.individual_approver", municipality)
    coordinator = effective("platform.prefecture_coordinator", municipality)
    return rule, coordinator


def may_approve(user, proposal) -> bool:
    from jichitai.tenancy.roles import Perm, Role, has_perm

    if not _active(user) or user.username == proposal.requested_by:
        return False
    rule, coordinator = approver_rule(proposal.municipality)
    if rule == "coordinator":
        return (bool(coordinator) and user.username == coordinator and user.role == Role.ADMIN
                and user.municipality_id is not None
                and user.municipality.prefecture_id == proposal.municipality.prefecture_id)
    return user.role == Role.OPERATOR and has_perm(user, Perm.MANAGE_TENANTS)


# ------------------------------------------------------------------------------------------------ writing


def _audit(user, action, d, tier, prefecture, municipality, old, new, terminal, before=None, after=None, **more):
    """One audit event. A declaration may name its own event (extra["audit"]: a callable (action, before, after) ->
    (action name, object type, object id, detail) — kept for events that existed before the engine)."""
    from jichitai.audit.actions import append

    custom = d.extra.get("audit")
    if custom is not None and before is not None:
        name, otype, oid, detail = custom(action, before.value, after)
        append(municipality if tier == Tier.MUNICIPALITY else None, name, actor=user, terminal=terminal,
               object_type=otype, object_id=oid, detail=detail)
        return
    keep = d.audit_value or (lambda v: v)
    short = d.audit_name != "setting"
    append(municipality if tier == Tier.MUNICIPALITY else None, f"{d.audit_name}.{action}", actor=user,
           terminal=terminal, object_type=d.audit_name, object_id=d.name if short else d.key,
           detail={"tier": tier, "prefecture": getattr(prefecture, "code", None),
                   "municipality": getattr(municipality, "code", None),
                   "old": keep(old) if old is not None else None, "new": keep(new) if new is not None else None,
                   **more})


def _forget(d, municipality):
    if municipality is not None:
        municipality.__dict__.get("_platform_settings", {}).pop(d.key, None)
    hook = d.extra.get("on_change")
    if hook:
        hook()


def _upsert(d, owner, fields):
    row = SettingValue.objects.select_for_update().filter(namespace=d.namespace, key=d.name, **owner).first()
    if row is not None:
        old = row.value
        for name, v in fields.items():
            setattr(row, name, v)
        row.save(update_fields=list(fields))
        return row, old
    try:
        with transaction.atomic():  # a savepoint: a concurrent insert of the same row must not break ours
            return SettingValue.objects.create(namespace=d.namespace, key=d.name, **owner, **fields), None
    except IntegrityError:
        row = SettingValue.objects.select_for_update().get(namespace=d.namespace, key=d.name, **owner)
        old = row.value
        for name, v in fields.items():
            setattr(row, name, v)
        row.save(update_fields=list(fields))
        return row, old


PENDING_WEAKENING = "県版または標準で有効とされている保護を弱める個別の値のため、申請しました。承認されると有効になります。"


def weakens_below(d: SettingDef, value, municipality) -> bool:
    """Whether a 個別 `value` of a protective setting (`stricter` declared) undoes the protective value the tiers
    below it resolve to for `municipality`."""
    if d.stricter is None or municipality is None or value == d.stricter:
        return False
    below = resolve_keys([d.key], prefecture_id=municipality.prefecture_id, municipality_id=municipality.pk,
                         municipality=municipality, below=Tier.MUNICIPALITY)[d.key].value
    return below == d.stricter


def set_value(user, key, raw_value, *, tier, prefecture=None, municipality=None, requirement="", reason="",
              terminal="system"):
    """Validate `raw_value` and store it as `key` at `tier`. A 個別 value of a setting that needs approval becomes a
    pending SettingProposal instead (returned); otherwise the SettingValue row is returned."""
    d = definition(key)
    tier = _tier(tier)
    owner = _owner(tier, prefecture, municipality)
    if tier not in d.tiers:
        raise SettingError({"tier": [f"「{d.label}」は{TIER_LABELS[tier]}の階層では設定できません。"]})
    if not may_set(user, d, tier, municipality=municipality):
        raise SettingPermissionError(f"この階層の{d.ns_label}を変更する権限がありません。")
    value = d.parse(raw_value)
    requirement = (requirement or "").strip()[:40]
    now = timezone.now()
    with transaction.atomic():
        before = resolve(key, municipality, prefecture=prefecture) if d.extra.get("audit") else None
        if tier == Tier.MUNICIPALITY and (d.approval or weakens_below(d, value, municipality)):
            p = SettingProposal.objects.create(namespace=d.namespace, key=d.name, municipality=municipality,
                                               value=value, requirement=requirement, reason=(reason or "")[:500],
                                               requested_by=user.username, requested_at=now)
            _audit(user, "proposed", d, tier, None, municipality, None, value, terminal, proposal=p.pk,
                   requirement=requirement)
            return p
        fields = {"value": value, "set_by": user.username, "set_by_role": user.role or "", "set_at": now,
                  "requirement": requirement, "approved_by": "", "approved_at": None}
        row, old = _upsert(d, owner, fields)
        after = resolve(key, municipality, prefecture=prefecture).value if before is not None else None
        _audit(user, "set", d, tier, prefecture, municipality, old, value, terminal, before=before, after=after,
               **({"requirement": requirement} if requirement else {}))
    _forget(d, municipality)
    return row


def clear_value(user, key, *, tier, prefecture=None, municipality=None, terminal="system"):
    """Remove `key`'s value at `tier`, so the lower tier shows through. Returns the removed value."""
    d = definition(key)
    tier = _tier(tier)
    owner = _owner(tier, prefecture, municipality)
    if not may_set(user, d, tier, municipality=municipality):
        raise SettingPermissionError(f"この階層の{d.ns_label}を変更する権限がありません。")
    with transaction.atomic():
        row = SettingValue.objects.select_for_update().filter(namespace=d.namespace, key=d.name, **owner).first()
        if row is None:
            raise SettingError({"__all__": [f"この階層（{TIER_LABELS[tier]}）には「{d.label}」の設定がありません。"]})
        old = row.value
        before = resolve(key, municipality, prefecture=prefecture) if d.extra.get("audit") else None
        row.delete()
        after = resolve(key, municipality, prefecture=prefecture).value if before is not None else None
        _audit(user, "clear", d, tier, prefecture, municipality, old, None, terminal, before=before, after=after)
    _forget(d, municipality)
    return old


def decide_proposal(user, proposal_id, *, approve: bool, note="", terminal="system"):
    """Approve (the value takes effect as the municipality's 個別 value) or reject a pending proposal."""
    from jichitai.tenancy.models import Municipality

    with transaction.atomic():
        p = SettingProposal.objects.select_for_update().filter(pk=proposal_id).first()
        if p is None:
            raise SettingError("申請が見つかりません。")
        d = definition(f"{p.namespace}.{p.key}")
        if p.status != ProposalStatus.PENDING:
            raise SettingError(f"この申請は処理済みです（{p.get_status_display()}）。")
        p.municipality = Municipality.objects.select_related("prefecture").get(pk=p.municipality_id)
        if not may_approve(user, p):
            raise SettingPermissionError("この申請を承認・却下する権限がありません（申請者本人は承認できません）。")
        now = timezone.now()
        p.status = ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        p.decided_by, p.decided_at, p.decision_note = user.username, now, (note or "")[:500]
        p.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        old = None
        if approve:
            value = d.parse(p.value)  # the declaration may have changed since the proposal
            fields = {"value": value, "set_by": p.requested_by, "set_by_role": "admin", "set_at": now,
                      "requirement": p.requirement, "approved_by": user.username, "approved_at": now}
            _row, old = _upsert(d, _owner(Tier.MUNICIPALITY, None, p.municipality), fields)
        _audit(user, "approved" if approve else "rejected", d, Tier.MUNICIPALITY, None, p.municipality, old,
               p.value if approve else None, terminal, proposal=p.pk, requested_by=p.requested_by)
    _forget(d, p.municipality)
    return p


def pending_proposals(user):
    """Proposals this user may decide (operator: all where the rule is the operator; a coordinator: his
    prefecture's)."""
    rows = SettingProposal.objects.filter(status=ProposalStatus.PENDING).select_related(
        "municipality", "municipality__prefecture")
    return [p for p in rows if may_approve(user, p)]


def proposals_of(municipality):
    return list(SettingProposal.objects.filter(municipality=municipality)[:100])


def values_at(tier, *, prefecture=None, municipality=None) -> list[SettingValue]:
    """The rows stored at one tier for one owner (settings screens)."""
    owner = _owner(_tier(tier), prefecture, municipality)
    return list(SettingValue.objects.filter(**owner).order_by("namespace", "key"))


def delete_municipality_values(municipality) -> int:
    """Contract exit: remove the municipality's 個別 values and proposals (called inside the exit's transaction)."""
    n, _ = SettingValue.objects.filter(municipality=municipality).delete()
    m, _ = SettingProposal.objects.filter(municipality=municipality).delete()
    return n + m
