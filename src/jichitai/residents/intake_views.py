"""届出の受付 and 審査・決裁 screens: the 決裁待ち list, one held change (approve / return), the setting. Thin: the
rules are in actions (approve_change, return_change, set_approval_required)."""
from django.contrib import messages
from django.shortcuts import redirect, render

from jichitai.audit.actions import record_event
from jichitai.platform import engine
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.web.decorators import staff_required

from . import actions, config, queries
from .actions import Actor, ConflictError, RuleError
from .models import IntakeStatus


@staff_required(Perm.CHANGE_RESIDENTS)
def intake_list(request):
    may_approve = has_perm(request.user, Perm.APPROVE_CHANGES)
    pending = queries.pending_intakes()
    if not may_approve:  # a clerk sees the changes he received that wait
        pending = [i for i in pending if i.received_by_id == request.user.pk]
    return render(request, "residents/intake_list.html", {
        "pending": pending, "returned": queries.returned_intakes(request.user), "may_approve": may_approve,
        "approval_required": config.approval_required(request.municipality),
        "may_change_settings": has_perm(request.user, Perm.MANAGE_CHANGE_SETTINGS),
    })


@staff_required(Perm.CHANGE_RESIDENTS)
def intake_detail(request, intake_id):
    intake = queries.get_intake(intake_id)
    may_approve = has_perm(request.user, Perm.APPROVE_CHANGES)
    if not may_approve and intake.received_by_id != request.user.pk:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    error = None
    if request.method == "POST" and intake.status == IntakeStatus.PENDING:
        decision = request.POST.get("decision")
        try:
            if decision == "approve":
                actions.approve_change(Actor.from_request(request), intake)
                messages.success(request, f"受付番号 {intake.receipt_label} を決裁し、住民記録に登録しました。")
                return redirect("intake_list")
            if decision == "return":
                actions.return_change(Actor.from_request(request), intake, reason=request.POST.get("reason", ""))
                messages.success(request, f"受付番号 {intake.receipt_label} を差し戻しました。")
                return redirect("intake_list")
        except (RuleError, ConflictError) as e:
            error = e
    check = None
    if intake.status == IntakeStatus.PENDING and may_approve:
        try:  # the rules as they stand now against the register (the same as 決裁 runs), nothing written
            actions.approve_change(Actor.from_request(request), intake, check_only=True)
        except RuleError as e:
            check = e
    record_event(request.municipality, "intake.view", actor=request.user, request=request, object_type="intake",
                 object_id=intake.pk, detail={"receipt_no": intake.receipt_label})
    held = queries.held_change(intake, request.user, request.municipality) if intake.payload else None
    return render(request, "residents/intake_detail.html", {
        "intake": intake, "held": held, "may_approve": may_approve, "check": check, "error": error,
        "reason": request.POST.get("reason", ""),
    }, status=422 if error else 200)


@staff_required(Perm.MANAGE_CHANGE_SETTINGS)
def change_settings(request):
    current = config.approval_required(request.municipality)
    wanted = request.POST.get("approval_required") == "1"
    if request.method == "POST" and request.POST.get("step") == "commit":
        out = actions.set_approval_required(Actor.from_request(request), wanted)
        messages.success(request, engine.PENDING_WEAKENING if isinstance(out, engine.SettingProposal)
                         else "受付・決裁の設定を変更しました。")
        return redirect("intake_list")
    return render(request, "residents/change_settings.html", {
        "current": current, "wanted": wanted, "confirm": request.method == "POST",
    })
