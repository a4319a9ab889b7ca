"""Contract exit screens: the operator starts, exports and deletes; the municipality's admin downloads and confirms.
Each step has its own form (no step commits on a stray Enter: deletion needs the typed 団体コード)."""
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import actions
from . import exit as exit_
from .models import ContractExit


def _who(request):
    u = request.user
    if not u.is_authenticated:
        raise PermissionDenied
    if has_perm(u, Perm.MANAGE_TENANTS):
        return True
    if u.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        return False
    raise PermissionDenied


def _exit_for(request, pk):
    operator = _who(request)
    ex = get_object_or_404(ContractExit.objects.select_related("municipality"), pk=pk)
    if not operator and ex.municipality_id != request.municipality.pk:
        raise Http404
    return operator, ex


def exits(request):
    operator = _who(request)
    errors = {}
    if request.method == "POST" and operator:
        m = Municipality.objects.filter(code=request.POST.get("code", "")).first()
        try:
            if m is None:
                raise actions.PlatformError({"code": ["団体を選んでください。"]})
            ex = actions.start_exit(request.user, m, reason=request.POST.get("reason", ""),
                                    terminal=terminal_of(request))
            messages.success(request, f"{m}の契約終了の手続きを始めました。")
            return redirect("platform_exit", ex.pk)
        except actions.PlatformError as e:
            errors = e.errors
    qs = ContractExit.objects.all() if operator else ContractExit.objects.filter(municipality=request.municipality)
    return render(request, "platform/exits.html", {
        "operator": operator, "items": list(qs[:100]), "errors": errors,
        "municipalities": Municipality.objects.filter(is_active=True).select_related("prefecture")},
        status=400 if errors else 200)


def exit_detail(request, pk):
    operator, ex = _exit_for(request, pk)
    errors = {}
    if request.method == "POST":
        step = request.POST.get("step")
        try:
            if step == "export" and operator:
                actions.export_for_exit(request.user, ex.pk, terminal=terminal_of(request))
                messages.success(request, "全データを出力しました。団体の受領確認を待っています。")
            elif step == "confirm" and not operator:
                actions.confirm_exit(request.user, ex.pk, sha256_typed=request.POST.get("sha256", ""),
                                     terminal=terminal_of(request))
                messages.success(request, "受領を確認しました。")
            elif step == "delete" and operator:
                actions.delete_for_exit(request.user, ex.pk, typed_code=request.POST.get("code", ""),
                                        terminal=terminal_of(request))
                messages.success(request, "データを削除し、削除証明書を発行しました。")
            else:
                raise PermissionDenied
            return redirect("platform_exit", ex.pk)
        except actions.PlatformError as e:
            errors = e.errors
        ex.refresh_from_db()
    valid = (exit_.verify_certificate(ex.certificate, ex.certificate_signature, ex.certificate_key_id)
             if ex.certificate_signature else None)
    return render(request, "platform/exit_detail.html", {
        "ex": ex, "operator": operator, "errors": errors, "certificate_valid": valid,
        "certificate_json": json.dumps(ex.certificate, ensure_ascii=False, indent=2) if ex.certificate else ""},
        status=400 if errors else 200)


def exit_archive(request, pk):
    operator, ex = _exit_for(request, pk)
    if operator:
        raise PermissionDenied
    try:
        path = actions.download_exit_archive(request.user, ex.pk, terminal=terminal_of(request))
        f = open(path, "rb")
    except (actions.PlatformError, FileNotFoundError):
        raise Http404 from None
    return FileResponse(f, as_attachment=True, filename=f"exit-{ex.municipality_code}-{ex.pk}.zip")


def exit_certificate(request, pk):
    _operator, ex = _exit_for(request, pk)
    if not ex.certificate_signature:
        raise Http404
    body = exit_.canonical({"statement": ex.certificate, "signature": ex.certificate_signature,
                            "key_id": ex.certificate_key_id, "algorithm": "Ed25519",
                            "signed_bytes": "canonical JSON of statement (sorted keys, no spaces, UTF-8)"})
    r = HttpResponse(body, content_type="application/json; charset=utf-8")
    r["Content-Disposition"] = f'attachment; filename="deletion-certificate-{ex.municipality_code}-{ex.pk}.json"'
    return r
