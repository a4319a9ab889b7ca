"""Sign-in lockout counted atomically: however many wrong passwords arrive at once, exactly
JICHITAI_LOCKOUT_THRESHOLD passwords are checked before the account locks."""
import datetime as dt
import threading

import pytest
from conftest import PASSWORD, make_user
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connections
from django.utils import timezone

from jichitai.audit.models import AuditEvent
from jichitai.tenancy.auth import reserve_attempt
from jichitai.tenancy.models import Municipality, Prefecture, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope

THREADS = 16


@pytest.fixture
def counted_checks(monkeypatch):
    """Counts password checks; each check takes a little while so that the threads really overlap."""
    import time

    calls = []
    lock = threading.Lock()
    original = StaffUser.check_password

    def check_password(self, raw):
        with lock:
            calls.append(raw)
        time.sleep(0.05)
        return original(self, raw)

    monkeypatch.setattr(StaffUser, "check_password", check_password)
    return calls


def _sqlite_in_memory():
    from django.db import connection

    return connection.vendor == "sqlite" and ("mode=memory" in str(connection.settings_dict["NAME"])
                                               or str(connection.settings_dict["NAME"]) == ":memory:")


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_wrong_passwords_check_exactly_the_threshold(counted_checks):
    if _sqlite_in_memory():
        # The SQLite test database is in memory with a shared cache, where a second writer gets "database table is
        # locked" at once (the busy timeout does not apply), unlike the file database the app uses. So this
        # concurrent run is PostgreSQL's; on SQLite writers are serialised anyway, and the counting itself is
        # checked by test_reservation_counts_and_expires on both engines.
        pytest.skip("concurrent writers need a file or server database (runs on PostgreSQL)")
    pref = Prefecture.objects.create(code="44", name="大分県")
    m = Municipality.objects.create(code="44204", name="日田市", prefecture=pref)
    user = make_user("clerk-race", Role.CLERK, m)
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def attempt(i):
        try:
            barrier.wait()
            results.append(authenticate(None, username="clerk-race", password=f"wrong-{i}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    threshold = settings.JICHITAI_LOCKOUT_THRESHOLD
    assert len(results) == THREADS and all(r is None for r in results)
    assert len(counted_checks) == threshold  # exactly the threshold of password checks, not more
    user.refresh_from_db()
    assert user.is_locked and user.locked_until > timezone.now() and user.failed_logins == threshold
    with tenant_scope(m):  # the municipality's own chain (row-level security on PostgreSQL)
        events = AuditEvent.objects.all()
        assert events.filter(action="auth.failed").count() == threshold
        assert events.filter(action="auth.locked_attempt").count() == THREADS - threshold
    # locked: even the right password is refused without being checked
    counted_checks.clear()
    assert authenticate(None, username="clerk-race", password=PASSWORD) is None
    assert counted_checks == []


def test_reservation_counts_and_expires(db):
    pref = Prefecture.objects.create(code="44", name="大分県")
    m = Municipality.objects.create(code="44204", name="日田市", prefecture=pref)
    user = make_user("clerk-x", Role.CLERK, m)
    threshold = settings.JICHITAI_LOCKOUT_THRESHOLD
    assert [reserve_attempt(user.pk) for _ in range(threshold + 2)] == [*range(1, threshold + 1), None, None]
    user.refresh_from_db()
    assert user.locked_until is not None
    # the lock expires: the next attempt starts a new count
    StaffUser.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert reserve_attempt(user.pk) == 1
    user.refresh_from_db()
    assert user.locked_until is None and not user.is_locked
    # a correct password clears the count
    assert authenticate(None, username="clerk-x", password=PASSWORD) == user
    user.refresh_from_db()
    assert user.failed_logins == 0


def test_an_unknown_user_costs_a_hash_and_is_recorded(db, counted_checks):
    assert authenticate(None, username="nobody", password="x") is None
    assert AuditEvent.all_chains.filter(action="auth.failed_unknown_user").count() == 1
