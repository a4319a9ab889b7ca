"""The offline kit (オフラインキット): kits issued, the outbox written offline, and what syncing back did.

Platform side: `OfflineKit` (one per kit built: device, reserved certificate number block, audit segment, the key
that decrypts its sync files), `SyncedEvent` (every outbox event applied, by its unique id — what makes a sync
idempotent and resumable), `SyncConflict` (events a person must decide), `OfflineIntake` (届出 received offline,
queued for a clerk to enter).
Kit side: `OutboxEvent` (every change made offline: unique id, device id, local time), `KitState` (the kit's own
facts: device, block, current audit segment). Both sides have every table (one schema); a table is simply empty
where it does not apply.
"""
from django.db import models

from jichitai.tenancy.scope import TenantModel

from .append_only import AppendOnlyRecord


INTAKE_KINDS = [("move_in", "転入"), ("move_out", "転出"), ("move_within", "転居"), ("household", "世帯変更"),
                ("other", "その他")]


class OfflineKit(TenantModel):
    device = models.CharField("端末ID", max_length=64)
    label = models.CharField("用途（設置場所）", max_length=100, blank=True)
    built_at = models.DateTimeField("作成日時")
    built_by = models.CharField("作成者", max_length=150)
    block_start = models.PositiveIntegerField("予約した証明書番号（開始）")
    block_end = models.PositiveIntegerField("予約した証明書番号（終了）")
    segment_key = models.CharField("監査ログのオフライン区間", max_length=40)
    sync_key = models.CharField(max_length=64)  # AES-256-GCM key (hex) of the kit's sync files
    kit_sha256 = models.CharField(max_length=64, blank=True)
    residents = models.PositiveIntegerField("収録した住民", default=0)
    last_synced_at = models.DateTimeField("最終同期", null=True, blank=True)
    revoked_at = models.DateTimeField("失効", null=True, blank=True)
    revoked_by = models.CharField("失効させた職員", max_length=150, blank=True)
    revoke_reason = models.CharField("失効の理由", max_length=200, blank=True)
    # the reserved certificate numbers no certificate in the 交付簿 carries when the kit was revoked: void (欠番),
    # as [[first, last], …] — a certificate printed on the lost laptop with one of them is not a valid one
    void_ranges = models.JSONField("欠番にした証明書番号", default=list, blank=True)

    @property
    def state(self) -> str:
        return "revoked" if self.revoked_at else "active"

    @property
    def state_label(self) -> str:
        return "失効" if self.revoked_at else "有効"

    @property
    def void_count(self) -> int:
        return sum(b - a + 1 for a, b in self.void_ranges or [])

    class Meta:
        verbose_name = "オフラインキット"
        ordering = ["-built_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "device"], name="offline_device_unique")]


class OutboxEvent(AppendOnlyRecord):
    """A change made offline, in the order it was made (kit side)."""
    uuid = models.CharField(max_length=36, unique=True)
    seq = models.PositiveIntegerField()
    device = models.CharField(max_length=64)
    local_time = models.DateTimeField()
    kind = models.CharField(max_length=40)
    actor = models.CharField(max_length=150)
    payload = models.JSONField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["municipality", "seq"], name="outbox_seq_unique")]


class SyncedEvent(AppendOnlyRecord):
    """An outbox event that reached the platform, and what became of it (platform side)."""
    uuid = models.CharField(max_length=36)
    kit = models.ForeignKey(OfflineKit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40)
    result = models.CharField(max_length=10, choices=[("applied", "反映"), ("queued", "受付待ち"),
                                                      ("conflict", "要判断")])
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "uuid"], name="synced_uuid_unique")]


class SyncConflict(TenantModel):
    uuid = models.CharField(max_length=36)
    kit = models.ForeignKey(OfflineKit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("種類", max_length=40)
    payload = models.JSONField()
    reason = models.CharField("理由", max_length=300)
    created_at = models.DateTimeField()
    status = models.CharField("状態", max_length=10, default="open",
                              choices=[("open", "要判断"), ("accepted", "反映した"), ("discarded", "破棄した")])
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField("判断の理由", max_length=200, blank=True)

    class Meta:
        verbose_name = "同期の競合"
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "uuid"], name="conflict_uuid_unique")]


class OfflineIntake(TenantModel):
    """A 届出 received offline (受付のみ): queued for a clerk to enter once the register is reachable."""
    uuid = models.CharField(max_length=36)
    kit = models.ForeignKey(OfflineKit, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField("受付日時（端末）")
    received_by = models.CharField("受付者", max_length=150)
    kind = models.CharField("届出の種類", max_length=20, choices=INTAKE_KINDS)
    atena_no = models.CharField("宛名番号", max_length=20, blank=True)
    notifier = models.CharField("届出人", max_length=100)
    memo = models.TextField("内容")
    status = models.CharField("状態", max_length=10, default="pending",
                              choices=[("pending", "未処理"), ("done", "処理済み")])
    done_by = models.CharField(max_length=150, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "オフライン受付"
        ordering = ["received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "uuid"], name="intake_uuid_unique")]


class KitState(TenantModel):
    """Kit side: one row, written when the kit is built and when a sync file is exported."""
    device = models.CharField(max_length=64)
    kit_id = models.PositiveIntegerField()  # the OfflineKit id on the platform
    block_start = models.PositiveIntegerField()
    block_end = models.PositiveIntegerField()
    segment_key = models.CharField(max_length=40)
    built_at = models.DateTimeField()
    exported_at = models.DateTimeField(null=True, blank=True)
