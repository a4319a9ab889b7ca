import tempfile

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from jichitai.audit.actions import terminal_of
from jichitai.privacy import policy
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import offline, queries
from .offline_models import OfflineIntake, OfflineKit, SyncConflict


class SyncUploadForm(forms.Form):
    file = forms.FileField(label="同期ファイル（オフラインキットから書き出したもの）",
                           widget=forms.ClearableFileInput(attrs={"autofocus": True}))


class IntakeForm(forms.Form):
    kind = forms.ChoiceField(label="届出の種類", choices=offline.INTAKE_KINDS,
                             widget=forms.Select(attrs={"autofocus": True}))
    atena_no = forms.CharField(label="宛名番号（分かれば）", max_length=20, required=False)
    notifier = forms.CharField(label="届出人（氏名・続柄）", max_length=100)
    memo = forms.CharField(label="届出の内容（新住所・異動日・確認した本人確認書類など）", max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 5}))


@staff_required(Perm.MANAGE_BCP)
@require_http_methods(["GET", "POST"])
def kits(request):
    form = SyncUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        with tempfile.NamedTemporaryFile(suffix=".jcsync") as tmp:
            for chunk in form.cleaned_data["file"].chunks():
                tmp.write(chunk)
            tmp.flush()
            try:
                r = offline.sync_file(request.user, tmp.name, terminal=terminal_of(request))
            except (offline.KitError, ValidationError) as e:
                form.add_error("file", str(e) if isinstance(e, offline.KitError) else " ".join(e.messages))
            else:
                messages.success(request, f"同期しました: 反映 {r['applied']} 件、受付待ち {r['queued']} 件、要判断 "
                                          f"{r['conflict']} 件、同期済みのため省略 {r['already']} 件。")
                return redirect("offline_kits")
    return render(request, "continuity/offline_kits.html", {
        "form": form, "kits": queries.offline_kits(),
        "conflicts": SyncConflict.objects.filter(status="open").select_related("kit"),
        "intakes": queries.offline_intakes(policy.for_staff(request.user), status="pending")},
        status=400 if request.method == "POST" else 200)


class RevokeForm(forms.Form):
    reason = forms.CharField(label="失効の理由（例: ノートPCの紛失、盗難の届出番号）", max_length=200,
                             widget=forms.TextInput(attrs={"autofocus": True, "size": 60}))


@staff_required(Perm.MANAGE_BCP)
@require_http_methods(["GET", "POST"])
def revoke(request, offline_kit_id: int):
    """Confirm, then revoke an issued kit (lost laptop): its sync files are refused, its unused numbers void."""
    kit = OfflineKit.objects.filter(pk=offline_kit_id).first()  # another municipality's id: 404
    if kit is None:
        raise Http404
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            kit = offline.revoke_kit(request.user, kit.pk, reason=form.cleaned_data["reason"],
                                     terminal=terminal_of(request))
        except ValidationError as e:
            if hasattr(e, "error_dict"):
                for field, errs in e.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                form.add_error(None, e.messages)
        else:
            messages.success(request, f"端末 {kit.device} のオフラインキットを失効させました。以後この端末の同期ファイルは"
                                      f"取り込みません。証明書番号 {kit.void_count} 件を欠番にしました。")
            return redirect("offline_kits")
    return render(request, "continuity/offline_revoke.html", {
        "kit": kit, "form": form, "void_preview": offline.void_ranges_of(kit) if not kit.revoked_at else []},
        status=400 if request.method == "POST" else 200)


@staff_required(Perm.MANAGE_BCP)
def decide(request, conflict_id: int):
    if not SyncConflict.objects.filter(pk=conflict_id).exists():  # another municipality's id: 404 for any method
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        offline.decide_conflict(request.user, conflict_id, accept=request.POST.get("accept") == "1",
                                note=request.POST.get("note", ""), terminal=terminal_of(request))
        messages.success(request, "競合を判断しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("offline_kits")


@staff_required(Perm.CHANGE_RESIDENTS)
def intakes(request):
    """Platform side: 届出 received offline and synced, for the counter clerks to enter."""
    return render(request, "continuity/offline_intakes.html", {
        "intakes": queries.offline_intakes(policy.for_staff(request.user), status="pending"),
        "done": queries.offline_intakes(policy.for_staff(request.user), status="done", limit=20)})


@staff_required(Perm.CHANGE_RESIDENTS)
def intake_done(request, offline_intake_id: int):
    if not OfflineIntake.objects.filter(pk=offline_intake_id).exists():
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        offline.finish_intake(request.user, offline_intake_id, terminal=terminal_of(request))
        messages.success(request, "処理済みにしました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("offline_intakes" if request.POST.get("next") == "intakes" else "offline_kits")


@staff_required(Perm.CHANGE_RESIDENTS)
@require_http_methods(["GET", "POST"])
def intake_new(request):
    """Kit side: 届出の受付 while offline (recorded for later; the register is not changed here)."""
    if not offline.offline_mode():
        messages.error(request, "オフライン受付はオフラインキットでのみ使えます。")
        return redirect("dashboard")
    form = IntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            offline.queue_intake(request.user, terminal=terminal_of(request), **form.cleaned_data)
            messages.success(request, "届出を受け付けました（ネットワーク復旧後の同期で本庁の受付待ちに入ります）。")
            return redirect("offline_intake_new")
        except ValidationError as e:
            for field, errs in e.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
    from .offline_models import OutboxEvent

    return render(request, "continuity/offline_intake.html", {
        "form": form, "kinds": dict(offline.INTAKE_KINDS),
        "queued": OutboxEvent.objects.filter(kind="intake_queued").order_by("-seq")[:50]},
        status=400 if request.method == "POST" else 200)
