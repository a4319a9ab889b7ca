"""CEPTOAR screens: the operator's advisories with their acknowledgements and the incident reports received; a
municipality's advisories to acknowledge and its incident form."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import actions, queries
from .models import AdvisoryKind, IncidentKind


def _who(request):
    u = request.user
    if not u.is_authenticated:
        raise PermissionDenied
    if has_perm(u, Perm.MANAGE_TENANTS):
        return True
    if u.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        return False
    raise PermissionDenied


def advisories(request):
    operator = _who(request)
    errors = {}
    if request.method == "POST":
        p = request.POST
        try:
            if operator:
                codes = p.getlist("codes") if p.get("to") == "chosen" else None
                actions.broadcast_advisory(request.user, kind=p.get("kind", ""), title=p.get("title", ""),
                                           body=p.get("body", ""), severity=p.get("severity", "中"),
                                           codes=codes or ([] if p.get("to") == "chosen" else None),
                                           terminal=terminal_of(request))
                messages.success(request, "配信しました。")
            elif p.get("step") == "ack":
                if not (p.get("advisory") or "").strip().isdigit():
                    raise actions.PlatformError("確認する注意喚起を指定してください。")
                actions.acknowledge_advisory(request.user, request.municipality, int(p["advisory"]),
                                             action_taken=p.get("action_taken", ""), terminal=terminal_of(request))
                messages.success(request, "確認を登録しました。")
            else:
                actions.report_incident(
                    request.user, request.municipality, kind=p.get("kind", ""), occurred_at=p.get("occurred_at", ""),
                    detected_at=p.get("detected_at", ""), summary=p.get("summary", ""),
                    affected_systems=p.get("affected_systems", ""), persons_affected=p.get("persons_affected", "0"),
                    personal_data=p.get("personal_data") == "1", contained=p.get("contained") == "1",
                    measures=p.get("measures", ""), terminal=terminal_of(request))
                messages.success(request, "インシデントを報告しました。")
            return redirect("platform_advisories")
        except actions.PlatformError as e:
            errors = e.errors
    ctx = {"operator": operator, "errors": errors, "posted": request.POST, "kinds": AdvisoryKind.choices,
           "incident_kinds": IncidentKind.choices}
    if operator:
        ctx.update(items=queries.advisories_with_status(), reports=queries.incident_reports(),
                   municipalities=Municipality.objects.filter(is_active=True).select_related("prefecture"))
    else:
        ctx.update(received=queries.advisories_for(request.municipality),
                   reports=queries.incident_reports(request.municipality))
    return render(request, "platform/advisories.html", ctx, status=400 if errors else 200)


def advisory_detail(request, pk):
    if not _who(request):
        raise PermissionDenied
    rows = queries.advisory_recipients(pk)
    return render(request, "platform/advisory_detail.html", {"rows": rows, "advisory": rows[0].advisory if rows
                                                              else None})
