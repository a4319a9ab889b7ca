"""Roles and what each may do.

`Role` (the role codes a StaffUser can hold) and `Perm` (the permission codes the code checks) are constants; which
permissions a role grants is DATA: `RoleDefinition` rows with their `PermissionDefinition`s (tenancy/models.py),
loaded with the defaults below by migration 0003 and re-created when missing after a flush (apps.py, post_migrate).

`has_perm` reads them through `perms_for_role(role, municipality)`, the one resolver: the 標準 definitions, or the
tier engine's 県版 / approved 個別 override (`tenancy.role_perms.<role>`, platform/declarations.py) for that
municipality. The resolved sets are cached per process (`_cache`, at most CACHE_SECONDS old) and the cache is
cleared whenever a definition changes (signals in models.py).
"""
import threading
import time

from django.db import models


class Role(models.TextChoices):
    OPERATOR = "operator", "プラットフォーム運用者"
    ADMIN = "admin", "自治体管理者"
    CLERK = "clerk", "窓口職員"
    VIEWER = "viewer", "照会専用職員"
    DISASTER = "disaster", "災害対応職員"


class Perm:
    MANAGE_TENANTS = "manage_tenants"
    VIEW_RESIDENTS = "view_residents"
    CHANGE_RESIDENTS = "change_residents"
    VIEW_INDIVIDUAL_NUMBER = "view_individual_number"
    VIEW_AUDIT = "view_audit"
    VIEW_GAIJI = "view_gaiji"
    MANAGE_GAIJI = "manage_gaiji"
    ISSUE_CERTIFICATES = "issue_certificates"
    VOID_CERTIFICATES = "void_certificates"
    MANAGE_CERTIFICATE_SETTINGS = "manage_certificate_settings"
    MANAGE_PRIVACY_SETTINGS = "manage_privacy_settings"
    MANAGE_STAFF = "manage_staff"
    MANAGE_CHOUAZA = "manage_chouaza"  # the 町字 master (chouaza app; its migration 0002 grants it to admins)
    APPROVE_CHANGES = "approve_changes"  # 審査・決裁 of held changes (residents.actions.approve_change)
    MANAGE_CHANGE_SETTINGS = "manage_change_settings"  # 受付・決裁の設定
    # the coming disaster app (nothing checks these yet)
    DISASTER_RESPONSE = "disaster_response"
    REGISTER_EVACUEES = "register_evacuees"
    CONFIRM_SAFETY = "confirm_safety"
    VIEW_VULNERABLE_PERSONS = "view_vulnerable_persons"
    MANAGE_BCP = "manage_bcp"


# The catalogue of permissions with their Japanese names (PermissionDefinition rows).
PERM_LABELS = {
    Perm.MANAGE_TENANTS: "団体の管理（プラットフォーム）",
    Perm.VIEW_RESIDENTS: "住民の照会",
    Perm.CHANGE_RESIDENTS: "住民の異動の登録",
    Perm.VIEW_INDIVIDUAL_NUMBER: "個人番号の表示",
    Perm.VIEW_AUDIT: "監査ログの閲覧・データ出力",
    Perm.VIEW_GAIJI: "外字の照会",
    Perm.MANAGE_GAIJI: "外字の登録・審査",
    Perm.ISSUE_CERTIFICATES: "証明書の発行",
    Perm.VOID_CERTIFICATES: "証明書の取消",
    Perm.MANAGE_CERTIFICATE_SETTINGS: "証明書設定の変更",
    Perm.MANAGE_PRIVACY_SETTINGS: "個人情報保護の設定の変更",
    Perm.MANAGE_STAFF: "職員の管理",
    Perm.MANAGE_CHOUAZA: "町字マスタの管理",
    Perm.APPROVE_CHANGES: "異動の審査・決裁",
    Perm.MANAGE_CHANGE_SETTINGS: "受付・決裁の設定の変更",
    Perm.DISASTER_RESPONSE: "災害対応",
    Perm.REGISTER_EVACUEES: "避難者の登録",
    Perm.CONFIRM_SAFETY: "安否確認",
    Perm.VIEW_VULNERABLE_PERSONS: "避難行動要支援者名簿の閲覧",
    Perm.MANAGE_BCP: "業務継続計画（ICT-BCP）と訓練の管理",
}

