"""The continuity app's base for append-only tenant rows (plan revisions, drill steps, outbox and synced events): the
append-only queryset (the database's triggers refuse UPDATE and DELETE, jichitai.guard) and the same refusal in
Python for a single row."""
from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class AppendOnlyRecord(TenantModel):
    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("追記専用の記録は変更できません / append-only rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("追記専用の記録は削除できません / append-only rows are never deleted")
