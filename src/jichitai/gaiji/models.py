"""Per-municipality 外字 registry: a legacy vendor's private code → an MJ character, with status, evidence, the
reviewer and an append-only history.

Legacy systems keep 外字 in the Shift_JIS user-defined area (F040–F9FC), which Python's cp932 decodes to
U+E000–U+E757; the same code means different characters in different municipalities and vendors, so a mapping
always belongs to one municipality (and names its vendor).
"""
from django.conf import settings
from django.db import models

from jichitai.tenancy.scope import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantModel


class Status(models.TextChoices):
    PROPOSED = "proposed", "確認待ち"
    APPROVED = "approved", "承認済み"
    UNMAPPABLE = "unmappable", "対応なし"


class Evidence(models.TextChoices):
    JUKI = "juki", "住基ネット統一文字コード一致"
    KOSEKI = "koseki", "戸籍統一文字番号一致"
    MANUAL = "manual", "目視確認（ベンダーの字形画像とMJ字形を比較）"
    MANUAL_NO_GLYPH = "manual_ng", "手動承認（ベンダーの字形画像なし・字形は比較していません）"
    VENDOR_TABLE = "mj_table", "ベンダー対応表のMJ図形名とUCS（IVS含む）がMJ文字情報一覧表と一致（字形は比較していません）"
    NONE = "", "—"


# Evidence that comes from a code table: the only kinds that may be approved automatically.
CODE_TABLE_EVIDENCE = {Evidence.JUKI, Evidence.KOSEKI, Evidence.VENDOR_TABLE}


class GaijiMapping(TenantModel):
    pua_char = models.CharField("私用領域の文字", max_length=1, help_text="U+E000–U+F8FF")
    sjis_code = models.CharField("Shift_JISコード", max_length=4, blank=True, help_text="F040–F9FC")
    vendor = models.CharField("ベンダー・システム", max_length=60, blank=True)
    glyph_png = models.BinaryField("ベンダーの字形画像", null=True, blank=True)
    vendor_juki_code = models.CharField("ベンダー提示の住基ネット統一文字コード", max_length=10, blank=True)
    vendor_koseki_no = models.CharField("ベンダー提示の戸籍統一文字番号", max_length=10, blank=True)
    vendor_note = models.CharField("ベンダーの説明", max_length=200, blank=True)

    mj_name = models.CharField("MJ文字図形名", max_length=10, blank=True)
    mapped_text = models.CharField("対応する文字（UCS+IVS）", max_length=8, blank=True)
    status = models.CharField("状態", max_length=12, choices=Status.choices, default=Status.PROPOSED)
    evidence = models.CharField("根拠", max_length=10, choices=Evidence.choices, blank=True, default="")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name="確認者")
    reviewed_at = models.DateTimeField("確認日時", null=True, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name="登録者（提案者）")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = "外字対応"
        # one mapping per legacy code per municipality: a second proposal for the same code is refused
        constraints = [models.UniqueConstraint(fields=["municipality", "pua_char"], name="gaiji_one_per_code")]

    @property
    def pua_hex(self):
        return f"U+{ord(self.pua_char):04X}"


class GaijiMappingEvent(TenantModel):
    """Append-only history of a mapping: every proposal, approval, rejection, with who and when."""

    mapping = models.ForeignKey(GaijiMapping, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    snapshot = models.JSONField()
    note = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyTenantManager()
    all_tenants = models.Manager.from_queryset(AppendOnlyQuerySet)()

    ACTION_LABELS = {"registered": "登録", "auto_approved": "自動承認（コード表一致）", "approved": "承認（手動）",
                     "table_imported": "外字対応表から登録",
                     "unmappable": "対応なし", "reopened": "差し戻し", "conflict": "コード表が不一致"}

    class Meta:
        ordering = ["at", "id"]

    @property
    def action_label(self):
        return self.ACTION_LABELS.get(self.action, self.action)

    @property
    def status_label(self):
        value = self.snapshot.get("status", "")
        return Status(value).label if value in Status.values else value

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("外字対応の履歴は変更できません")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("外字対応の履歴は削除できません")