_DISASTER = {Perm.DISASTER_RESPONSE, Perm.REGISTER_EVACUEES, Perm.CONFIRM_SAFETY, Perm.VIEW_VULNERABLE_PERSONS}

# The 標準 definitions: loaded into the database by migration 0003 (which keeps its own copy) and by
# `ensure_default_roles` for a role that has no row. After that the database rows are what counts.
DEFAULT_ROLE_PERMS = {
    Role.OPERATOR: {Perm.MANAGE_TENANTS},
    Role.ADMIN: {Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER, Perm.VIEW_AUDIT,
                 Perm.VIEW_GAIJI, Perm.MANAGE_GAIJI, Perm.ISSUE_CERTIFICATES, Perm.VOID_CERTIFICATES,
                 Perm.MANAGE_CERTIFICATE_SETTINGS, Perm.MANAGE_STAFF, Perm.MANAGE_PRIVACY_SETTINGS,
                 Perm.MANAGE_BCP, Perm.MANAGE_CHOUAZA, Perm.APPROVE_CHANGES, Perm.MANAGE_CHANGE_SETTINGS} | _DISASTER,
    Role.CLERK: {Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER, Perm.VIEW_GAIJI,
                 Perm.ISSUE_CERTIFICATES},
    Role.VIEWER: {Perm.VIEW_RESIDENTS},
    # residents with 個人番号 masked (no VIEW_INDIVIDUAL_NUMBER), plus the disaster app's permissions
    Role.DISASTER: {Perm.VIEW_RESIDENTS} | _DISASTER,
}

CACHE_SECONDS = 60
_cache: dict = {}
_lock = threading.Lock()


def clear_cache(*args, **kwargs):
    """Forget the resolved role permissions (called on every change of a definition; tests call it too)."""
    with _lock:
        _cache.clear()


def _load_standard() -> dict:
    from .models import RoleDefinition

    table = {code: set() for code in Role.values}
    for role, perm in RoleDefinition.objects.values_list("role", "permissions__code"):
        if perm:
            table.setdefault(role, set()).add(perm)
    return {role: frozenset(perms) for role, perms in table.items()}


def perms_for_role(role: str, municipality=None) -> frozenset:
    """The permissions `role` grants in `municipality` — the one resolver.

    The 標準 tier is the `RoleDefinition` rows (cached as below). A 県版 or approved 個別 value of the tier engine's
    `tenancy.role_perms.<role>` replaces it for that prefecture / municipality; it is read once per municipality
    object (one request), so a page's many permission checks cost one query."""
    if municipality is not None and role != Role.OPERATOR:
        from jichitai.platform import engine

        key = f"tenancy.role_perms.{role}"
        if key in engine.registry():
            override = engine.cached(key, municipality)
            if override is not None:
                return frozenset(override)
    now = time.monotonic()
    entry = _cache.get("standard")
    if entry is None or now - entry[0] > CACHE_SECONDS:
        table = _load_standard()
        with _lock:
            _cache["standard"] = entry = (now, table)
    return entry[1].get(role, frozenset())


def has_perm(user, perm: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return perm in perms_for_role(user.role, getattr(user, "municipality", None))


def ensure_default_roles(using="default", **kwargs):
    """Create the permission catalogue and any role without a definition (post_migrate; after a test flush).

    A role that already has a definition is left exactly as it is: an edited definition is never reset."""
    from .models import PermissionDefinition, RoleDefinition

    for code, label in PERM_LABELS.items():
        PermissionDefinition.objects.using(using).get_or_create(code=code, defaults={"label": label})
    perms = {p.code: p for p in PermissionDefinition.objects.using(using).all()}
    for role in Role:
        rd, created = RoleDefinition.objects.using(using).get_or_create(role=role.value,
                                                                         defaults={"label": role.label})
        if created:
            rd.permissions.set([perms[c] for c in DEFAULT_ROLE_PERMS[role]])
    clear_cache()
