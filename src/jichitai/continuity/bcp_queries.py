"""Every tenant-scoped read of the ICT-BCP plan and drills."""
from django.db.models import Count

from jichitai.tenancy.models import StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import require_municipality

from . import bcp
from .bcp_models import BcpPlanRevision, Drill, DrillScenario, DrillStepEvent
from .offline_models import OfflineKit


def current_revision():
    return BcpPlanRevision.objects.order_by("-revision").first()


def revisions():
    return BcpPlanRevision.objects.order_by("-revision")


def drills():
    return Drill.objects.order_by("-planned_for", "-id")


def drill(drill_id: int):
    return Drill.objects.filter(pk=drill_id).first()


def drill_steps(d: Drill) -> list:
    """The scenario's steps with their recorded start / completion times and durations."""
    events = {}
    for e in DrillStepEvent.objects.filter(drill=d).order_by("at", "id"):
        events.setdefault(e.step_no, {})[e.event] = e
    out = []
    for no, (label, recovery) in enumerate(bcp.STEPS[d.scenario], start=1):
        ev = events.get(no, {})
        start, done, skip = ev.get("start"), ev.get("done"), ev.get("skip")
        out.append({"no": no, "label": label, "recovery": recovery, "start": start, "done": done, "skip": skip,
                    "seconds": (done.at - start.at).total_seconds() if start and done else None})
    return out


def last_verified_backup():
    """Text describing the last verified backup covering the municipality (its own or a full one), or None."""
    from . import queries as backups

    rec = backups.last_verified(require_municipality())
    return f"{rec.verified_at:%Y-%m-%d %H:%M}（{rec.scope_label}、{rec.file_name}）" if rec else None


def offline_kits_issued() -> int:
    from .models import OfflineKit

    return OfflineKit.objects.count()


def offline_kit_lines() -> list[str]:
    """One line per issued kit with its state (有効 / 失効), for the plan."""
    from . import queries as continuity

    out = []
    for k in continuity.offline_kits():
        where = f"（{k.label}）" if k.label else ""
        synced = f"最終同期 {k.last_synced_at:%Y-%m-%d}" if k.last_synced_at else "未同期"
        if k.revoked_at:
            state = f"失効 {k.revoked_at:%Y-%m-%d}（{k.revoke_reason}）、欠番 {k.void_count} 件"
        else:
            state = f"有効、予約番号 {k.block_start}〜{k.block_end}、{synced}"
        out.append(f"{k.device}{where}: {state}")
    return out


def plan_facts() -> dict:
    """What the platform knows that the plan should say, for the municipality in scope."""
    from jichitai.api.models import ApiClient
    from jichitai.disaster.models import Shelter
    from jichitai.gaiji.models import GaijiMapping
    from jichitai.residents.models import Person, Status

    m = require_municipality()
    staff = StaffUser.objects.filter(municipality=m, is_active=True)
    admins = [u.display_name or u.username for u in staff.filter(role=Role.ADMIN).order_by("username")]
    roles = dict(Role.choices)
    contacts = [f"{u.display_name or u.username}（{roles.get(u.role, u.role)}）"
                for u in staff.filter(role__in=[Role.ADMIN, Role.DISASTER]).order_by("role", "username")]
    contacts.append("自治体クラウド運用者（プラットフォーム運用窓口・24時間）")
    residents = Person.objects.filter(status=Status.RESIDENT).count()
    systems = [f"住民記録システム（自治体クラウド、住民 {residents:,} 人）",
               "証明書の交付（住民票の写し等、交付簿）",
               f"外字（対応表 {GaijiMapping.objects.count():,} 件）",
               f"外部連携API（税・国保等 {ApiClient.objects.count()} システム）",
               f"災害対応（避難所 {Shelter.objects.count()} か所、避難者の照合、安否確認）"]
    done = list(drills().filter(finished_at__isnull=False)[:10])
    labels = dict(DrillScenario.choices)
    result_labels = {"passed": "目標達成", "partly": "一部未達", "failed": "未達", "": "未記入"}
    measured = [d for d in done if d.rto_seconds is not None]
    from . import queries as backups

    failover = backups.latest_drills(1)  # the platform's own failover drills (Patroni), measured by the machine
    failover = failover[0] if failover else None
    rev = current_revision()
    return {
        "municipality": m.name,
        "admins": admins,
        "contacts": contacts,
        "systems": systems,
        "backup": last_verified_backup(),
        "offline_kits": offline_kits_issued(),
        "offline_kit_lines": offline_kit_lines(),
        "offline_kits_revoked": OfflineKit.objects.filter(revoked_at__isnull=False).count(),
        "drills": [{"title": d.title, "scenario": labels.get(d.scenario, d.scenario),
                    "date": f"{d.finished_at:%Y-%m-%d}", "result": result_labels.get(d.result, d.result),
                    "rto": bcp._fmt_seconds(d.rto_seconds),
                    "rpo": "未計測" if d.rpo_changes is None else f"{d.rpo_changes} 件"} for d in done],
        "failover": ({"date": f"{failover.started_at:%Y-%m-%d}", "rto": bcp._fmt_seconds(failover.rto_seconds),
                      "rpo": f"{failover.rpo_events} 件"} if failover else None),
        "measured_rto": measured[0].rto_seconds if measured else (failover.rto_seconds if failover else None),
        "measured_rpo": measured[0].rpo_changes if measured else (failover.rpo_events if failover else None),
        "revision": rev.revision if rev else 0,
    }


def plan():
    """(revision or None, items, missing labels) of the municipality's current plan."""
    rev = current_revision()
    items = bcp.plan_items(rev.answers if rev else {}, plan_facts())
    return rev, items, bcp.missing_items(items)


def drill_counts():
    return dict(drills().values_list("scenario").annotate(n=Count("id")))
