"""The municipality's 外字 settings, one function per setting.

Tier seam: today the value is the municipality's own row (`GaijiSettings`), or the standard value when it has none;
a tier engine (標準 → 県版 → 個別) takes over by resolving the value here. No caller reads the model directly."""
from jichitai.tenancy.scope import tenant_scope

from .models import GaijiSettings

# 標準: the staff member who proposed a mapping never approves it (四つの目)
TWO_PERSON_REVIEW_STANDARD = True


def two_person_review(municipality) -> bool:
    """Whether a 外字 mapping must be approved (or marked 対応なし) by someone other than who proposed it."""
    with tenant_scope(municipality):
        value = GaijiSettings.objects.values_list("two_person_review", flat=True).first()
    return TWO_PERSON_REVIEW_STANDARD if value is None else value
