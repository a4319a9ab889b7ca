"""SLA screens (operator): the monthly report, the 責任分界点 matrix, the incident register and timelines; the probe
page the synthetic probe requests."""
import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import tenant_scope

from . import actions, charts, sla
from .models import Incident


def _month(request):
    raw = request.GET.get("month", "")
    try:
        y, m = (int(x) for x in raw.split("-"))
        if 1 <= m <= 12 and 2000 <= y <= 2100:
            return y, m
    except ValueError:
        pass
    last = timezone.localdate().replace(day=1) - dt.timedelta(days=1)  # the last complete month
    return last.year, last.month


def sla_index(request):
    if not has_perm(request.user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    y, mo = _month(request)
    errors = {}
    if request.method == "POST":
        p = request.POST
        try:
            actions.open_incident(request.user, title=p.get("title", ""), category=p.get("category", ""),
                                  impact=p.get("impact", ""), affected=p.get("affected", "").split(),
                                  started_at=p.get("started_at", ""), text=p.get("text", ""),
                                  notify=p.get("notify") == "1", terminal=terminal_of(request))
            messages.success(request, "障害を登録しました。")
            return redirect("platform_sla")
        except actions.PlatformError as e:
            errors = e.errors
    munis = list(Municipality.objects.filter(is_active=True).select_related("prefecture"))
    rows = sla.report(y, mo, munis)
    chart = charts.bars([(r.municipality.name, round(r.availability, 3)) for r in rows], unit="%",
                        title="稼働率（%）", target=rows[0].target_permille / 10 if rows else None) if rows else ""
    return render(request, "platform/sla.html", {
        "rows": rows, "year": y, "month": mo, "chart": chart, "matrix": [
            (k, what, sla.PARTIES[who]) for k, (what, who) in sla.RESPONSIBILITY.items()],
        "incidents": list(Incident.objects.all()[:100]), "parties": sla.PARTIES, "errors": errors,
        "impacts": actions.IMPACTS}, status=400 if errors else 200)


def incident_detail(request, pk):
    if not has_perm(request.user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    inc = get_object_or_404(Incident, pk=pk)
    errors = {}
    if request.method == "POST":
        try:
            actions.update_incident(request.user, inc.pk, text=request.POST.get("text", ""),
                                    resolve=request.POST.get("resolve") == "1",
                                    resolved_at=request.POST.get("resolved_at", ""),
                                    notify=request.POST.get("notify") == "1", terminal=terminal_of(request))
            messages.success(request, "経過を登録しました。")
            return redirect("platform_incident", inc.pk)
        except actions.PlatformError as e:
            errors = e.errors
    return render(request, "platform/incident.html", {
        "inc": inc, "events": list(inc.events.all()), "errors": errors, "party": sla.PARTIES[inc.responsible],
        "category": sla.RESPONSIBILITY[inc.category][0], "impacts": actions.IMPACTS},
        status=400 if errors else 200)


def probe(request, code):
    """No sign-in, no data: 200 'ok' when the municipality's data can be read (one row, in its scope)."""
    from jichitai.residents.models import Person

    m = Municipality.objects.filter(code=code, is_active=True).first()
    if m is None:
        raise Http404
    with tenant_scope(m):
        Person.objects.values_list("pk", flat=True).first()
    r = HttpResponse("ok", content_type="text/plain")
    r["Cache-Control"] = "no-store"
    return r
