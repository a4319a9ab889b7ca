"""Reads of the continuity app. For one municipality: the backups that cover it (its own and the full ones)."""
from django.db.models import Q

from .models import BackupRecord, FailoverDrill


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


def latest_drills(limit=10):
    """The newest failover drills (platform-level figures; the BCP plan quotes them)."""
    return list(FailoverDrill.objects.order_by("-started_at", "-id")[:limit])


def continuity_facts(municipality) -> dict:
    """What a BCP plan (issue 13, item 4) pre-fills about backups and failover for `municipality`: the seam for the
    plan generator."""
    drills = latest_drills(5)
    return {
        "last_verified_backup": last_verified(municipality),
        "retention": __import__("jichitai.continuity.service", fromlist=["retention_policy"]).retention_policy(),
        "drills": drills,
        "worst_rto_seconds": max((d.rto_seconds for d in drills), default=None),
        "worst_rpo_events": max((d.rpo_events for d in drills), default=None),
    }


def offline_kits():
    """The offline kits issued for the municipality in scope (row-level security and the tenant manager)."""
    from .offline_models import OfflineKit

    return OfflineKit.objects.order_by("-built_at", "-id")


def void_blocks():
    """Revoked kits whose reserved certificate numbers are void (欠番), for the 交付簿."""
    return [k for k in offline_kits().filter(revoked_at__isnull=False) if k.void_ranges]


def offline_intakes(reader, *, status: str, limit: int | None = None) -> list:
    """届出 received offline, for `reader` (privacy.policy.for_staff): an intake naming (by 宛名番号) a person
    protected now shows the policy's WITHHELD marker in place of its notifier and memo (the new address is in
    there) to a reader without the DV right. Each row gets `shown_notifier` and `shown_memo`."""
    from jichitai.privacy import policy
    from jichitai.residents.models import Person

    from .offline_models import OfflineIntake

    q = OfflineIntake.objects.filter(status=status).select_related("kit")
    if status == "done":
        q = q.order_by("-done_at")
    rows = list(q[:limit] if limit else q)
    hidden = set()
    if not reader.dv_addresses:
        nos = {i.atena_no.strip() for i in rows if i.atena_no.strip()}
        persons = list(Person.objects.filter(atena_no__in=nos)) if nos else []
        prot = policy.protected_person_ids(persons)
        hidden = {p.atena_no for p in persons if p.pk in prot}
    for i in rows:
        withheld = i.atena_no.strip() in hidden
        i.shown_notifier = reader.withheld_value if withheld else i.notifier
        i.shown_memo = reader.withheld_value if withheld else i.memo
    return rows
