from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from jichitai.audit.actions import terminal_of
from jichitai.platform import engine
from jichitai.residents.models import Person
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import actions, policy


@staff_required(Perm.MANAGE_PRIVACY_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_view(request):
    current = policy.household_rule()
    if request.method == "POST":
        wanted = request.POST.get("protect_household_members") == "1"
        if request.POST.get("step") != "commit":
            return render(request, "privacy/settings.html", {"current": current, "wanted": wanted, "confirm": True})
        out = actions.set_household_rule(request.user, wanted, terminal=terminal_of(request))
        messages.success(request, engine.PENDING_WEAKENING if isinstance(out, engine.SettingProposal)
                         else "個人情報保護の設定を変更しました。")
        return redirect("privacy_settings")
    return render(request, "privacy/settings.html", {
        "current": current, "setting": engine.resolve("privacy.protect_household_members", request.municipality),
        "protected_now": Person.objects.filter(policy.protected_q()).count(),
        "protected_own": Person.objects.filter(dv_protected=True).count(),
    })
