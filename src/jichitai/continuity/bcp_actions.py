"""Every write of the ICT-BCP plan and drills: one function, one transaction, one audit event."""
import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from . import bcp
from .bcp_models import BcpPlanRevision, Drill, DrillScenario, DrillStepEvent

AUDIT_LABELS = {
    "bcp.revise": "ICT-BCP の改訂", "bcp.drill_plan": "ICT-BCP 訓練の計画", "bcp.drill_start": "ICT-BCP 訓練の開始",
    "bcp.drill_step": "ICT-BCP 訓練の手順の記録", "bcp.drill_finish": "ICT-BCP 訓練の終了",
    "bcp.drill_measured": "ICT-BCP 切替訓練の計測結果の記録", "bcp.print": "ICT-BCP の印刷",
}


def _now():
    """The server's clock (drill steps are timed by it, never by what a browser sends)."""
    return timezone.now()


def _need(user):
    if not has_perm(user, Perm.MANAGE_BCP):
        raise PermissionDenied


def save_plan(user, answers: dict, *, note: str = "", terminal: str = "system") -> BcpPlanRevision:
    """A new revision of the plan. `answers` maps item keys to text; an empty text means 'use the pre-filled
    text'. Unchanged plans are refused (a revision records a change)."""
    _need(user)
    m = require_municipality()
    unknown = sorted(set(answers) - set(bcp.ITEMS))
    if unknown:
        raise ValidationError(f"計画にない項目です / unknown plan items: {', '.join(unknown)}")
    clean = {}
    errors = {}
    for k, v in answers.items():
        text = (v or "").replace("\r\n", "\n").strip()
        if len(text) > bcp.MAX_ANSWER:
            errors[k] = f"「{bcp.ITEMS[k]}」は{bcp.MAX_ANSWER}文字以内で入力してください（{len(text)}文字）。"
        elif text:
            clean[k] = text
    if len((note or "").strip()) > 200:
        errors["note"] = "改訂の理由は200文字以内で入力してください。"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = BcpPlanRevision.objects.select_for_update().order_by("-revision").first()
        if current is not None and current.answers == clean:
            raise ValidationError("変更がありません。計画の内容を変更してから保存してください。")
        last = BcpPlanRevision.objects.aggregate(n=Max("revision"))["n"] or 0
        rev = BcpPlanRevision.objects.create(revision=last + 1, answers=clean, note=(note or "").strip(),
                                             created_by=user.username)
        changed = sorted(k for k in set(clean) | set(current.answers if current else {})
                         if clean.get(k) != (current.answers if current else {}).get(k))
        append(m, "bcp.revise", actor=user, terminal=terminal, object_type="bcp", object_id=str(rev.revision),
               detail={"changed": changed})
    return rev


def plan_drill(user, *, scenario: str, title: str, planned_for, terminal: str = "system") -> Drill:
    _need(user)
    m = require_municipality()
    errors = {}
    if scenario not in DrillScenario.values:
        errors["scenario"] = "想定を選んでください。"
    if not (title or "").strip():
        errors["title"] = "訓練名を入力してください。"
    elif len(title.strip()) > 100:
        errors["title"] = "訓練名は100文字以内で入力してください。"
    if not isinstance(planned_for, dt.date):
        errors["planned_for"] = "実施予定日を入力してください。"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        d = Drill.objects.create(scenario=scenario, title=title.strip(), planned_for=planned_for,
                                 conducted_by=user.username)
        append(m, "bcp.drill_plan", actor=user, terminal=terminal, object_type="drill", object_id=str(d.pk),
               detail={"scenario": scenario})
    return d


def _locked_drill(drill_id):
    d = Drill.objects.select_for_update().filter(pk=drill_id).first()
    if d is None:
        raise ValidationError("指定された訓練が見つかりません。")
    return d


def start_drill(user, drill_id: int, *, terminal: str = "system") -> Drill:
    _need(user)
    m = require_municipality()
    with transaction.atomic():
        d = _locked_drill(drill_id)
        if d.started_at:
            raise ValidationError("この訓練はすでに開始しています。")
        d.started_at = _now()
        d.save(update_fields=["started_at"])
        append(m, "bcp.drill_start", actor=user, terminal=terminal, object_type="drill", object_id=str(d.pk))
    return d


