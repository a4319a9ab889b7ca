"""The municipality's privacy settings read by the read policy (jichitai.privacy.policy)."""
from django.db import models

from jichitai.tenancy.scope import TenantModel


class PrivacySetting(TenantModel):
    """One row per municipality (absent: the standard values). Written only by privacy.actions."""

    protect_household_members = models.BooleanField(
        "支援措置対象者の同一世帯員の住所も保護する", default=False,
        help_text="有効にすると、DV等支援措置の対象者と同じ世帯の住民の住所も、権限のない職員・外部システム・"
                  "出力から除かれます（標準: 無効）。")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "個人情報保護の設定"
        constraints = [models.UniqueConstraint(fields=["municipality"], name="privacy_setting_unique")]
