from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import redirect, render

from jichitai.audit.actions import record_event
from jichitai.common.checkdigits import validate_local_government_code
from jichitai.web.decorators import staff_required

from .models import Municipality, Prefecture
from .roles import Perm


@staff_required(Perm.MANAGE_TENANTS)
def tenants(request):
    """The operator's view: tenants and their sizes (counts only — the operator never reads personal data)."""
    from .platform_stats import resident_counts

    counts = resident_counts()
    rows = [(m, counts.get(m.pk, 0)) for m in Municipality.objects.select_related("prefecture").annotate(
        staff_count=Count("staff", filter=Q(staff__is_active=True)),
        admin_count=Count("staff", filter=Q(staff__is_active=True, staff__role="admin")))]
    total = sum(counts.values()) or 1
    return render(request, "tenancy/tenants.html", {
        "rows": [(m, n, round(100 * n / total, 1)) for m, n in rows],
    })


class TenantForm(forms.Form):
    code = forms.CharField(label="地方公共団体コード", max_length=6, help_text="5桁、または検査数字付きの6桁")
    name = forms.CharField(label="団体名", max_length=40)
    name_kana = forms.CharField(label="団体名カナ", max_length=80, required=False)
    prefecture_name = forms.CharField(label="都道府県名", max_length=10, required=False,
                                      help_text="新しい都道府県コードの場合のみ")

    def clean_code(self):
        try:
            code = validate_local_government_code(self.cleaned_data["code"])
        except ValueError as e:
            raise forms.ValidationError(str(e).split(" / ")[0]) from None
        if Municipality.objects.filter(code=code).exists():
            raise forms.ValidationError("この団体は既に登録されています")
        return code


@staff_required(Perm.MANAGE_TENANTS)
def tenant_create(request):
    form = TenantForm(request.POST or None)
    if request.method == "POST" and request.POST.get("step") != "edit" and form.is_valid():
        d = form.cleaned_data
        if request.POST.get("step") != "commit":
            from jichitai.platform.licences import warnings_for  # licence check before the change

            return render(request, "tenancy/tenant_form.html", {"form": form, "confirm": True,
                                                                "licence_warnings": warnings_for("tenant")})
        with transaction.atomic():
            pref = Prefecture.objects.filter(code=d["code"][:2]).first()
            if pref is None:
                if not d["prefecture_name"]:
                    form.add_error("prefecture_name", "新しい都道府県の名前を入力してください")
                    return render(request, "tenancy/tenant_form.html", {"form": form})
                pref = Prefecture.objects.create(code=d["code"][:2], name=d["prefecture_name"])
            m = Municipality.objects.create(code=d["code"], name=d["name"], name_kana=d["name_kana"], prefecture=pref)
            record_event(None, "platform.tenant_created", actor=request.user, request=request,
                         object_type="municipality", object_id=m.code, detail={"name": m.name})
        messages.success(request, f"{m}を登録しました。続けて最初の管理者を登録してください。")
        return redirect("platform_first_admin", code=m.code)
    return render(request, "tenancy/tenant_form.html", {"form": form})
