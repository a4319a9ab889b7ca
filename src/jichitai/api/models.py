"""The change feed for other business systems (税・国保・福祉 …): API clients and the feed's commit-order sequence.

`ApiClient` is one subscribing system of one municipality, holding a key (only its prefix and the SHA-256 of its
secret are stored) and the field scopes it may receive.

`FeedEntry` gives each `PersonHistory` row its position in the feed (`seq`, the cursor). Positions are assigned
*when the feed first sees the row* (under a per-municipality lock, `FeedHead`), not from the history row's id:
a transaction that commits later can hold a smaller autoincrement id than rows already served, but it can never
be given a smaller position than one already served, because it is only sequenced once it is committed and
visible, after everything sequenced before. See docs/api.md, "Cursor".
"""
from django.conf import settings
from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class ApiClient(TenantModel):
    """A subscribing system (国保, 税, 福祉 …) of one municipality. Tenant-scoped; the key is looked up by its prefix
    before the municipality is known, in `api.auth` (a `cross_tenant` block); the municipality then comes from the
    client."""

    municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.PROTECT, related_name="+",
                                     verbose_name="自治体")
    system_name = models.CharField("連携先システム", max_length=40)
    key_prefix = models.CharField("キー識別子", max_length=16, unique=True)
    key_hash = models.CharField("キーのハッシュ(SHA-256)", max_length=64)
    scopes = models.JSONField("提供項目（スコープ）", default=list)
    is_active = models.BooleanField("有効", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="作成者")
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    last_used_at = models.DateTimeField("最終利用日時", null=True, blank=True)
    revoked_at = models.DateTimeField("失効日時", null=True, blank=True)

    class Meta:
        verbose_name = "API連携先"
        ordering = ["municipality", "system_name", "key_prefix"]

    def __str__(self):
        return f"{self.system_name} ({self.key_prefix})"


class FeedHead(TenantModel):
    """Per municipality: the last feed position given. Locked while new history rows are sequenced."""

    municipality = models.OneToOneField("tenancy.Municipality", on_delete=models.PROTECT, related_name="+")
    last_seq = models.BigIntegerField(default=0)
    # every history row with id <= scanned_id has a position, and none can still appear (feed.sequence_new_rows)
    scanned_id = models.BigIntegerField(default=0)
    # PostgreSQL: the highest id seen by an earlier call, and the snapshot's xmax then; it becomes scanned_id once
    # every transaction that was running at that time has ended
    candidate_id = models.BigIntegerField(default=0)
    candidate_xmax = models.BigIntegerField(default=0)


class FeedEntry(TenantModel):
    """The feed position of one history row. Append-only."""

    seq = models.BigIntegerField("フィード位置")
    history = models.OneToOneField("residents.PersonHistory", on_delete=models.PROTECT, related_name="feed_entry")

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "seq"], name="api_feed_seq_unique")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("feed positions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("feed positions are append-only")
