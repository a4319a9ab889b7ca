"""Writing the privacy settings: one function, one transaction, one audit event."""
from django.core.exceptions import PermissionDenied
from django.db import transaction

from jichitai.audit.actions import append
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from .models import PrivacySetting


def set_household_rule(user, enabled: bool, *, terminal: str = "system") -> PrivacySetting:
    """Turn on or off the protection of household members of a DV-protected person (standard value: off)."""
    if not has_perm(user, Perm.MANAGE_PRIVACY_SETTINGS):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        setting = PrivacySetting.objects.select_for_update().first() or PrivacySetting(municipality=m)
        old = setting.protect_household_members
        setting.protect_household_members = bool(enabled)
        setting.updated_by = user.username
        setting.save()
        append(m, "privacy.household_rule", actor=user, terminal=terminal, object_type="setting",
               object_id="protect_household_members", detail={"old": old, "new": bool(enabled)})
    m._privacy_household_rule = bool(enabled)
    m.__dict__.pop("_privacy_protected_household_nos", None)
    m.__dict__.pop("_privacy_protected_addresses", None)
    return setting
