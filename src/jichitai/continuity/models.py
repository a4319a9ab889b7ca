"""What the backup commands did: one row per backup file written, updated when it is verified or pruned.

Not a tenant model: a full backup covers every municipality, so the row names what it covers by `scope_code`
("" = every municipality, else one municipality's code) rather than by a municipality column. It holds no personal
data (file name, sizes, per-table row counts and digests). Written only by `continuity.actions`, read for one
municipality only through `continuity.queries`."""
from django.db import models


class BackupRecord(models.Model):
    FULL = ""

    file_name = models.CharField("ファイル", max_length=255)
    path = models.CharField("保存先", max_length=1024)
    scope_code = models.CharField("対象", max_length=16, blank=True, db_index=True)  # "" = 全団体
    engine = models.CharField("データベース", max_length=16)
    created_at = models.DateTimeField("取得日時")
    size_bytes = models.BigIntegerField("サイズ")
    file_sha256 = models.CharField(max_length=64)
    key_id = models.CharField("暗号鍵ID", max_length=32)
    tables = models.PositiveIntegerField("テーブル数")
    rows = models.BigIntegerField("行数")
    chains = models.PositiveIntegerField("監査ログの連鎖", default=0)
    # per municipality code: rows of its residents (shown to that municipality's admin)
    residents_by_code = models.JSONField(default=dict)
    seconds = models.FloatField("所要時間（秒）", default=0)
    verified_at = models.DateTimeField("検証日時", null=True, blank=True)
    verify_ok = models.BooleanField("検証結果", null=True)
    verify_detail = models.TextField("検証の内容", blank=True)
    verify_seconds = models.FloatField(default=0)
    pruned_at = models.DateTimeField("削除日時", null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["scope_code", "-created_at"], name="backup_scope_created")]

    @property
    def scope_label(self):
        return "全団体" if not self.scope_code else f"団体 {self.scope_code}"


class FailoverDrill(models.Model):
    """One failover drill (`jichitai continuity failover-drill`): what the BCP plan (issue 13, item 4) quotes as
    measured RTO and RPO. Platform-level, no personal data."""

    started_at = models.DateTimeField("実施日時")
    old_primary = models.CharField(max_length=32)
    new_primary = models.CharField(max_length=32)
    rto_seconds = models.FloatField("RTO（秒）")
    rpo_events = models.IntegerField("RPO（失われた確定済みの記録）")
    committed = models.IntegerField("確定した書き込み")
    chain_ok = models.BooleanField("監査ログの検証")
    detail = models.JSONField(default=dict)


from .bcp_models import BcpPlanRevision, Drill, DrillScenario, DrillStepEvent  # noqa: F401
from .offline_models import (KitState, OfflineIntake, OfflineKit, OutboxEvent, SyncConflict,  # noqa: F401
                             SyncedEvent)
