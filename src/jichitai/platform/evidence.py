"""Provider security evidence (事業者のセキュリティを評価できる仕組み): one report per municipality built from live
evidence at the time it is asked for — nothing here is typed in by hand.

- 2段階認証: active staff, how many have a confirmed authenticator, and those required to who have none.
- バックアップ・リストア訓練: read from the continuity app's `BackupRecord` if that app is installed (a seam:
  `last_backup`); 「未実施」 when there is none or the app does not exist.
- 監査ログ: the municipality's hash chain verified now (audit.verify.verify_chain) with its signed checkpoints.
- 依存関係の監査: the latest stored result of `jichitai platform_dependency_audit` (pip-audit against the lock,
  run by the operator because it needs the vulnerability database online); never run while a page renders.
- 未解決の障害・インシデント: open incidents of the register affecting the municipality, its incident reports
  not yet contained.
- SLA: last month's row of the SLA report."""
from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.utils import timezone

from jichitai.tenancy.scope import tenant_scope


def mfa_coverage(municipality) -> dict:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from jichitai.tenancy.models import StaffUser

    staff = list(StaffUser.objects.filter(municipality=municipality, is_active=True))
    enrolled = set(TOTPDevice.objects.filter(user__in=staff, confirmed=True).values_list("user_id", flat=True))
    missing = [u.username for u in staff if u.mfa_required and u.pk not in enrolled]
    return {"staff": len(staff), "enrolled": len(enrolled), "required_missing": missing,
            "percent": round(100 * len(enrolled) / len(staff), 1) if staff else None}


def last_backup(municipality) -> dict:
    """The seam to the continuity app: its BackupRecord (newest verified backup and newest restore drill)."""
    try:
        model = apps.get_model("continuity", "BackupRecord")
    except LookupError:
        return {"backup": None, "drill": None, "source": "continuity app not installed"}
    names = {f.name for f in model._meta.get_fields()}
    qs = model._base_manager.all()
    if "municipality" in names:
        from django.db.models import Q

        qs = qs.filter(Q(municipality=municipality) | Q(municipality__isnull=True))
    order = next((n for n in ("verified_at", "finished_at", "created_at", "at") if n in names), "pk")
    out = {"backup": None, "drill": None, "source": model._meta.label}
    for kind, key in (("backup", "backup"), ("restore_drill", "drill")):
        q = qs
        if "kind" in names:
            q = q.filter(kind__in=[kind, key])
        elif key == "drill":
            continue
        if "verified" in names:
            q = q.filter(verified=True)
        row = q.order_by(f"-{order}").first() if order != "pk" else q.order_by("-pk").first()
        if row is not None:
            out[key] = {"at": getattr(row, order, None) if order != "pk" else None, "id": row.pk}
    return out


def audit_chain(municipality) -> dict:
    from jichitai.audit.verify import verify_chain

    with tenant_scope(municipality):
        rep = verify_chain(municipality.code)
    return {"ok": rep.ok, "entries": rep.entries, "checkpoints": rep.checkpoints,
            "last_checkpoint_seq": rep.last_checkpoint_seq, "broken_seq": rep.broken_seq, "reason": rep.reason,
            "verified_at": timezone.now()}


def dependency_audit() -> dict | None:
    from .models import DependencyAudit

    d = DependencyAudit.objects.first()
    if d is None:
        return None
    return {"run_at": d.run_at, "tool": d.tool, "ok": d.ok, "packages": d.packages, "error": d.error,
            "vulnerabilities": d.vulnerabilities, "lock_sha256": d.lock_sha256,
            "age_days": (timezone.now() - d.run_at).days}


def open_incidents(municipality) -> dict:
    from . import queries
    from .models import Incident

    register = [i for i in Incident.objects.filter(resolved_at__isnull=True) if i.affects(municipality.code)]
    reports = [r for r in queries.incident_reports(municipality) if not r.contained]
    return {"register": [{"id": i.pk, "title": i.title, "since": i.started_at, "responsible": i.responsible}
                         for i in register],
            "reports": [{"id": r.pk, "kind": r.get_kind_display(), "summary": r.summary, "at": r.reported_at}
                        for r in reports]}


def last_month_sla(municipality):
    from . import sla

    today = timezone.localdate()
    first = today.replace(day=1) - dt.timedelta(days=1)
    row = sla.report(first.year, first.month, [municipality])[0]
    return {"month": f"{first.year}-{first.month:02d}", "availability": round(row.availability, 3),
            "target_permille": row.target_permille, "target_percent": row.target_percent, "availability_met": row.availability_met,
            "p95": row.p95_label, "latency_met": row.latency_met, "requests": row.requests,
            "success_rate": row.success_rate}


def report(municipality) -> dict:
    return {"municipality": {"code": municipality.code, "name": str(municipality)},
            "generated_at": timezone.now(), "mfa": mfa_coverage(municipality),
            "backup": last_backup(municipality), "audit_chain": audit_chain(municipality),
            "dependency_audit": dependency_audit(), "open": open_incidents(municipality),
            "sla": last_month_sla(municipality)}
