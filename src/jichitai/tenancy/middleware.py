from .scope import reset_request_tenant, set_request_tenant


class TenantMiddleware:
    """Sets the request's municipality from the signed-in user, and clears it afterwards.

    The operator (and anonymous visitors) get no municipality: any access to tenant data then raises.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        municipality = None
        if user is not None and user.is_authenticated and user.municipality_id:
            municipality = user.municipality
        request.municipality = municipality
        token = set_request_tenant(municipality)
        try:
            return self.get_response(request)
        finally:
            reset_request_tenant(token)


class IdleTimeoutMiddleware:
    """Signs a user out after JICHITAI_IDLE_TIMEOUT_SECONDS without a request.

    The last-seen time is refreshed at most once a minute, so a busy clerk's requests do not each write the
    session store (SESSION_SAVE_EVERY_REQUEST would)."""

    REFRESH_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        from django.conf import settings
        from django.contrib import messages
        from django.contrib.auth import logout
        from django.shortcuts import redirect

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last = request.session.get("last_seen", now)
            if now - last > settings.JICHITAI_IDLE_TIMEOUT_SECONDS:
                from jichitai.audit.actions import record_event

                record_event(user.municipality, "auth.idle_timeout", actor=user, request=request)
                logout(request)
                messages.info(request, "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。")
                from urllib.parse import quote

                return redirect(f"{settings.LOGIN_URL_PATH}?next={quote(request.path)}")
            if now - last >= self.REFRESH_SECONDS or "last_seen" not in request.session:
                request.session["last_seen"] = now
        return self.get_response(request)


class MFARequiredMiddleware:
    """The second sign-in step, and the forced password change, for signed-in users (after OTPMiddleware).

    A user signed in with a password but not yet verified by a device (`request.user.is_verified()`) reaches only:
    the code-entry page if they have a confirmed device; else the enrolment page if two-step sign-in is mandatory
    for them (admins, the operator, staff of a municipality that requires it). A user who must change a temporary
    password reaches only the password change page. Sign-out and fonts are always reachable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            target = self.required_step(request, user)
            if target is not None:
                from django.shortcuts import redirect
                from django.urls import reverse

                url = reverse(target)
                if request.path != url and not self._always_allowed(request.path):
                    if request.method == "GET":
                        from urllib.parse import urlencode

                        return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
                    return redirect(url)
        return self.get_response(request)

    @staticmethod
    def required_step(request, user):
        if not user.is_verified():
            if MFARequiredMiddleware._has_device(request, user):
                return "mfa_verify"
            if user.mfa_required:
                return "mfa_setup"
        if user.must_change_password:
            return "password_change"
        return None

    @staticmethod
    def _has_device(request, user) -> bool:
        """django_otp's user_has_device (one query per device model), asked once per request: the middleware and
        the menu's context processor both need it (≈ 2 × 3 queries of every page before)."""
        from django_otp import user_has_device

        cache = request.__dict__.setdefault("_jichitai_has_device", {})
        if user.pk not in cache:
            cache[user.pk] = user_has_device(user)
        return cache[user.pk]

    @staticmethod
    def _always_allowed(path):
        from django.urls import reverse

        return path == reverse("logout") or path.startswith("/fonts/") or path.startswith("/static/")