def record_step(user, drill_id: int, step_no: int, event: str, *, note: str = "",
                terminal: str = "system") -> DrillStepEvent:
    """Record that a step started, was completed or was skipped, at the server's time (not editable later)."""
    _need(user)
    m = require_municipality()
    with transaction.atomic():
        d = _locked_drill(drill_id)
        steps = bcp.STEPS[d.scenario]
        if not d.started_at or d.finished_at:
            raise ValidationError("訓練の実施中だけ手順を記録できます。")
        if not 1 <= step_no <= len(steps):
            raise ValidationError(f"手順 {step_no} はこの訓練にありません。")
        if event not in ("start", "done", "skip"):
            raise ValidationError("記録の種類が正しくありません。")
        seen = set(DrillStepEvent.objects.filter(drill=d, step_no=step_no).values_list("event", flat=True))
        if seen & {"done", "skip"}:
            raise ValidationError(f"手順 {step_no} はすでに完了（または省略）しています。")
        if event == "start" and "start" in seen:
            raise ValidationError(f"手順 {step_no} はすでに開始しています。")
        if event == "done" and "start" not in seen:
            raise ValidationError(f"手順 {step_no} はまだ開始していません。")
        if len(note or "") > 200:
            raise ValidationError("メモは200文字以内で入力してください。")
        ev = DrillStepEvent.objects.create(drill=d, step_no=step_no, event=event, at=_now(),
                                           by=user.username, note=(note or "").strip())
        append(m, "bcp.drill_step", actor=user, terminal=terminal, object_type="drill", object_id=str(d.pk),
               detail={"step": step_no, "event": event})
    return ev


def finish_drill(user, drill_id: int, *, result: str, findings: str = "", rpo_changes=None,
                 terminal: str = "system") -> Drill:
    """End the drill. The recovery time (RTO) is measured, not typed: from the drill's start to the completion of
    the scenario's recovery step; a drill whose recovery step was not completed has no RTO. The RPO (committed
    changes lost) is what the staff verified in the checking step."""
    _need(user)
    m = require_municipality()
    if result not in ("passed", "partly", "failed"):
        raise ValidationError({"result": "結果を選んでください。"})
    if rpo_changes is not None and (not isinstance(rpo_changes, int) or rpo_changes < 0):
        raise ValidationError({"rpo_changes": "失われた更新の件数は0以上の整数で入力してください。"})
    with transaction.atomic():
        d = _locked_drill(drill_id)
        if not d.started_at:
            raise ValidationError("開始していない訓練は終了できません。")
        if d.finished_at:
            raise ValidationError("この訓練はすでに終了しています。")
        recovery_no = next(i for i, (_, rec) in enumerate(bcp.STEPS[d.scenario], start=1) if rec)
        done = DrillStepEvent.objects.filter(drill=d, step_no=recovery_no, event="done").first()
        d.finished_at = _now()
        d.result = result
        d.findings = (findings or "").strip()
        d.rto_seconds = (done.at - d.started_at).total_seconds() if done else None
        d.rpo_changes = rpo_changes
        d.save(update_fields=["finished_at", "result", "findings", "rto_seconds", "rpo_changes"])
        append(m, "bcp.drill_finish", actor=user, terminal=terminal, object_type="drill", object_id=str(d.pk),
               detail={"result": result, "rto_seconds": d.rto_seconds, "rpo_changes": rpo_changes})
    return d


def record_measured_drill(user, *, title: str, started_at, finished_at, rto_seconds: float, rpo_changes: int,
                          scenario: str = DrillScenario.DATACENTER_DOWN, terminal: str = "system") -> Drill:
    """A drill measured by a machine (the failover drill command kills the primary under write load and measures
    RTO and RPO): recorded as a finished drill so its figures go into the plan."""
    _need(user)
    m = require_municipality()
    if rto_seconds is None or rto_seconds < 0 or rpo_changes is None or rpo_changes < 0:
        raise ValidationError("計測値が正しくありません / invalid measured figures")
    with transaction.atomic():
        d = Drill.objects.create(scenario=scenario, title=title[:100], planned_for=started_at.date(),
                                 started_at=started_at, finished_at=finished_at, conducted_by=user.username,
                                 result="passed" if rpo_changes == 0 else "failed", automated=True,
                                 rto_seconds=rto_seconds, rpo_changes=rpo_changes)
        append(m, "bcp.drill_measured", actor=user, terminal=terminal, object_type="drill", object_id=str(d.pk),
               detail={"rto_seconds": rto_seconds, "rpo_changes": rpo_changes})
    return d
