"""Certificate settings screens: a municipal admin's 個別 tier, and the operator's 標準 / 県版 tiers.

Thin views: the scope (which tier, whose) comes from the signed-in user — the admin's own municipality only, never a
parameter — or, for the operator, from `?prefecture=CODE`. Every change has a confirmation page (old → new) and is
made by `config.set_setting` / `config.clear_setting`, which check the permission again and write the audit event."""
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Prefecture
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import config
from .models import Tier
from .settings_forms import SettingValueForm, initial_for


@dataclass
class Scope:
    tier: str
    prefecture: object = None
    municipality: object = None
    platform: bool = False

    @property
    def tier_label(self):
        return config.TIER_LABELS[self.tier]

    @property
    def owner_label(self):
        if self.tier == Tier.MUNICIPALITY:
            return f"{self.municipality}（個別）"
        if self.tier == Tier.PREFECTURE:
            return f"{self.prefecture.name}（県版）"
        return "全団体共通（標準）"

    @property
    def query(self):
        return f"?prefecture={self.prefecture.code}" if self.platform and self.prefecture else ""

    def url(self, name, **kwargs):
        prefix = "platform_certificate_setting" if self.platform else "certificate_setting"
        return reverse(f"{prefix}{name}", kwargs=kwargs) + self.query

    def resolved(self):
        if self.tier == Tier.MUNICIPALITY:
            return config.resolve(self.municipality)
        return config.resolve_for(prefecture_id=self.prefecture.pk if self.prefecture else None)

    def resolved_below(self):
        """What shows through when this tier's value is cleared."""
        if self.tier == Tier.MUNICIPALITY:
            return config.resolve_for(prefecture_id=self.municipality.prefecture_id)
        if self.tier == Tier.PREFECTURE:
            return config.resolve_for()
        return {k: config.Resolved(k, d.default, config.BUILTIN, "", None, d.label) for k, d in config.SETTINGS.items()}

    def preview(self, key, value):
        """The value as printed (placeholders filled for a municipality; kept as typed for 標準 / 県版)."""
        if self.tier == Tier.MUNICIPALITY and config.SETTINGS[key].type in ("text", "multiline"):
            return config.substitute(value, municipality_name=self.municipality.name,
                                     prefecture_name=self.municipality.prefecture.name)
        return value

    def action_kwargs(self):
        return {"tier": self.tier, "prefecture": self.prefecture, "municipality": self.municipality}


def _municipal_scope(request):
    return Scope(tier=Tier.MUNICIPALITY, municipality=request.municipality)


def _platform_scope(request):
    code = request.GET.get("prefecture", "").strip()
    if not code:
        return Scope(tier=Tier.STANDARD, platform=True)
    if not (code.isascii() and code.isdigit() and len(code) <= 2):
        raise Http404("unknown prefecture")
    return Scope(tier=Tier.PREFECTURE, prefecture=get_object_or_404(Prefecture, code=code.zfill(2)), platform=True)


def _definition(key):
    d = config.SETTINGS.get(key)
    if d is None:
        raise Http404("unknown setting")
    return d


@dataclass
class Shown:
    """One value on a screen: the text (or the image's data URI) and where it comes from."""

    definition: config.SettingDef
    value: object
    text: str
    resolved: config.Resolved | None = None
    typed: str = ""  # the value as typed, when placeholders were filled in

    @property
    def image(self):
        return self.value if self.definition.type == "image" and self.value else ""


def _shown(scope, d, value, resolved=None):
    printed = scope.preview(d.key, value)
    typed = value if printed != value else ""
    return Shown(d, value, config.display_value(d.key, printed), resolved, typed)


def _context(scope, **extra):
    ctx = {"scope": scope, "list_url": scope.url("s"),
           "title": "証明書の標準設定" if scope.platform else "証明書の設定"}
    ctx.update(extra)
    return ctx


