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
