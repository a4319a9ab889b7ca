"""Sign-in with lockout after repeated failures."""
import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils import timezone


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        user = User.objects.filter(username=username).select_related("municipality").first()
        now = timezone.now()
        if user is not None and user.locked_until and user.locked_until > now:
            from jichitai.audit.actions import record_event

            record_event(user.municipality, "auth.locked_attempt", actor=user, request=request,
                         detail={"username": username})
            raise PermissionDenied("locked")
        result = super().authenticate(request, username=username, password=password, **kwargs)
        from jichitai.audit.actions import record_event

        if user is None:
            # an unknown user name: recorded on the platform chain (no municipality to attribute it to)
            record_event(None, "auth.failed_unknown_user", request=request, detail={"username": (username or "")[:150]})
            return result

        if result is None:
            user.failed_logins += 1
            fields = ["failed_logins"]
            if user.failed_logins >= settings.JICHITAI_LOCKOUT_THRESHOLD:
                user.locked_until = now + dt.timedelta(minutes=settings.JICHITAI_LOCKOUT_MINUTES)
                user.failed_logins = 0
                fields.append("locked_until")
            user.save(update_fields=fields)
            record_event(user.municipality, "auth.failed", actor=user, request=request,
                         detail={"username": username, "locked": "locked_until" in fields})
            return None
        if user.failed_logins or user.locked_until:
            user.failed_logins = 0
            user.locked_until = None
            user.save(update_fields=["failed_logins", "locked_until"])
        return result
