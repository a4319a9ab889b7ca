"""Append-only, hash-chained audit log: one chain per municipality, and one for the platform itself."""
from django.db import models

from jichitai.tenancy.scope import AppendOnlyError, AppendOnlyQuerySet, TenantModel, require_municipality

__all__ = ["AppendOnlyError", "AuditChain", "AuditEvent", "Terminal"]

# Hash versions (AuditEvent.hash_version): NULL/1 = SHA-256 over the entry including database ids (rows written
# before version 2; verified as they are, never rewritten); 2 = HMAC-SHA256 with a key outside the database over
# natural keys only (docs/architecture.md, "Audit").
HASH_V1 = 1
HASH_V2 = 2


class AuditChain(models.Model):
    """The head of one chain (its last sequence number and hash); locked while an entry is appended."""

    key = models.CharField(max_length=16, unique=True)  # municipality code, or "platform"
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    # the hash version of the last entry (NULL: a head written before version 2 existed). The first version-2
    # entry of a chain is checkpointed at once, so that a chain cannot be downgraded to unkeyed version-1 hashes.
    hash_version = models.SmallIntegerField(null=True)


class ScopedAuditManager(models.Manager.from_queryset(AppendOnlyQuerySet)):
    def get_queryset(self):
        m = require_municipality()
        return super().get_queryset().filter(municipality_id=m.pk)


class AuditEvent(models.Model):
    chain_key = models.CharField(max_length=16)
    seq = models.BigIntegerField()
    municipality = models.ForeignKey(
        "tenancy.Municipality", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField("日時")
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField("操作者", max_length=150, blank=True)
    actor_role = models.CharField("役割", max_length=16, blank=True)
    action = models.CharField("操作", max_length=40)
    object_type = models.CharField("対象種別", max_length=40, blank=True)
    object_id = models.CharField("対象", max_length=64, blank=True)
    terminal = models.CharField("端末", max_length=120, blank=True)
    detail = models.TextField("内容", blank=True)  # canonical JSON, stored as text so it reads back byte-identical
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    # NULL = version 1 (see HASH_V1). Nullable without a default, so adding them is a plain ADD COLUMN on both
    # engines (no table rebuild, which on SQLite would drop the append-only triggers).
    hash_version = models.SmallIntegerField(null=True)
    key_id = models.CharField(max_length=32, null=True, blank=True)  # the HMAC key's id (version 2)

    objects = ScopedAuditManager()
    all_chains = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_key", "seq"], name="audit_chain_seq_unique")]
        indexes = [
            models.Index(fields=["municipality", "-seq"], name="audit_muni_seq"),
            models.Index(fields=["municipality", "action", "-seq"], name="audit_muni_action"),
            models.Index(fields=["municipality", "object_type", "object_id"], name="audit_muni_object"),
        ]
        base_manager_name = "all_chains"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries are never deleted")


class Terminal(TenantModel):
    """A registered terminal (端末) of one municipality. A request's X-Terminal-Id header is recorded as the terminal
    of its audit entries and history rows only if it names an active terminal of the municipality; it is recorded,
    never trusted for anything (no permission depends on it)."""

    terminal_id = models.CharField("端末ID", max_length=40)
    name = models.CharField("端末名", max_length=100)
    is_active = models.BooleanField("有効", default=True)
    created_at = models.DateTimeField("登録日時", auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "terminal_id"], name="audit_terminal_unique")]

    def __str__(self):
        return f"{self.terminal_id}（{self.name}）"
