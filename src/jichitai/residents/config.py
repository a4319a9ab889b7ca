"""The municipality's settings of the change workflow, one function per setting.

Tier seam: today the value is the municipality's own row (`ChangeSettings`, edited on 受付・決裁の設定), or the
standard value when it has none. A tier engine (標準 → 県版 → 個別) takes over by resolving the value here; no caller
reads the model directly.
"""
from jichitai.tenancy.scope import tenant_scope

from .models import ChangeSettings

# 標準: no second-person check (審査・決裁) unless the municipality turns it on
APPROVAL_REQUIRED_STANDARD = False


def approval_required(municipality) -> bool:
    """Whether a change (異動) waits as 決裁待ち until a second staff member approves it."""
    with tenant_scope(municipality):
        value = ChangeSettings.objects.values_list("approval_required", flat=True).first()
    return APPROVAL_REQUIRED_STANDARD if value is None else value
