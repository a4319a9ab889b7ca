"""The ICT-BCP plan and its drills (業務継続計画・訓練).

A plan is kept as revisions (append-only: 維持・管理 means every change is kept, who made it and when); the current
plan is the newest revision. Drills are timed: each step's start and completion is an append-only event, so the
measured times cannot be edited afterwards; the drill row holds its state and the figures measured (RTO, RPO).
"""
from django.db import models

from jichitai.tenancy.scope import TenantModel

from .append_only import AppendOnlyRecord


class BcpPlanRevision(AppendOnlyRecord):
    revision = models.PositiveIntegerField("版")
    answers = models.JSONField("記載内容")  # {item key: text}; an item not in it shows the platform's pre-filled text
    note = models.CharField("改訂の理由", max_length=200, blank=True)
    created_by = models.CharField("改訂者", max_length=150)
    created_at = models.DateTimeField("改訂日時", auto_now_add=True)

    class Meta:
        verbose_name = "ICT-BCP（版）"
        ordering = ["-revision"]
        constraints = [models.UniqueConstraint(fields=["municipality", "revision"], name="bcp_revision_unique")]


class DrillScenario(models.TextChoices):
    NETWORK_CUT = "network_cut", "ネットワーク断（庁内・避難所でオフライン運用）"
    DATACENTER_DOWN = "datacenter_down", "データセンター停止（待機系への切替）"
    RESTORE = "restore", "バックアップからの復元"
    CALL_OUT = "call_out", "職員・事業者の参集・連絡"


class Drill(TenantModel):
    scenario = models.CharField("想定", max_length=20, choices=DrillScenario.choices)
    title = models.CharField("訓練名", max_length=100)
    planned_for = models.DateField("実施予定日")
    started_at = models.DateTimeField("開始", null=True, blank=True)
    finished_at = models.DateTimeField("終了", null=True, blank=True)
    conducted_by = models.CharField("実施責任者", max_length=150)
    result = models.CharField("結果", max_length=10, blank=True,
                              choices=[("passed", "目標達成"), ("partly", "一部未達"), ("failed", "未達")])
    findings = models.TextField("所見・改善事項", blank=True)
    rto_seconds = models.FloatField("計測した復旧時間（秒）", null=True, blank=True)
    rpo_changes = models.IntegerField("失われた確定済みの更新（件）", null=True, blank=True)
    automated = models.BooleanField("自動計測（切替訓練コマンド）", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ICT-BCP 訓練"
        ordering = ["-planned_for", "-id"]

    @property
    def state(self) -> str:
        if self.finished_at:
            return "finished"
        return "running" if self.started_at else "planned"


class DrillStepEvent(AppendOnlyRecord):
    drill = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="events")
    step_no = models.PositiveSmallIntegerField("手順")
    event = models.CharField(max_length=8, choices=[("start", "開始"), ("done", "完了"), ("skip", "省略")])
    at = models.DateTimeField("時刻")
    by = models.CharField("記録者", max_length=150)
    note = models.CharField("メモ", max_length=200, blank=True)

    class Meta:
        verbose_name = "ICT-BCP 訓練の記録"
        ordering = ["at", "id"]
