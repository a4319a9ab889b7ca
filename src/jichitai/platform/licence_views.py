"""Licences (operator): the inventory checked against the deployment's actual resources."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.roles import Perm, has_perm

from . import actions, licences
from .models import LicenceBasis


def licence_index(request):
    if not has_perm(request.user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    errors = {}
    if request.method == "POST":
        p = request.POST
        try:
            if p.get("remove"):
                actions.remove_licence(request.user, int(p["remove"]), terminal=terminal_of(request))
                messages.success(request, "ライセンスを削除しました。")
            else:
                actions.add_licence(request.user, product=p.get("product", ""), vendor=p.get("vendor", ""),
                                    basis=p.get("basis", ""), entitlement=p.get("entitlement", ""),
                                    note=p.get("note", ""), terminal=terminal_of(request))
                messages.success(request, "ライセンスを登録しました。")
            return redirect("platform_licences")
        except (actions.PlatformError, ValueError) as e:
            errors = getattr(e, "errors", {"__all__": [str(e)]})
    res = licences.resources()
    return render(request, "platform/licences.html", {
        "checks": licences.check_all(res), "res": res, "bases": LicenceBasis.choices, "errors": errors,
        "next_user": licences.warnings_for("user"), "next_tenant": licences.warnings_for("tenant")},
        status=400 if errors else 200)
