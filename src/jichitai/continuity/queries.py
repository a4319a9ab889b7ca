"""Reads of the continuity app. For one municipality: the backups that cover it (its own and the full ones)."""
from django.db.models import Q

from .models import BackupRecord


def _covering(code):
    return BackupRecord.objects.filter(Q(scope_code="") | Q(scope_code=code), pruned_at__isnull=True)


def last_verified(municipality):
    """The newest backup covering `municipality` whose verification passed (None if there is none)."""
    return _covering(municipality.code).filter(verify_ok=True).order_by("-created_at", "-id").first()


def recent(municipality, limit=10):
    return list(_covering(municipality.code).order_by("-created_at", "-id")[:limit])


def platform_overview():
    """For the operator: every scope's newest backup and newest verified backup."""
    rows = {}
    for r in BackupRecord.objects.filter(pruned_at__isnull=True).order_by("-created_at", "-id"):
        d = rows.setdefault(r.scope_code, {"scope": r.scope_label, "last": r, "verified": None})
        if d["verified"] is None and r.verify_ok:
            d["verified"] = r
    return [rows[k] for k in sorted(rows)]
