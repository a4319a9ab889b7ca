import mimetypes

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from jichitai.common.fonts import font_path
from jichitai.tenancy.roles import Perm, has_perm



def sign_in_refused_message() -> str:
    """One message for an unknown user name, a wrong password, a disabled and a locked account (no hint which)."""
    from django.conf import settings

    return (f"ユーザー名またはパスワードが正しくないか、アカウントがロックされています。"
            f"{settings.JICHITAI_LOCKOUT_THRESHOLD}回続けて間違えると、アカウントは"
            f"{settings.JICHITAI_LOCKOUT_MINUTES}分間ロックされます。"
            "急ぐ場合は、所属する自治体の管理者に「職員管理」画面でロックの解除か仮パスワードの発行を依頼してください。")


class StaffAuthenticationForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "(set in __init__)",
        "inactive": "(set in __init__)",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages = {"invalid_login": sign_in_refused_message(), "inactive": sign_in_refused_message()}
        self.fields["username"].label = "ユーザー名"
        self.fields["password"].label = "パスワード"


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
