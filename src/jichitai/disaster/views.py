from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import actions, queries
from .forms import DeclareForm, OperatorDeclareForm, ShelterForm
from .viewutils import object_or_404


def _apply_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, exc.messages)


@staff_required(Perm.DISASTER_RESPONSE)
def home(request):
    return render(request, "disaster/home.html", {
        "current": queries.current_activation(), "activations": queries.activations()[:20],
        "shelters": queries.shelters(), "form": DeclareForm()})


@staff_required(Perm.DISASTER_RESPONSE)
@require_POST
def declare(request):
    form = DeclareForm(request.POST)
    if form.is_valid():
        try:
            actions.declare_disaster(request.user, terminal=terminal_of(request), **form.cleaned_data)
            messages.success(request, f"災害「{form.cleaned_data['name']}」を宣言しました。")
            return redirect("disaster_home")
        except ValidationError as e:
            _apply_errors(form, e)
    return render(request, "disaster/home.html", {
        "current": queries.current_activation(), "activations": queries.activations()[:20],
        "shelters": queries.shelters(), "form": form}, status=400)


@staff_required(Perm.DISASTER_RESPONSE)
@object_or_404(lambda activation_id, **_: queries.activations().filter(pk=activation_id).exists())
@require_POST
def end(request, activation_id: int):
    try:
        actions.end_disaster(request.user, activation_id, terminal=terminal_of(request))
        messages.success(request, "災害対応を終了しました。記録はそのまま残ります。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_home")


@staff_required(Perm.DISASTER_RESPONSE)
@require_http_methods(["GET", "POST"])
def shelter_edit(request, shelter_id: int | None = None):
    shelter = get_object_or_404(queries.shelters(), pk=shelter_id) if shelter_id else None
    form = ShelterForm(request.POST or None, instance=shelter)
    if request.method == "POST" and form.is_valid():
        try:
            s = actions.save_shelter(request.user, form.cleaned_data, shelter_id=shelter_id,
                                     terminal=terminal_of(request))
            messages.success(request, f"避難所「{s.name}」を保存しました。")
            return redirect("disaster_home")
        except ValidationError as e:
            _apply_errors(form, e)
    return render(request, "disaster/shelter_form.html", {"form": form, "shelter": shelter},
                  status=400 if request.method == "POST" else 200)


@staff_required(Perm.DISASTER_RESPONSE)
@object_or_404(lambda shelter_id, **_: queries.shelters().filter(pk=shelter_id).exists())
@require_POST
def shelter_open(request, shelter_id: int):
    want = request.POST.get("open") == "1"
    try:
        s = actions.set_shelter_open(request.user, shelter_id, want, terminal=terminal_of(request))
        messages.success(request, f"避難所「{s.name}」を{'開設' if want else '閉鎖'}しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_home")


@staff_required(Perm.MANAGE_TENANTS)
@require_http_methods(["GET", "POST"])
def operator_declare(request):
    form = OperatorDeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            munis = actions.municipalities_by_code(data.pop("municipalities"))
            d = actions.declare_disaster_for(request.user, munis, terminal=terminal_of(request), **data)
            messages.success(request, f"災害「{d.name}」を {len(munis)} 団体に宣言しました。")
            return redirect("disaster_operator_declare")
        except ValidationError as e:
            _apply_errors(form, e)
    return render(request, "disaster/operator_declare.html", {"form": form},
                  status=400 if request.method == "POST" else 200)