def _settings_list(request, scope):
    resolved = scope.resolved()
    rows = [(_shown(scope, d, resolved[key].value, resolved[key]), scope.url("_edit", key=key),
             scope.url("_clear", key=key) if resolved[key].tier == scope.tier else "")
            for key, d in config.SETTINGS.items()]
    ctx = _context(scope, rows=rows)
    if scope.platform:
        ctx["prefectures"] = list(Prefecture.objects.all())
    return render(request, "certificates/settings_list.html", ctx)


def _settings_edit(request, scope, key):
    d = _definition(key)
    current = scope.resolved()[key]
    step = request.POST.get("step", "edit") if request.method == "POST" else "edit"
    if request.method == "POST" and step == "edit":  # back from the confirmation page: the typed value, no errors
        form = SettingValueForm(d, initial={"value": request.POST.get("value", "")} if d.type != "image" else {})
    elif request.method == "POST":
        form = SettingValueForm(d, request.POST, request.FILES)
    else:
        form = SettingValueForm(d, initial=initial_for(d, current.value))
    ctx = _context(scope, d=d, form=form, current=_shown(scope, d, current.value, current))
    if request.method == "POST" and step != "edit":
        if form.is_valid():
            new = form.cleaned_data["parsed"]
            if step == "commit":
                try:
                    config.set_setting(request.user, key, form.cleaned_data["submit_value"],
                                       terminal=terminal_of(request), **scope.action_kwargs())
                except config.SettingPermissionError:
                    raise
                except config.SettingError as e:
                    form.add_setting_errors(e)
                    return render(request, "certificates/settings_edit.html", ctx, status=422)
                messages.success(request, f"「{d.label}」の{scope.tier_label}の設定を保存しました。")
                return redirect(scope.url("s"))
            ctx.update(new=_shown(scope, d, new), submit_value=form.cleaned_data["submit_value"],
                       unchanged=(current.tier == scope.tier and current.value == new))
            return render(request, "certificates/settings_confirm.html", ctx)
        return render(request, "certificates/settings_edit.html", ctx, status=422)
    return render(request, "certificates/settings_edit.html", ctx)


def _settings_clear(request, scope, key):
    d = _definition(key)
    current = scope.resolved()[key]
    if current.tier != scope.tier:
        messages.error(request, f"「{d.label}」には{scope.tier_label}の設定がありません。")
        return redirect(scope.url("s"))
    below = scope.resolved_below()[key]
    if request.method == "POST" and request.POST.get("step") == "commit":
        try:
            config.clear_setting(request.user, key, terminal=terminal_of(request), **scope.action_kwargs())
        except config.SettingPermissionError:
            raise
        except config.SettingError as e:
            for msgs in e.errors.values():
                for msg in msgs:
                    messages.error(request, msg)
            return redirect(scope.url("s"))
        messages.success(request, f"「{d.label}」の{scope.tier_label}の設定を解除しました"
                                  f"（{below.tier_label}の値になります）。")
        return redirect(scope.url("s"))
    return render(request, "certificates/settings_confirm.html", _context(
        scope, d=d, clearing=True, current=_shown(scope, d, current.value, current),
        new=_shown(scope, d, below.value, below)))


# ------------------------------------------------------------------ municipal admin: the 個別 tier of his municipality

@staff_required(Perm.MANAGE_CERTIFICATE_SETTINGS)
def settings_list(request):
    return _settings_list(request, _municipal_scope(request))


@staff_required(Perm.MANAGE_CERTIFICATE_SETTINGS)
def setting_edit(request, key):
    return _settings_edit(request, _municipal_scope(request), key)


@staff_required(Perm.MANAGE_CERTIFICATE_SETTINGS)
def setting_clear(request, key):
    return _settings_clear(request, _municipal_scope(request), key)


# ------------------------------------------------------------------ platform operator: 標準 and 県版 tiers

@staff_required(Perm.MANAGE_TENANTS)
def platform_settings_list(request):
    return _settings_list(request, _platform_scope(request))


@staff_required(Perm.MANAGE_TENANTS)
def platform_setting_edit(request, key):
    return _settings_edit(request, _platform_scope(request), key)


@staff_required(Perm.MANAGE_TENANTS)
def platform_setting_clear(request, key):
    return _settings_clear(request, _platform_scope(request), key)
