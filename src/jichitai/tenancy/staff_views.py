"""職員管理 (municipal admins) and the operator's first-admin screen. Views are thin: form, confirmation, action."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from jichitai.audit.actions import terminal_of
from jichitai.platform import engine
from jichitai.web.decorators import staff_required

from . import actions, queries
from .forms import FirstAdminForm, MfaPolicyForm, StaffCreateForm, StaffEditForm
from .models import Municipality
from .roles import Perm, Role

BOOL = {True: "はい", False: "いいえ"}


def _apply_errors(form, err):
    for field, msgs in err.errors.items():
        for m in msgs:
            form.add_error(None if field == "__all__" or field not in form.fields else field, m)


def _confirm_lines(form):
    lines = []
    for f in form:
        v = form.cleaned_data.get(f.name)
        if isinstance(v, bool):
            v = BOOL[v]
        elif f.name == "role":
            v = Role(v).label
        lines.append((f.label, v or "—"))
    return lines


@staff_required(Perm.MANAGE_STAFF)
def staff_list(request):
    rows = [(u, queries.mfa_status(u)) for u in queries.staff_of(request.municipality)]
    return render(request, "tenancy/staff_list.html", {"rows": rows})


@staff_required(Perm.MANAGE_STAFF)
def staff_create(request):
    form = StaffCreateForm(request.POST or None)
    step = request.POST.get("step")
    if request.method == "POST" and step != "edit" and form.is_valid():
        if step != "commit":
            from jichitai.platform.licences import warnings_for  # licence check before the change

            return render(request, "tenancy/staff_form.html", {"form": form, "confirm": True, "lines": _confirm_lines(form),
                                                               "title": "職員の追加",
                                                               "licence_warnings": warnings_for("user")})
        try:
            user, temp = actions.create_staff(request.user, terminal_of(request), request.municipality,
                                              **form.cleaned_data)
        except actions.StaffRuleError as e:
            _apply_errors(form, e)
        else:
            return render(request, "tenancy/temp_password.html", {"target": user, "temp": temp, "created": True})
    return render(request, "tenancy/staff_form.html", {"form": form, "title": "職員の追加"})


@staff_required(Perm.MANAGE_STAFF)
def staff_edit(request, staff_id):
    target = queries.staff_member(request.municipality, staff_id)
    initial = {"display_name": target.display_name, "role": target.role,
               "can_view_dv_protected": target.can_view_dv_protected}
    form = StaffEditForm(request.POST or None, initial=initial)
    step = request.POST.get("step")
    if request.method == "POST" and step != "edit" and form.is_valid():
        if step != "commit":
            return render(request, "tenancy/staff_form.html", {"form": form, "confirm": True, "target": target,
                                                               "lines": _confirm_lines(form), "title": "職員情報の変更"})
        try:
            actions.update_staff(request.user, terminal_of(request), target, **form.cleaned_data)
        except actions.StaffRuleError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, f"{target.username} の職員情報を変更しました。")
            return redirect("staff_list")
    return render(request, "tenancy/staff_form.html", {"form": form, "target": target, "title": "職員情報の変更",
                                                       "mfa": queries.mfa_status(target)})


# The consequential one-click operations: a confirmation page (GET), then the action (POST step=commit).
OPERATIONS = {
    "unlock": ("ロックを解除する", "ログイン失敗の回数を消し、すぐにログインできるようにします。"),
    "reset_password": ("仮パスワードを発行する", "今のパスワードは使えなくなります。仮パスワードを本人に伝えてください。"
                                           "本人は次回ログイン時に新しいパスワードを設定します。ロックも解除されます。"),
    "reset_mfa": ("2段階認証を解除する", "認証アプリと回復コードの登録を消します。本人は次回ログイン時に登録し直します"
                                      "（管理者と、必須の団体の職員）。"),
    "disable": ("利用を停止する", "この職員はログインできなくなり、ログイン中の画面も次の操作で終了します。記録は残ります。"),
    "enable": ("利用を再開する", "この職員は再びログインできるようになります。"),
}


def _operation(request, staff_id, op):
    target = queries.staff_member(request.municipality, staff_id)
    label, explanation = OPERATIONS[op]
    ctx = {"target": target, "label": label, "explanation": explanation, "op": op}
    if request.method == "POST" and request.POST.get("step") == "commit":
        t = terminal_of(request)
        try:
            if op == "unlock":
                actions.unlock_staff(request.user, t, target)
            elif op == "reset_password":
                target, temp = actions.reset_staff_password(request.user, t, target)
                return render(request, "tenancy/temp_password.html", {"target": target, "temp": temp})
            elif op == "reset_mfa":
                actions.reset_staff_mfa(request.user, t, target)
            else:
                actions.set_staff_active(request.user, t, target, op == "enable")
        except actions.StaffRuleError as e:
            ctx["errors"] = [m for msgs in e.errors.values() for m in msgs]
            return render(request, "tenancy/staff_operation.html", ctx, status=400)
        messages.success(request, f"{target.username}: {label.replace('する', 'しました')}。")
        return redirect("staff_edit", staff_id=target.pk)
    return render(request, "tenancy/staff_operation.html", ctx)


def _operation_view(op):
    @staff_required(Perm.MANAGE_STAFF)
    def view(request, staff_id):
        return _operation(request, staff_id, op)

    view.__name__ = f"staff_{op}"
    return view


staff_unlock = _operation_view("unlock")
staff_reset_password = _operation_view("reset_password")
staff_reset_mfa = _operation_view("reset_mfa")
staff_disable = _operation_view("disable")
staff_enable = _operation_view("enable")


@staff_required(Perm.MANAGE_STAFF)
def staff_mfa_policy(request):
    m = request.municipality
    form = MfaPolicyForm(request.POST or None, initial={"mfa_required_for_all_staff": m.mfa_required_for_all_staff})
    step = request.POST.get("step")
    if request.method == "POST" and step != "edit" and form.is_valid():
        if step != "commit":
            return render(request, "tenancy/mfa_policy.html", {"form": form, "confirm": True,
                                                               "lines": _confirm_lines(form)})
        try:
            out = actions.set_mfa_policy(request.user, terminal_of(request), m,
                                         form.cleaned_data["mfa_required_for_all_staff"])
        except actions.StaffRuleError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, engine.PENDING_WEAKENING if isinstance(out, engine.SettingProposal)
                             else "2段階認証の設定を変更しました。")
            return redirect("staff_list")
    return render(request, "tenancy/mfa_policy.html", {"form": form})


@staff_required(Perm.MANAGE_TENANTS)
def platform_first_admin(request, code):
    m = get_object_or_404(Municipality.objects.select_related("prefecture"), code=code)
    has_admin = actions._active_admins(m).exists()
    form = FirstAdminForm(request.POST or None)
    step = request.POST.get("step")
    ctx = {"form": form, "m": m, "has_admin": has_admin}
    if request.method == "POST" and not has_admin and step != "edit" and form.is_valid():
        if step != "commit":
            return render(request, "tenancy/first_admin.html", {**ctx, "confirm": True,
                                                                "lines": _confirm_lines(form)})
        try:
            user, temp = actions.create_first_admin(request.user, terminal_of(request), m, **form.cleaned_data)
        except actions.StaffRuleError as e:
            _apply_errors(form, e)
        else:
            return render(request, "tenancy/temp_password.html", {"target": user, "temp": temp, "created": True,
                                                                  "back": reverse("platform_tenants")})
    return render(request, "tenancy/first_admin.html", ctx)
