"""Tenant isolation, enforced in one place.

The municipality of the current request (or of an explicit `tenant_scope(...)` block) lives in a context variable.
Every tenant-owned model uses `TenantManager` as its default manager: its querysets are filtered to the current
municipality, and with no municipality set they raise `TenantScopeError` instead of returning everyone's rows.
System code that must cross tenants (platform operator statistics, audit verification, benchmarks) says so
explicitly with `Model.all_tenants` inside a `cross_tenant(reason)` block, which is never used by views; the
modules allowed to do so are listed, with reasons, in tests/test_db_guard.py.

The same two context variables are mirrored into the database session by `jichitai.guard.db` (PostgreSQL row-level
security keyed on `jichitai.municipality` / `jichitai.scope`), so a raw statement that forgets its municipality
filter still sees only the municipality in scope.
"""
import contextlib
import contextvars

from django.db import models

_current = contextvars.ContextVar("jichitai_municipality", default=None)
_cross = contextvars.ContextVar("jichitai_cross_tenant", default=None)  # the reason, inside cross_tenant()


class TenantScopeError(RuntimeError):
    """Tenant data was reached without a municipality in scope. This is a programming error, never a user's."""


def current_municipality():
    return _current.get()


def require_municipality():
    m = _current.get()
    if m is None:
        raise TenantScopeError("tenant data accessed outside a municipality scope")
    return m


@contextlib.contextmanager
def tenant_scope(municipality):
    token = _current.set(municipality)
    try:
        yield municipality
    finally:
        _current.reset(token)


@contextlib.contextmanager
def cross_tenant(reason: str):
    """Explicit, cross-tenant access for system code (operator statistics, audit verification, migrations,
    benchmarks, demo seeding, whole-platform export, API key look-up). On PostgreSQL it sets `jichitai.scope` to
    'all', the only way past the row-level security policies; use it only in the allow-listed modules
    (tests/test_db_guard.py). The reason says why, for readers and for a debugger."""
    if not reason:
        raise ValueError("cross_tenant() needs a reason")
    token = _cross.set(reason)
    try:
        yield
    finally:
        _cross.reset(token)


def cross_tenant_reason():
    return _cross.get()


def in_scope_of_first_argument(fn):
    """For writers whose first argument names the municipality a row is written for (the audit append: a sign-in
    is audited on the user's chain before the request has a scope): that municipality is in scope while it runs."""
    import functools

    @functools.wraps(fn)
    def inner(municipality, *args, **kwargs):
        cur = _current.get()
        if getattr(cur, "pk", None) == getattr(municipality, "pk", None):
            return fn(municipality, *args, **kwargs)
        with tenant_scope(municipality):
            return fn(municipality, *args, **kwargs)

    return inner


def set_request_tenant(municipality):
    return _current.set(municipality)


def reset_request_tenant(token):
    _current.reset(token)


class TenantQuerySet(models.QuerySet):
    pass


class AppendOnlyError(RuntimeError):
    """An append-only row (history, audit) was about to be changed or deleted."""


class AppendOnlyQuerySet(TenantQuerySet):
    """For append-only tables: bulk update() and delete() are refused like a single row's save() and delete()."""

    def update(self, **kwargs):
        raise AppendOnlyError("append-only rows are never updated / 追記専用の記録は変更できません")

    def delete(self):
        raise AppendOnlyError("append-only rows are never deleted / 追記専用の記録は削除できません")



class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    def get_queryset(self):
        m = require_municipality()
        return super().get_queryset().filter(municipality_id=m.pk)

    def create(self, **kwargs):
        m = require_municipality()
        given = kwargs.get("municipality") or kwargs.get("municipality_id")
        if given is not None and getattr(given, "pk", given) != m.pk:
            raise TenantScopeError("cannot create a row for another municipality")
        kwargs.pop("municipality_id", None)
        kwargs["municipality"] = m
        return super().get_queryset().create(**kwargs)


class AppendOnlyTenantManager(TenantManager.from_queryset(AppendOnlyQuerySet)):
    pass


class TenantModel(models.Model):
    """Base for every tenant-owned row: it carries its municipality and is reachable only through scoped managers."""

    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")

    objects = TenantManager()
    all_tenants = models.Manager()  # explicit, cross-tenant: system code only

    class Meta:
        abstract = True
        base_manager_name = "all_tenants"

    def save(self, *args, **kwargs):
        m = require_municipality()
        if self.municipality_id is None:
            self.municipality = m
        elif self.municipality_id != m.pk:
            raise TenantScopeError("cannot save a row of another municipality")
        super().save(*args, **kwargs)
