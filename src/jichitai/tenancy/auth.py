"""Sign-in with lockout after repeated failures, counted atomically.

Every password check first reserves an attempt with ONE conditional UPDATE: the counter is incremented only while
it is below JICHITAI_LOCKOUT_THRESHOLD and the account is not locked (or its lock has expired, which starts a new
count); the reservation that takes the last attempt also sets the lock. If no attempt can be reserved the sign-in is
refused as locked WITHOUT checking the password. So however many requests arrive at once, at most THRESHOLD
passwords are checked per lockout period. A successful check clears the counter and the lock.

Unknown users, wrong passwords, inactive and locked accounts all get the same answer (None → the same message)."""
import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.utils import timezone


def _adapt(value):
    return connection.ops.adapt_datetimefield_value(value)


def reserve_attempt(user_id) -> int | None:
    """Reserve one password check for the user: returns the attempt's number (1..THRESHOLD), or None when the
    account is locked. One statement, so concurrent requests cannot both take the last attempt."""
    threshold = settings.JICHITAI_LOCKOUT_THRESHOLD
    now = timezone.now()
    until = now + dt.timedelta(minutes=settings.JICHITAI_LOCKOUT_MINUTES)
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    expired = "(locked_until IS NOT NULL AND locked_until <= %(now)s)"
    sql = f"""
        UPDATE {table} SET
          failed_logins = CASE WHEN {expired} THEN 1 ELSE failed_logins + 1 END,
          locked_until = CASE
            WHEN {expired} THEN (CASE WHEN 1 >= %(threshold)s THEN %(until)s ELSE NULL END)
            WHEN failed_logins + 1 >= %(threshold)s THEN %(until)s
            ELSE locked_until END
        WHERE id = %(id)s AND ({expired} OR (locked_until IS NULL AND failed_logins < %(threshold)s))
        RETURNING failed_logins"""
    with connection.cursor() as cur:
        cur.execute(sql, {"now": _adapt(now), "until": _adapt(until), "threshold": threshold, "id": user_id})
        row = cur.fetchone()
    return None if row is None else row[0]


def clear_attempts(user_id):
    get_user_model().objects.filter(pk=user_id).exclude(failed_logins=0, locked_until=None).update(
        failed_logins=0, locked_until=None)


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        from jichitai.audit.actions import record_event

        if username is None or password is None:
            return None
        User = get_user_model()
        user = User.objects.filter(username=username).select_related("municipality").first()
        if user is None:
            User().set_password(password)  # the same hashing cost as a real check (no timing hint)
            # an unknown user name: recorded on the platform chain (no municipality to attribute it to)
            record_event(None, "auth.failed_unknown_user", request=request, detail={"username": (username or "")[:150]})
            return None
        attempt = reserve_attempt(user.pk)
        if attempt is None:
            # locked: the password is NOT checked; hashing it for a throwaway user keeps the answer's timing the
            # same as for a wrong password (no hint that the account exists or is locked)
            User().set_password(password)
            record_event(user.municipality, "auth.locked_attempt", actor=user, request=request,
                         detail={"username": username})
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            clear_attempts(user.pk)
            user.failed_logins, user.locked_until = 0, None
            return user
        locked = attempt >= settings.JICHITAI_LOCKOUT_THRESHOLD
        record_event(user.municipality, "auth.failed", actor=user, request=request,
                     detail={"username": username, "locked": locked})
        return None
