"""Writing the privacy settings: one function, one transaction, one audit event (through the tier engine)."""
from django.core.exceptions import PermissionDenied

from jichitai.platform import engine
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

KEY = "privacy.protect_household_members"


def set_household_rule(user, enabled: bool, *, terminal: str = "system", requirement: str = ""):
    """Turn on or off the protection of household members of a DV-protected person (standard value: off). The
    value is the municipality's 個別 value in the tier engine."""
    if not has_perm(user, Perm.MANAGE_PRIVACY_SETTINGS):
        raise PermissionDenied
    m = require_municipality()
    row = engine.set_value(user, KEY, bool(enabled), tier=engine.Tier.MUNICIPALITY, municipality=m,
                           terminal=terminal, requirement=requirement)
    if isinstance(row, engine.SettingProposal):  # weakening the prefecture's or the standard's rule: approval first
        return row
    m._privacy_household_rule = bool(enabled)
    m.__dict__.pop("_privacy_protected_household_nos", None)
    m.__dict__.pop("_privacy_protected_addresses", None)
    return row
