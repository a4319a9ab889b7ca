"""Roles and what each may do. One table, read by views (via decorators) and by queries (redaction)."""
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


ROLE_PERMS = {
    Role.OPERATOR: {Perm.MANAGE_TENANTS},
    Role.ADMIN: {Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER, Perm.VIEW_AUDIT,
                 Perm.VIEW_GAIJI, Perm.MANAGE_GAIJI, Perm.ISSUE_CERTIFICATES, Perm.VOID_CERTIFICATES,
                 Perm.MANAGE_CERTIFICATE_SETTINGS, Perm.MANAGE_PRIVACY_SETTINGS},
    Role.CLERK: {Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER, Perm.VIEW_GAIJI,
                 Perm.ISSUE_CERTIFICATES},
    Role.VIEWER: {Perm.VIEW_RESIDENTS},
    Role.DISASTER: {Perm.VIEW_RESIDENTS},
}


def has_perm(user, perm: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return perm in ROLE_PERMS.get(user.role, set())
