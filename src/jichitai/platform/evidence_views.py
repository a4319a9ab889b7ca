"""Provider security evidence: the page and the downloadable report (JSON) per municipality."""
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from jichitai.audit.actions import record_event
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import evidence
from .exit import canonical


def _target(request):
    u = request.user
    if not u.is_authenticated:
        raise PermissionDenied
    if has_perm(u, Perm.MANAGE_TENANTS):
        code = request.GET.get("code") or ""
        if not code:
            first = Municipality.objects.filter(is_active=True).order_by("code").first()
            if first is None:
                raise PermissionDenied
            return first, True
        return get_object_or_404(Municipality, code=code), True
    if u.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        return request.municipality, False
    raise PermissionDenied


def evidence_page(request):
    m, operator = _target(request)
    rep = evidence.report(m)
    if request.GET.get("format") == "json":
        record_event(None if operator else m, "evidence.downloaded", actor=request.user, request=request,
                     object_type="municipality", object_id=m.code)
        r = HttpResponse(canonical(rep), content_type="application/json; charset=utf-8")
        r["Content-Disposition"] = f'attachment; filename="security-evidence-{m.code}.json"'
        return r
    return render(request, "platform/evidence.html", {
        "m": m, "rep": rep, "operator": operator,
        "municipalities": Municipality.objects.filter(is_active=True) if operator else []})
