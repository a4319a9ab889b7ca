import mimetypes

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from jichitai.common.fonts import font_path
from jichitai.tenancy.roles import Perm, has_perm



class StaffAuthenticationForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "ユーザー名またはパスワードが正しくありません。",
        "inactive": "このアカウントは無効です。",
        "locked": "ログインの失敗が続いたため、このアカウントは一時的にロックされています。しばらくしてからお試しいただくか、管理者に連絡してください。",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "ユーザー名"
        self.fields["password"].label = "パスワード"

    def clean(self):
        from django.contrib.auth import get_user_model

        username = self.cleaned_data.get("username")
        user = get_user_model().objects.filter(username=username).first()
        if user is not None and user.locked_until and user.locked_until > timezone.now():
            from jichitai.audit.actions import record_event

            record_event(user.municipality, "auth.locked_attempt", actor=user, request=self.request)
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        from jichitai.audit.actions import record_event

        record_event(form.get_user().municipality, "auth.login", actor=form.get_user(), request=self.request)
        return response


@require_POST
def logout_view(request):
    from django.contrib.auth import logout

    if request.user.is_authenticated:
        from jichitai.audit.actions import record_event

        record_event(request.user.municipality, "auth.logout", actor=request.user, request=request)
    logout(request)
    messages.info(request, "ログアウトしました。")
    return redirect("login")


def dashboard(request):
    if not request.user.is_authenticated:
        return redirect("login")
    if has_perm(request.user, Perm.MANAGE_TENANTS):
        return redirect("platform_tenants")
    ctx = {}
    if has_perm(request.user, Perm.VIEW_RESIDENTS) and request.municipality is not None:
        from jichitai.residents import queries

        ctx["counts"] = queries.dashboard_counts(request.municipality)
        ctx["recent"] = queries.recent_changes(request.user, request.municipality)
    return render(request, "web/dashboard.html", ctx)


@cache_control(max_age=86400 * 30, public=True)
def font(request, name):
    path = font_path(name)
    if path is None:
        raise Http404("font not installed")
    return FileResponse(path.open("rb"), content_type=mimetypes.guess_type(name)[0] or "font/ttf")


def csrf_failure(request, reason=""):
    return render(request, "web/error.html", {"title": "画面の有効期限が切れました",
                                              "message": "もう一度画面を開き直してから操作してください。"}, status=403)


def permission_denied(request, exception=None):
    return render(request, "web/error.html", {"title": "権限がありません",
                                              "message": "この画面を利用する権限がありません。"}, status=403)


def not_found(request, exception=None):
    return render(request, "web/error.html", {"title": "見つかりません",
                                              "message": "指定されたページまたは記録は見つかりません。"}, status=404)
