"""Settings screens of the tier engine: every declared setting with its effective value and tier.

Who sees what: the operator edits 標準 / 標準追加 (no parameter) and 県版 (`?prefecture=CODE`); a municipality's
admin sees his municipality's effective values and sets (or, for settings that need approval, proposes) 個別 values;
the approver (operator, or the prefecture's coordinator when the 県版 rule says so) decides proposals. Every change
has a confirmation page; `engine.set_value` / `clear_value` / `decide_proposal` check the permission again."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Prefecture
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import engine
from .engine import TIER_LABELS, Tier


def _scope(request):
    """(tier, prefecture, municipality) of the screen; PermissionDenied for anyone else."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    if has_perm(user, Perm.MANAGE_TENANTS):
        code = (request.GET.get("prefecture") or request.POST.get("prefecture") or "").strip()
        if code:
            return Tier.PREFECTURE.value, get_object_or_404(Prefecture, code=code), None
        tier = request.GET.get("tier") or request.POST.get("tier") or Tier.STANDARD.value
        if tier not in engine.PLATFORM_TIERS:
            tier = Tier.STANDARD.value
        return tier, None, None
    if user.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        return Tier.MUNICIPALITY.value, None, request.municipality
    raise PermissionDenied


def _rows(tier, prefecture, municipality):
    reg = engine.registry()
    if municipality is not None:
        resolved = engine.municipality_values(municipality)
    else:
        resolved = engine.resolve_keys(list(reg), prefecture_id=getattr(prefecture, "pk", None))
    rows = []
    for key, d in sorted(reg.items(), key=lambda kv: (kv[1].area, kv[0])):
        r = resolved[key]
        rows.append({"key": key, "d": d, "r": r, "editable": tier in d.tiers,
                     "needs_approval": tier == Tier.MUNICIPALITY and d.approval,
                     "display": d.show(r.value) if d.type != "custom" or d.display else str(r.value)[:80]})
    return rows


def settings_index(request):
    tier, prefecture, municipality = _scope(request)
    ctx = {"tier": tier, "tier_label": TIER_LABELS[tier], "prefecture": prefecture, "target": municipality,
           "rows": _rows(tier, prefecture, municipality), "prefectures": Prefecture.objects.all(),
           "is_operator": municipality is None,
           "proposals": engine.proposals_of(municipality) if municipality is not None else [],
           "tiers": [(t, TIER_LABELS[t]) for t in (Tier.STANDARD.value, Tier.STANDARD_ADDED.value)]}
    return render(request, "platform/settings_index.html", ctx)


def setting_edit(request, key):
    tier, prefecture, municipality = _scope(request)
    try:
        d = engine.definition(key)
    except engine.SettingError:
        raise PermissionDenied from None
    if tier not in d.tiers:
        raise PermissionDenied
    current = engine.resolve(key, municipality, prefecture=prefecture)
    ctx = {"d": d, "key": key, "tier": tier, "tier_label": TIER_LABELS[tier], "prefecture": prefecture,
           "target": municipality, "current": current, "needs_approval": tier == Tier.MUNICIPALITY and d.approval,
           "raw": request.POST.get("value", ""), "requirement": request.POST.get("requirement", ""),
           "reason": request.POST.get("reason", "")}
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "edit":
            return render(request, "platform/setting_edit.html", ctx)
        try:
            value = d.parse(request.POST.get("value", "")) if step != "clear" else None
        except engine.SettingError as e:
            ctx["errors"] = [m for msgs in e.errors.values() for m in msgs]
            return render(request, "platform/setting_edit.html", ctx, status=400)
        owner = {"tier": tier, "prefecture": prefecture, "municipality": municipality}
        if step == "confirm":
            ctx.update(confirm=True, new_display=d.show(value), value=value)
            return render(request, "platform/setting_edit.html", ctx)
        try:
            if step == "commit":
                out = engine.set_value(request.user, key, request.POST.get("value", ""), **owner,
                                       requirement=ctx["requirement"], reason=ctx["reason"],
                                       terminal=terminal_of(request))
                if isinstance(out, engine.SettingProposal):
                    messages.success(request, f"「{d.label}」の個別の値を申請しました。承認されると有効になります。")
                else:
                    messages.success(request, f"「{d.label}」を変更しました。")
            elif step == "clear":
                engine.clear_value(request.user, key, **owner, terminal=terminal_of(request))
                messages.success(request, f"「{d.label}」の{TIER_LABELS[tier]}の値を削除しました。")
        except engine.SettingError as e:
            ctx["errors"] = [m for msgs in e.errors.values() for m in msgs]
            return render(request, "platform/setting_edit.html", ctx, status=400)
        return redirect(_back(prefecture, tier))
    return render(request, "platform/setting_edit.html", ctx)


def _back(prefecture, tier):
    from django.urls import reverse

    url = reverse("platform_settings")
    if prefecture is not None:
        return f"{url}?prefecture={prefecture.code}"
    if tier == Tier.STANDARD_ADDED:
        return f"{url}?tier={tier}"
    return url


def approvals(request):
    if not request.user.is_authenticated:
        raise PermissionDenied
    if not (has_perm(request.user, Perm.MANAGE_TENANTS) or request.user.role == Role.ADMIN):
        raise PermissionDenied
    rows = []
    for p in engine.pending_proposals(request.user):
        d = engine.definition(f"{p.namespace}.{p.key}")
        current = engine.resolve(d.key, p.municipality)
        rows.append({"p": p, "d": d, "new": d.show(p.value), "current": current})
    return render(request, "platform/approvals.html", {"rows": rows})


@require_POST
def approval_decide(request, pk):
    approve = request.POST.get("decision") == "approve"
    try:
        engine.decide_proposal(request.user, pk, approve=approve, note=request.POST.get("note", ""),
                               terminal=terminal_of(request))
    except engine.SettingPermissionError:
        raise PermissionDenied from None
    except engine.SettingError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "承認しました。" if approve else "却下しました。")
    return redirect("platform_approvals")
