"""The signed-in user's own account: password change, authenticator enrolment, and the sign-in's second step."""
from base64 import b32encode
from binascii import unhexlify

import django_otp
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from jichitai.audit.actions import terminal_of
from jichitai.web.forms import apply_errors

from . import actions, queries
from .forms import PasswordChangeForm, TokenForm

PENDING_KEY = "mfa_pending_key"


def _next(request, default="dashboard"):
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt.startswith("/") and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                                               require_https=request.is_secure()):
        return nxt
    return default  # only a path on this site: redirect() would take any other text for a view name


def _signed_in(view):
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@_signed_in
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_own_password(request.user, terminal_of(request),
                                        old_password=form.cleaned_data["old_password"],
                                        new_password=form.cleaned_data["new_password1"])
        except actions.StaffRuleError as e:
            apply_errors(form, e)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, "パスワードを変更しました。")
            return redirect(_next(request))
    return render(request, "tenancy/password_change.html", {
        "form": form, "forced": request.user.must_change_password, "next": _next(request, "")})


def _qr_svg(url: str) -> str:
    import segno

    return segno.make(url, error="m").svg_inline(scale=5, dark="#1b1f24", light="#ffffff")


@_signed_in
def mfa_setup(request):
    """認証アプリの登録: a QR code drawn here (no external service) and the secret as text, then one code confirms
    it; the recovery codes are shown once on the response page."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    status = queries.mfa_status(user)
    if status["enrolled"]:
        if not user.is_verified():
            return redirect("mfa_verify")
        if request.method == "POST" and request.POST.get("step") == "renew":
            codes = actions.renew_recovery_codes(user, terminal_of(request))
            return render(request, "tenancy/recovery_codes.html", {"codes": codes, "next": _next(request)})
        return render(request, "tenancy/mfa_status.html", {"status": status})
    key = request.session.get(PENDING_KEY)
    if not key:
        key = request.session[PENDING_KEY] = actions.new_totp_key()
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = actions.enrol_totp(user, terminal_of(request), key, form.cleaned_data["token"])
        except actions.StaffRuleError as e:
            form.add_error("token", e.errors["token"][0])
        else:
            request.session.pop(PENDING_KEY, None)
            django_otp.login(request, device)
            return render(request, "tenancy/recovery_codes.html", {"codes": codes, "next": _next(request),
                                                                   "enrolled": True})
    url = TOTPDevice(user=user, key=key).config_url
    secret = b32encode(unhexlify(key)).decode()
    return render(request, "tenancy/mfa_setup.html", {
        "form": form, "qr": _qr_svg(url), "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "required": user.mfa_required, "next": _next(request, "")})


@_signed_in
def mfa_verify(request):
    """The second step of signing in: a code of the authenticator app, or one recovery code."""
    from django_otp import user_has_device

    user = request.user
    if user.is_verified():
        return redirect(_next(request))
    if not user_has_device(user):
        return redirect("mfa_setup")
    form = TokenForm(request.POST or None)
    form.fields["token"].label = "確認コード（6桁）または回復コード"
    form.fields["token"].widget.attrs.pop("inputmode", None)  # recovery codes have letters
    status = 200
    if request.method == "POST" and form.is_valid():
        if actions.verification_throttled(user, form.cleaned_data["token"]):
            form.add_error("token", "確認コードの誤りが続いたため、しばらく受け付けません。少し待ってからもう一度入力してください。")
            status = 429
        else:
            device = actions.verify_second_factor(user, terminal_of(request), form.cleaned_data["token"])
            if device is not None:
                django_otp.login(request, device)
                from django_otp.plugins.otp_static.models import StaticDevice

                if isinstance(device, StaticDevice):
                    left = device.token_set.count()
                    messages.warning(request, f"回復コードを使いました（残り {left} 個）。使ったコードは二度と使えません。"
                                              "認証アプリが使えない場合は管理者に2段階認証の解除を依頼してください。")
                return redirect(_next(request))
            form.add_error("token", "確認コードが正しくありません。認証アプリの6桁の数字、または未使用の回復コードを入力してください。")
            status = 400
    return render(request, "tenancy/mfa_verify.html", {"form": form, "next": _next(request, "")}, status=status)
