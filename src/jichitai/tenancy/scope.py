"""Tenant isolation, enforced in one place.

The municipality of the current request (or of an explicit `tenant_scope(...)` block) lives in a context variable.
Every tenant-owned model uses `TenantManager` as its default manager: its querysets are filtered to the current
municipality, and with no municipality set they raise `TenantScopeError` instead of returning everyone's rows.
System code that must cross tenants (platform operator statistics, audit verification, benchmarks) says so
explicitly with `Model.all_tenants`, which is never used by views.
"""
import contextlib
import contextvars

from django.db import models

_current = contextvars.ContextVar("jichitai_municipality", default=None)


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
